"""Leaf semantics: how one value found in a row meets one operand, typed or by string form.

Typed (AST, PQL): no coercion between "1" and 1; numbers by value; booleans only equal booleans
(`True == 1` holds in Python, so every test looks for `bool` first); ordering only on numbers and
timestamps. String form (classifier rules): `=` on string forms, `true` for a boolean true,
ordering on the numeric parse of both sides, false when either does not parse.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime
from typing import Final

from podium.jsontypes import Json
from podium.queries.model import CompareOp, Operand

_ORDER: Final[dict[str, Callable[[Json, Json], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_NUMBER: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def is_number(value: Json) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def typed_equal(actual: Json, expected: Json) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if is_number(expected):
        return is_number(actual) and bool(actual == expected)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(typed_equal(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, str | datetime):
        return type(actual) is type(expected) and bool(actual == expected)
    return False


def typed_compare(op: CompareOp, actual: Json, expected: Operand) -> bool:
    if op == "=":
        return typed_equal(actual, expected)
    if isinstance(expected, datetime):
        return isinstance(actual, datetime) and _ORDER[op](actual, expected)
    return is_number(actual) and _ORDER[op](actual, expected)


def string_form(value: Json) -> str | None:
    """A fact as the classifier sees it; hashes, arrays and null have none."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return None


def numeric(text: str) -> float | None:
    """The classifier's numeric parse: an integer or a decimal, else None."""
    return float(text) if _NUMBER.fullmatch(text) else None


def string_compare(op: CompareOp, actual: Json, expected: Operand) -> bool:
    text = string_form(actual)
    if text is None:
        return False
    if op == "=":
        return text == expected
    left, right = numeric(text), numeric(str(expected))
    return left is not None and right is not None and _ORDER[op](left, right)
