"""Puppet type expressions, as task metadata writes parameter types: parsed with a real grammar
(lark, LALR) into small frozen type objects that check JSON values.

Covers what the task specification uses: `String`, `Integer`, `Float`, `Numeric` with bounds,
`Boolean`, `Enum`, `Pattern`, `Optional`, `Variant`, `Array`, `Hash`, `Struct`, `Tuple`, `Data`,
`Any`, `Undef`, `NotUndef`, plus `Scalar`, `ScalarData` and `TargetSpec`. A name it does not
know (a module's type alias such as `Stdlib::Absolutepath`) is a `TypeSyntaxError`, as it is for
Bolt without that module. Every failure, whatever the input, is a `TypeSyntaxError`.

`parser` owns the grammar, `build` the constructors that check a type's arguments, `model` the
type objects, and `text` how types and values read in messages. Pure: no I/O.
"""

from podium.tasks.types.build import TypeSyntaxError
from podium.tasks.types.model import PType
from podium.tasks.types.parser import parse_type
from podium.tasks.types.text import describe, kind_of

__all__ = ["PType", "TypeSyntaxError", "describe", "kind_of", "parse_type"]
