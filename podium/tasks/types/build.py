"""Building type objects from a type name and its arguments, as the parser hands them over:
each known name has a constructor that checks the arguments and says what is wrong with them."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from podium.tasks.types.model import (
    AnyType,
    ArrayType,
    BooleanType,
    DataType,
    EnumType,
    HashType,
    NotUndefType,
    NumberType,
    OptionalType,
    PatternType,
    PType,
    ScalarType,
    StringType,
    StructField,
    StructType,
    TupleType,
    UndefType,
    VariantType,
)
from podium.tasks.types.text import number_text


class TypeSyntaxError(ValueError):
    """Raised for a type expression that does not parse, names an unknown type, or gives a
    known type arguments it cannot take."""


class Default:
    """The `default` keyword as a type argument: an unbounded end of a range."""


@dataclass(frozen=True, slots=True)
class Regex:
    source: str


@dataclass(frozen=True, slots=True)
class Bare:
    """A bare word (`present` in `Enum[present, absent]`): Puppet reads it as a string."""

    text: str


Arg = PType | int | float | str | bool | Regex | Bare | Default | list[tuple[Any, Any]]
DEFAULT: Final = Default()


def construct(name: str, args: list[Arg] | None) -> PType:
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
    if isinstance(arg, Default):
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
            f"{name} minimum {number_text(low)} is larger than its maximum {number_text(high)}"
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
    if isinstance(arg, str | Bare):  # `Optional['x']` is `Optional[Enum['x']]`, as in Puppet
        return EnumType((arg if isinstance(arg, str) else arg.text,))
    raise TypeSyntaxError(f"{name} takes types as arguments, not {_shown(arg)}")


def _shown(arg: Arg) -> str:
    if isinstance(arg, Regex):
        return f"/{arg.source}/"
    if isinstance(arg, Default):
        return "default"
    if isinstance(arg, Bare):
        return arg.text
    return "a hash" if isinstance(arg, list) else repr(arg)


def _enum(name: str, args: list[Arg]) -> PType:
    case_insensitive = False
    if args and isinstance(args[-1], bool):
        case_insensitive = bool(args.pop())
    values = []
    for arg in args:
        if isinstance(arg, Bare):
            values.append(arg.text)
        elif isinstance(arg, str):
            values.append(arg)
        else:
            raise TypeSyntaxError(f"Enum takes strings, not {_shown(arg)}")
    return EnumType(tuple(values), case_insensitive)


def _pattern(name: str, args: list[Arg]) -> PType:
    patterns = []
    for arg in args:
        if isinstance(arg, Regex | str):
            source = arg.source if isinstance(arg, Regex) else arg
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
    if all(isinstance(arg, int | Default) and not isinstance(arg, bool) for arg in args):
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
    if isinstance(key, str | Bare):
        return StructField(key if isinstance(key, str) else key.text, value_type, not may_be_absent)
    raise TypeSyntaxError(f"Struct keys must be strings, not {_shown(key)}")


def _tuple(name: str, args: list[Arg]) -> PType:
    types = []
    sizes: list[Arg] = []
    for arg in args:
        if isinstance(arg, int | Default) and not isinstance(arg, bool):
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
