"""How types and values read in messages: a value's Puppet type name as Puppet's mismatch
messages give it, quoting, and the bounds and sizes in a type's text."""

from __future__ import annotations

from podium.jsontypes import Json


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
        return f"String {quote(shown)}"
    if isinstance(value, list):
        return "Array"
    return "Hash" if isinstance(value, dict) else type(value).__name__


def kind_of(value: Json) -> str:
    """A value's type name without anything of the value itself, for sensitive values."""
    if value is None:
        return "Undef"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    return "Hash" if isinstance(value, dict) else type(value).__name__


def quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def number_text(number: float) -> str:
    """An integer exactly (`10000000`, not `1e+07`), a float as Python reads it back."""
    return str(number) if isinstance(number, int) else repr(number)


def bounds_text(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return ""
    shown = ["default" if bound is None else number_text(bound) for bound in (low, high)]
    if high is None:
        shown = shown[:1]
    return f"[{', '.join(shown)}]"


def sized(value: Json) -> str:
    if isinstance(value, list | dict):
        return f"{describe(value)} with {len(value)} entries"
    return describe(value)


def size_args(low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return ""
    shown = ["0" if low is None else str(low)]
    if high is not None:
        shown.append(str(high))
    return ", " + ", ".join(shown)
