"""Puppet type expressions, as task metadata writes parameter types: parsed with a real grammar
(lark, LALR) into small frozen type objects that check JSON values.

Covers what the task specification uses: `String`, `Integer`, `Float`, `Numeric` with bounds,
`Boolean`, `Enum`, `Pattern`, `Optional`, `Variant`, `Array`, `Hash`, `Struct`, `Tuple`, `Data`,
`Any`, `Undef`, `NotUndef`, plus `Scalar`, `ScalarData` and `TargetSpec`. A name it does not
know (a module's type alias such as `Stdlib::Absolutepath`) is a `TypeSyntaxError`, as it is for
Bolt without that module. Every failure, whatever the input, is a `TypeSyntaxError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedToken,
    VisitError,
)

Json = Any
MAX_DEPTH: Final = 32  # brackets nested deeper than this are refused before parsing
MAX_LENGTH: Final = 10_000

_GRAMMAR: Final = r"""
    ?start: type

    type: TYPE_NAME ("[" [args] "]")?
    args: arg ("," arg)* ","?
    ?arg: type
        | NUMBER -> number
        | STRING -> string
        | BAREWORD -> bareword
        | REGEX -> regex
        | "default" -> default
        | "true" -> true
        | "false" -> false
        | hash
    hash: "{" [pair ("," pair)* ","?] "}"
    pair: arg "=>" arg

    TYPE_NAME: /(::)?[A-Z]\w*(::[A-Z]\w*)*/
    BAREWORD: /(::)?[a-z_]\w*(::[a-z_]\w*)*/
    NUMBER: /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/
    STRING: /'(\\.|[^'\\])*'/ | /"(\\.|[^"\\])*"/
    REGEX: /\/(\\.|[^\/\\\n])*\//

    %import common.WS
    %ignore WS
