"""The type objects: small frozen dataclasses that say whether a JSON value is an instance
(`accepts`) and, when it is not, why (`mismatch`, naming the deepest place that is wrong)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from podium.jsontypes import Json
from podium.tasks.types.text import bounds_text, describe, quote, size_args, sized


class PType:
    """A Puppet type: `accepts` says whether a JSON value is an instance of it."""

    def accepts(self, value: Json) -> bool:
        raise NotImplementedError

    def mismatch(self, value: Json, where: str) -> str | None:
        """None when the value fits, else why not, naming the deepest place that is wrong."""
        if self.accepts(value):
            return None
        return f"{where} expects {self}, got {describe(value)}"


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
        return f"String{bounds_text(self.min_length, self.max_length)}"


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
        return f"{self.name}{bounds_text(self.low, self.high)}"


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
        return f"Enum[{', '.join(quote(v) for v in self.values)}{flag}]"


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
            return f"{where} expects {self}, got {sized(value)}"
        for index, element in enumerate(value):
            problem = self.element.mismatch(element, f"{where}[{index}]")
            if problem:
                return problem
        return None

    def __str__(self) -> str:
        if isinstance(self.element, AnyType) and self.min_size is None:
            return "Array"
        return f"Array[{self.element}{size_args(self.min_size, self.max_size)}]"


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
            return f"{where} expects {self}, got {sized(value)}"
        for key, entry in value.items():
            problem = self.key.mismatch(key, f"{where} key {quote(str(key))}")
            problem = problem or self.value.mismatch(entry, f"{where}[{quote(str(key))}]")
            if problem:
                return problem
        return None

    def __str__(self) -> str:
        if isinstance(self.key, AnyType) and isinstance(self.value, AnyType):
            return "Hash" + bounds_text(self.min_size, self.max_size)
        return f"Hash[{self.key}, {self.value}{size_args(self.min_size, self.max_size)}]"


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
            return f"{where} has unrecognized key {quote(extra[0])} (expects {self})"
        for field in self.fields:
            if field.name not in value:
                if field.required:
                    return f"{where} expects a value for key {quote(field.name)}"
                continue
            problem = field.type.mismatch(value[field.name], f"{where}[{quote(field.name)}]")
            if problem:
                return problem
        return None

    def __str__(self) -> str:
        shown = []
        for field in self.fields:
            key = quote(field.name)
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
            return f"{where} expects {self}, got {sized(value)}"
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