"""


class TypeSyntaxError(ValueError):
    """Raised for a type expression that does not parse, names an unknown type, or gives a
    known type arguments it cannot take."""


class PType:
    """A Puppet type: `accepts` says whether a JSON value is an instance of it."""

    def accepts(self, value: Json) -> bool:
        raise NotImplementedError

    def mismatch(self, value: Json, where: str) -> str | None:
        """None when the value fits, else why not, naming the deepest place that is wrong."""
        if self.accepts(value):
            return None
        return f"{where} expects {self}, got {describe(value)}"


def describe(value: Json) -> str:
    """A value's Puppet type name, as Puppet's mismatch messages give it."""
    if value is None:
        return "Undef"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return f"Integer[{value}, {value}]"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"String {_quote(shown)}"
    if isinstance(value, list):
        return "Array"
    return "Hash" if isinstance(value, dict) else type(value).__name__


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _number_text(number: float) -> str:
    """An integer exactly (`10000000`, not `1e+07`), a float as Python reads it back."""
    return str(number) if isinstance(number, int) else repr(number)


def _bounds(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return ""
    shown = ["default" if bound is None else _number_text(bound) for bound in (low, high)]
    if high is None:
        shown = shown[:1]
    return f"[{', '.join(shown)}]"


def _within(number: float, low: float | None, high: float | None) -> bool:
    return (low is None or number >= low) and (high is None or number <= high)


@dataclass(frozen=True, slots=True)
class AnyType(PType):
    def accepts(self, value: Json) -> bool:
        return True

    def __str__(self) -> str:
        return "Any"


@dataclass(frozen=True, slots=True)
class DataType(PType):
    """Every JSON value is Data (object keys are always strings)."""

    def accepts(self, value: Json) -> bool:
        return value is None or isinstance(value, bool | int | float | str | list | dict)

    def __str__(self) -> str:
        return "Data"


@dataclass(frozen=True, slots=True)
class UndefType(PType):
    def accepts(self, value: Json) -> bool:
        return value is None

    def __str__(self) -> str:
        return "Undef"


@dataclass(frozen=True, slots=True)
class BooleanType(PType):
    def accepts(self, value: Json) -> bool:
        return isinstance(value, bool)

    def __str__(self) -> str:
        return "Boolean"


@dataclass(frozen=True, slots=True)
class ScalarType(PType):
    def accepts(self, value: Json) -> bool:
        return isinstance(value, bool | int | float | str)

    def __str__(self) -> str:
        return "Scalar"


@dataclass(frozen=True, slots=True)
class StringType(PType):
    min_length: int | None = None
    max_length: int | None = None

    def accepts(self, value: Json) -> bool:
        return isinstance(value, str) and _within(len(value), self.min_length, self.max_length)

    def __str__(self) -> str:
        return f"String{_bounds(self.min_length, self.max_length)}"


@dataclass(frozen=True, slots=True)
class NumberType(PType):
    """`Integer`, `Float` or `Numeric` (`name`), with optional bounds. Booleans are not numbers,
    and an Integer is not a Float, as in Puppet."""

    name: str
    low: float | None = None
    high: float | None = None

    def accepts(self, value: Json) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.name == "Integer" and not isinstance(value, int):
            return False
        if self.name == "Float" and not isinstance(value, float):
            return False
        return _within(value, self.low, self.high)

    def __str__(self) -> str:
        return f"{self.name}{_bounds(self.low, self.high)}"


@dataclass(frozen=True, slots=True)
class EnumType(PType):
    values: tuple[str, ...]
    case_insensitive: bool = False

    def accepts(self, value: Json) -> bool:
        if not isinstance(value, str):
            return False
        if not self.values:
            return True
        if self.case_insensitive:
            return value.casefold() in {v.casefold() for v in self.values}
        return value in self.values

    def __str__(self) -> str:
        if not self.values:
            return "Enum"
        flag = ", true" if self.case_insensitive else ""
        return f"Enum[{', '.join(_quote(v) for v in self.values)}{flag}]"


@dataclass(frozen=True, slots=True)
class PatternType(PType):
    """A string that any of the regexes matches somewhere (Puppet's `=~`, not a full match)."""

    patterns: tuple[str, ...]

    def accepts(self, value: Json) -> bool:
        if not isinstance(value, str):
            return False
        return not self.patterns or any(re.search(p, value) for p in self.patterns)

    def __str__(self) -> str:
        if not self.patterns:
            return "Pattern"
        shown = ("/" + p.replace("/", "\\/") + "/" for p in self.patterns)
        return f"Pattern[{', '.join(shown)}]"


@dataclass(frozen=True, slots=True)
class OptionalType(PType):
    inner: PType

    def accepts(self, value: Json) -> bool:
        return value is None or self.inner.accepts(value)

    def mismatch(self, value: Json, where: str) -> str | None:
        return None if value is None else self.inner.mismatch(value, where)

    def __str__(self) -> str:
        return f"Optional[{self.inner}]"


@dataclass(frozen=True, slots=True)
class NotUndefType(PType):
    inner: PType = AnyType()

    def accepts(self, value: Json) -> bool:
        return value is not None and self.inner.accepts(value)

    def __str__(self) -> str:
        return "NotUndef" if isinstance(self.inner, AnyType) else f"NotUndef[{self.inner}]"


@dataclass(frozen=True, slots=True)
class VariantType(PType):
    alternatives: tuple[PType, ...]

    def accepts(self, value: Json) -> bool:
        return any(alternative.accepts(value) for alternative in self.alternatives)

    def __str__(self) -> str:
        return f"Variant[{', '.join(str(a) for a in self.alternatives)}]"


@dataclass(frozen=True, slots=True)
class ArrayType(PType):
    element: PType = AnyType()
    min_size: int | None = None
    max_size: int | None = None

    def accepts(self, value: Json) -> bool:
        return self.mismatch(value, "") is None

    def mismatch(self, value: Json, where: str) -> str | None:
        if not isinstance(value, list) or not _within(len(value), self.min_size, self.max_size):
            return f"{where} expects {self}, got {_sized(value)}"
        for index, element in enumerate(value):
            problem = self.element.mismatch(element, f"{where}[{index}]")
            if problem:
                return problem
        return None

    def __str__(self) -> str:
        if isinstance(self.element, AnyType) and self.min_size is None:
            return "Array"
        return f"Array[{self.element}{_size_args(self.min_size, self.max_size)}]"


@dataclass(frozen=True, slots=True)
class HashType(PType):
    key: PType = AnyType()
    value: PType = AnyType()
    min_size: int | None = None
    max_size: int | None = None

    def accepts(self, value: Json) -> bool:
        return self.mismatch(value, "") is None

    def mismatch(self, value: Json, where: str) -> str | None:
        if not isinstance(value, dict) or not _within(len(value), self.min_size, self.max_size):
            return f"{where} expects {self}, got {_sized(value)}"
        for key, entry in value.items():
            problem = self.key.mismatch(key, f"{where} key {_quote(str(key))}")
            problem = problem or self.value.mismatch(entry, f"{where}[{_quote(str(key))}]")
            if problem:
                return problem
        return None

    def __str__(self) -> str:
        if isinstance(self.key, AnyType) and isinstance(self.value, AnyType):
            return "Hash" + _bounds(self.min_size, self.max_size)
        return f"Hash[{self.key}, {self.value}{_size_args(self.min_size, self.max_size)}]"


@dataclass(frozen=True, slots=True)
class StructField:
    name: str
    type: PType
    required: bool  # `Optional['k']` keys and Undef-accepting values may be left out


@dataclass(frozen=True, slots=True)
class StructType(PType):
    fields: tuple[StructField, ...]

    def accepts(self, value: Json) -> bool:
        return self.mismatch(value, "") is None

    def mismatch(self, value: Json, where: str) -> str | None:
        if not isinstance(value, dict):
            return f"{where} expects {self}, got {describe(value)}"
        known = {field.name for field in self.fields}
        extra = sorted(str(key) for key in value if key not in known)
        if extra:
            return f"{where} has unrecognized key {_quote(extra[0])} (expects {self})"
        for field in self.fields:
            if field.name not in value:
                if field.required:
                    return f"{where} expects a value for key {_quote(field.name)}"
                continue
            problem = field.type.mismatch(value[field.name], f"{where}[{_quote(field.name)}]")
            if problem:
                return problem
        return None

    def __str__(self) -> str:
        shown = []
        for field in self.fields:
            key = _quote(field.name)
            if field.required == field.type.accepts(None):  # not what a plain key would mean
                key = f"NotUndef[{key}]" if field.required else f"Optional[{key}]"
            shown.append(f"{key} => {field.type}")
        return "Struct[{" + ", ".join(shown) + "}]"


@dataclass(frozen=True, slots=True)
class TupleType(PType):
    """Elements by position; past the listed types, the last type repeats up to `max_size`."""

    types: tuple[PType, ...]
    min_size: int
    max_size: int | None

    def accepts(self, value: Json) -> bool:
        return self.mismatch(value, "") is None

    def mismatch(self, value: Json, where: str) -> str | None:
        if not isinstance(value, list) or not _within(len(value), self.min_size, self.max_size):
            return f"{where} expects {self}, got {_sized(value)}"
        if not self.types:
            return None
        for index, element in enumerate(value):
            expected = self.types[min(index, len(self.types) - 1)]
            problem = expected.mismatch(element, f"{where}[{index}]")
            if problem:
                return problem
        return None

    def __str__(self) -> str:
        shown = [str(t) for t in self.types]
        if (self.min_size, self.max_size) != (len(self.types), len(self.types)):
            shown.append(str(self.min_size))
            shown.append("default" if self.max_size is None else str(self.max_size))
        return f"Tuple[{', '.join(shown)}]"


def _sized(value: Json) -> str:
    if isinstance(value, list | dict):
        return f"{describe(value)} with {len(value)} entries"
    return describe(value)


def _size_args(low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return ""
    shown = ["0" if low is None else str(low)]
    if high is not None:
        shown.append(str(high))
    return ", " + ", ".join(shown)


class _Default:
    """The `default` keyword as a type argument: an unbounded end of a range."""


@dataclass(frozen=True, slots=True)
class _Regex:
    source: str


@dataclass(frozen=True, slots=True)
class _Bare:
    """A bare word (`present` in `Enum[present, absent]`): Puppet reads it as a string."""

    text: str


Arg = PType | int | float | str | bool | _Regex | _Bare | _Default | list[tuple[Any, Any]]
DEFAULT: Final = _Default()
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "s": " ", "\\": "\\", "'": "'", '"': '"'}


def _unquote(token: str) -> str:
    body = token[1:-1]
    if token[0] == "'":  # single quotes: only \' and \\ are escapes
        return re.sub(r"\\([\\'])", r"\1", body)
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


@v_args(inline=True)
class _Build(Transformer[Token, PType]):
    def type(self, name: Token, args: list[Arg] | None = None) -> PType:
        return _construct(str(name), args)

    def args(self, *items: Arg) -> list[Arg]:
        return list(items)

    def number(self, token: Token) -> int | float:
        text = str(token)
        return float(text) if any(c in text for c in ".eE") else int(text)

    def string(self, token: Token) -> str:
        return _unquote(str(token))

    def bareword(self, token: Token) -> _Bare:
        return _Bare(str(token))

    def regex(self, token: Token) -> _Regex:
        return _Regex(str(token)[1:-1].replace("\\/", "/"))

    def default(self) -> _Default:
        return DEFAULT

    def true(self) -> bool:
        return True

    def false(self) -> bool:
        return False

    def hash(self, *pairs: tuple[Any, Any] | None) -> list[tuple[Any, Any]]:
        return [pair for pair in pairs if pair is not None]

    def pair(self, key: Arg, value: Arg) -> tuple[Arg, Arg]:
        return key, value


_PARSER: Final = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=True)


def parse_type(text: str) -> PType:
    """Raises TypeSyntaxError, and nothing else, for any string."""
    if len(text) > MAX_LENGTH:
        raise TypeSyntaxError(f"type expression longer than {MAX_LENGTH} characters")
    if _depth(text) > MAX_DEPTH:
        raise TypeSyntaxError(f"type expression nested deeper than {MAX_DEPTH} levels")
    try:
        tree = _PARSER.parse(text)
        return _Build().transform(tree)
    except VisitError as exc:
        cause = exc.orig_exc
        if isinstance(cause, TypeSyntaxError):
            raise TypeSyntaxError(f"{text!r}: {cause}") from cause
        raise TypeSyntaxError(f"{text!r}: {cause}") from exc
    except LarkError as exc:
        raise TypeSyntaxError(f"{text!r} is not a type expression: {_syntax(exc)}") from exc


def _depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _syntax(exc: LarkError) -> str:
    """Where the parse went wrong, without lark's token reprs."""
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        return "it ends too early"
    if isinstance(exc, UnexpectedToken):
        return f"unexpected {str(exc.token)!r} at column {exc.column}"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected {exc.char!r} at column {exc.column}"
    return type(exc).__name__


def _construct(name: str, args: list[Arg] | None) -> PType:
    name = name.removeprefix("::")
    build = _CONSTRUCTORS.get(name)
    if build is None:
        raise TypeSyntaxError(f"unknown type {name}")
    if args is None:
        args = []
    return build(name, args)


def _arity(name: str, args: list[Arg], most: int) -> None:
    if len(args) > most:
        raise TypeSyntaxError(f"{name} takes at most {most} arguments, not {len(args)}")


def _plain(make: Callable[[], PType]) -> Callable[[str, list[Arg]], PType]:
    def build(name: str, args: list[Arg]) -> PType:
        _arity(name, args, 0)
        return make()

    return build


def _integer(name: str, arg: Arg, *, allow_float: bool = False) -> float | None:
    if isinstance(arg, _Default):
        return None
    if isinstance(arg, bool) or not isinstance(arg, int | float):
        raise TypeSyntaxError(f"{name} bounds must be numbers or default, not {_shown(arg)}")
    if isinstance(arg, float) and not allow_float:
        raise TypeSyntaxError(f"{name} bounds must be integers, not {arg!r}")
    if isinstance(arg, float) and not math.isfinite(arg):
        raise TypeSyntaxError(f"{name} bounds must be finite numbers")
    return arg


def _range(name: str, args: list[Arg], *, allow_float: bool) -> tuple[float | None, float | None]:
    _arity(name, args, 2)
    low = _integer(name, args[0], allow_float=allow_float) if args else None
    high = _integer(name, args[1], allow_float=allow_float) if len(args) > 1 else None
    if low is not None and high is not None and low > high:
        raise TypeSyntaxError(
            f"{name} minimum {_number_text(low)} is larger than its maximum {_number_text(high)}"
        )
    return low, high


def _sizes(name: str, args: list[Arg]) -> tuple[int | None, int | None]:
    low, high = _range(name, args, allow_float=False)
    if (low is not None and low < 0) or (high is not None and high < 0):
        raise TypeSyntaxError(f"{name} sizes cannot be negative")
    return (None if low is None else int(low)), (None if high is None else int(high))


def _string(name: str, args: list[Arg]) -> PType:
    low, high = _sizes(name, args)
    return StringType(low, high)


def _number(name: str, args: list[Arg]) -> PType:
    low, high = _range(name, args, allow_float=name != "Integer")
    return NumberType(name, low, high)


def _type_arg(name: str, arg: Arg) -> PType:
    if isinstance(arg, PType):
        return arg
    if isinstance(arg, str | _Bare):  # `Optional['x']` is `Optional[Enum['x']]`, as in Puppet
        return EnumType((arg if isinstance(arg, str) else arg.text,))
    raise TypeSyntaxError(f"{name} takes types as arguments, not {_shown(arg)}")


def _shown(arg: Arg) -> str:
    if isinstance(arg, _Regex):
        return f"/{arg.source}/"
    if isinstance(arg, _Default):
        return "default"
    if isinstance(arg, _Bare):
        return arg.text
    return "a hash" if isinstance(arg, list) else repr(arg)


def _enum(name: str, args: list[Arg]) -> PType:
    case_insensitive = False
    if args and isinstance(args[-1], bool):
        case_insensitive = bool(args.pop())
    values = []
    for arg in args:
        if isinstance(arg, _Bare):
            values.append(arg.text)
        elif isinstance(arg, str):
            values.append(arg)
        else:
            raise TypeSyntaxError(f"Enum takes strings, not {_shown(arg)}")
    return EnumType(tuple(values), case_insensitive)


def _pattern(name: str, args: list[Arg]) -> PType:
    patterns = []
    for arg in args:
        if isinstance(arg, _Regex | str):
            source = arg.source if isinstance(arg, _Regex) else arg
        else:
            raise TypeSyntaxError(f"Pattern takes regexes or strings, not {_shown(arg)}")
        try:
            re.compile(source)
        except (re.error, OverflowError, RecursionError) as exc:
            raise TypeSyntaxError(f"Pattern /{source}/ is not a valid regex: {exc}") from exc
        patterns.append(source)
    return PatternType(tuple(patterns))


def _optional(name: str, args: list[Arg]) -> PType:
    _arity(name, args, 1)
    return OptionalType(_type_arg(name, args[0]) if args else AnyType())


def _not_undef(name: str, args: list[Arg]) -> PType:
    _arity(name, args, 1)
    return NotUndefType(_type_arg(name, args[0]) if args else AnyType())


def _variant(name: str, args: list[Arg]) -> PType:
    if not args:
        raise TypeSyntaxError("Variant needs at least one type")
    return VariantType(tuple(_type_arg(name, arg) for arg in args))


def _array(name: str, args: list[Arg]) -> PType:
    _arity(name, args, 3)
    if not args:
        return ArrayType()
    low, high = _sizes(name, args[1:])
    return ArrayType(_type_arg(name, args[0]), low, high)


def _hash(name: str, args: list[Arg]) -> PType:
    _arity(name, args, 4)
    if not args:
        return HashType()
    if all(isinstance(arg, int | _Default) and not isinstance(arg, bool) for arg in args):
        low, high = _sizes(name, args)  # `Hash[1, 5]`: sizes only
        return HashType(min_size=low, max_size=high)
    if len(args) == 1:
        raise TypeSyntaxError("Hash takes a key type and a value type, not one type")
    low, high = _sizes(name, args[2:])
    return HashType(_type_arg(name, args[0]), _type_arg(name, args[1]), low, high)


def _struct(name: str, args: list[Arg]) -> PType:
    if len(args) != 1 or not isinstance(args[0], list):
        raise TypeSyntaxError("Struct takes one hash: Struct[{key => Type, ...}]")
    fields = [_struct_field(key, value) for key, value in args[0]]
    names = [field.name for field in fields]
    if len(set(names)) != len(names):
        raise TypeSyntaxError("Struct keys must be unique")
    return StructType(tuple(fields))


def _struct_field(key: Arg, value: Arg) -> StructField:
    value_type = _type_arg("Struct", value)
    may_be_absent = value_type.accepts(None)
    wrapped = isinstance(key, OptionalType | NotUndefType) and isinstance(key.inner, EnumType)
    if wrapped and len(key.inner.values) == 1:  # type: ignore[union-attr]
        required = isinstance(key, NotUndefType)  # `Optional['k']`: the key may be left out
        return StructField(key.inner.values[0], value_type, required)  # type: ignore[union-attr]
    if isinstance(key, str | _Bare):
        return StructField(key if isinstance(key, str) else key.text, value_type, not may_be_absent)
    raise TypeSyntaxError(f"Struct keys must be strings, not {_shown(key)}")


def _tuple(name: str, args: list[Arg]) -> PType:
    types = []
    sizes: list[Arg] = []
    for arg in args:
        if isinstance(arg, int | _Default) and not isinstance(arg, bool):
            sizes.append(arg)
        elif sizes:
            raise TypeSyntaxError("Tuple sizes must come after its types")
        else:
            types.append(_type_arg(name, arg))
    if not sizes:
        return TupleType(tuple(types), len(types), len(types) if types else None)
    low, high = _sizes(name, sizes)  # one size is a minimum: the last type then repeats freely
    return TupleType(tuple(types), 0 if low is None else low, high)


def _target_spec() -> PType:
    return VariantType((StringType(), ArrayType(StringType())))


_CONSTRUCTORS: Final[dict[str, Callable[[str, list[Arg]], PType]]] = {
    "Any": _plain(AnyType),
    "Data": _plain(DataType),
    "RichData": _plain(DataType),
    "Undef": _plain(UndefType),
    "Boolean": _plain(BooleanType),
    "Scalar": _plain(ScalarType),
    "ScalarData": _plain(ScalarType),
    "TargetSpec": _plain(_target_spec),
    "String": _string,
    "Integer": _number,
    "Float": _number,
    "Numeric": _number,
    "Enum": _enum,
    "Pattern": _pattern,
    "Optional": _optional,
    "NotUndef": _not_undef,
    "Variant": _variant,
    "Array": _array,
    "Hash": _hash,
    "Struct": _struct,
    "Tuple": _tuple,
}
