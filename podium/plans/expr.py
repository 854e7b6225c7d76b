"""The expressions of a YAML plan that Podium evaluates (reference §9.4): parsed once, evaluated
purely against the plan's variables.

The subset: a variable (`$x`), chained index and key access (`$x[0]`, `$x['k']`, `$x[-1]`,
`$x[$i]`), `.first` and `.value`, `${...}` interpolation inside double quotes, and literals that
hold expressions. A ResultSet is its JSON form (a list of results), so `.first` is the first
element of a list and `.value` the `value` key of a result. Anything else is an
`Unsupported` construct, found when the plan is loaded, never half-way through a run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from podium.jsontypes import Json

NAME: Final = re.compile(r"[a-z_][a-z0-9_]*")
INTEGER: Final = re.compile(r"-?[0-9]+")
ATTRIBUTES: Final = frozenset({"first", "value"})


class Unsupported(ValueError):
    """Raised for text outside the subset; the message names the construct."""


class EvaluationError(ValueError):
    """Raised when an expression cannot be evaluated with the values at hand (an index out of
    range, a key missing, `.first` of something not a list)."""


@dataclass(frozen=True, slots=True)
class Literal:
    value: Json


@dataclass(frozen=True, slots=True)
class Var:
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    base: Expr
    key: Expr


@dataclass(frozen=True, slots=True)
class Attribute:
    base: Expr
    name: str  # one of ATTRIBUTES


@dataclass(frozen=True, slots=True)
class Interpolated:
    """A double-quoted string: text and expressions, joined."""

    parts: tuple[str | Expr, ...]


@dataclass(frozen=True, slots=True)
class ListOf:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class MapOf:
    items: tuple[tuple[str, Expr], ...]


Expr = Literal | Var | Index | Attribute | Interpolated | ListOf | MapOf


def parse_expression(text: str) -> Expr:
    """A bare `$...` scalar (or the code of a block scalar). Raises Unsupported."""
    source = text.strip()
    expr, end = _Reader(source).value(0)
    if end != len(source):
        rest, done = source[end:].strip(), source[:end]
        raise Unsupported(f"unsupported expression {source!r}: {rest!r} after {done!r}")
    return expr


def parse_interpolated(text: str) -> Expr:
    """A double-quoted string: `${expr}` and `$name` are replaced, `\\$` is a dollar sign.
    Raises Unsupported."""
    parts: list[str | Expr] = []
    literal: list[str] = []
    reader = _Reader(text)
    at = 0
    while at < len(text):
        char = text[at]
        if char == "\\" and text[at + 1 : at + 2] == "$":
            literal.append("$")
            at += 2
        elif char == "$" and text[at + 1 : at + 2] == "{":
            close = text.find("}", at + 2)
            if close < 0:
                raise Unsupported(f"unclosed '${{' in {text!r}")
            inner = text[at + 2 : close].strip()
            expr, end = reader.sub(inner).value(0, dollar_optional=True)
            if end != len(inner):
                raise Unsupported(f"unsupported expression {inner!r} in {text!r}")
            parts.extend(["".join(literal), expr])
            literal = []
            at = close + 1
        elif char == "$" and (match := NAME.match(text, at + 1)):
            parts.extend(["".join(literal), Var(match.group())])
            literal = []
            at = match.end()
        else:
            literal.append(char)
            at += 1
    parts.append("".join(literal))
    kept = tuple(part for part in parts if part != "")
    if all(isinstance(part, str) for part in kept):
        return Literal("".join(part for part in kept if isinstance(part, str)))
    return Interpolated(kept)


class _Reader:
    """A small recursive-descent reader over one expression's text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def sub(self, text: str) -> _Reader:
        return _Reader(text)

    def value(self, at: int, *, dollar_optional: bool = False) -> tuple[Expr, int]:
        text = self.text
        if text.startswith("$", at):
            at += 1
        elif not dollar_optional:
            raise Unsupported(f"unsupported expression {text!r}: expected a variable ($name)")
        match = NAME.match(text, at)
        if match is None:
            raise Unsupported(f"unsupported expression {text!r}: expected a variable name")
        expr: Expr = Var(match.group())
        at = match.end()
        while at < len(text):
            if text[at] == "[":
                key, at = self._key(at + 1)
                if not text.startswith("]", at):
                    raise Unsupported(f"unsupported expression {text!r}: expected ']'")
                expr, at = Index(expr, key), at + 1
            elif text[at] == ".":
                name = NAME.match(text, at + 1)
                if name is None or name.group() not in ATTRIBUTES:
                    shown = text[at:].split("(")[0].split(" ")[0]
                    raise Unsupported(
                        f"unsupported expression {text!r}: {shown!r} (only .first and .value)"
                    )
                expr, at = Attribute(expr, name.group()), name.end()
            else:
                break
        return expr, at

    def _key(self, at: int) -> tuple[Expr, int]:
        text = self.text
        while text.startswith(" ", at):
            at += 1
        if text.startswith("$", at):
            key, at = self.value(at)
        elif (number := INTEGER.match(text, at)) is not None:
            key, at = Literal(int(number.group())), number.end()
        elif text[at : at + 1] in ("'", '"'):
            close = text.find(text[at], at + 1)
            if close < 0:
                raise Unsupported(f"unsupported expression {text!r}: unclosed quote")
            key, at = Literal(text[at + 1 : close]), close + 1
        else:
            raise Unsupported(
                f"unsupported expression {text!r}: an index must be an integer, a quoted key "
                "or a variable"
            )
        while text.startswith(" ", at):
            at += 1
        return key, at


def variables(expr: Expr) -> set[str]:
    """Every variable the expression reads."""
    match expr:
        case Literal():
            return set()
        case Var():
            return {expr.name}
        case Index():
            return variables(expr.base) | variables(expr.key)
        case Attribute():
            return variables(expr.base)
        case Interpolated():
            found: set[str] = set()
            for part in expr.parts:
                if not isinstance(part, str):
                    found |= variables(part)
            return found
        case ListOf():
            return set().union(*(variables(item) for item in expr.items))
        case MapOf():
            return set().union(*(variables(item) for _, item in expr.items))


def evaluate(expr: Expr, scope: Mapping[str, Json]) -> Json:
    """The expression's value. Raises EvaluationError."""
    match expr:
        case Literal():
            return expr.value
        case Var():
            if expr.name not in scope:
                raise EvaluationError(f"unknown variable ${expr.name}")
            return scope[expr.name]
        case Index():
            return _index(evaluate(expr.base, scope), evaluate(expr.key, scope))
        case Attribute():
            return _attribute(evaluate(expr.base, scope), expr.name)
        case Interpolated():
            return "".join(
                part if isinstance(part, str) else as_text(evaluate(part, scope))
                for part in expr.parts
            )
        case ListOf():
            return [evaluate(item, scope) for item in expr.items]
        case MapOf():
            return {key: evaluate(item, scope) for key, item in expr.items}


def as_text(value: Json) -> str:
    """How a value reads inside a string: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))


def _index(base: Json, key: Json) -> Json:
    if isinstance(base, list):
        if not isinstance(key, int) or isinstance(key, bool):
            raise EvaluationError(f"an array is indexed by an integer, not {key!r}")
        if not -len(base) <= key < len(base):
            raise EvaluationError(f"index {key} is out of range (the array has {len(base)})")
        return base[key]
    if isinstance(base, dict):
        if not isinstance(key, str):
            raise EvaluationError(f"a hash is indexed by a string key, not {key!r}")
        return base.get(key)  # Puppet: a missing key is undef
    if isinstance(base, str) and isinstance(key, int) and not isinstance(key, bool):
        return base[key] if -len(base) <= key < len(base) else None
    raise EvaluationError(f"cannot index {_kind(base)} with {key!r}")


def _attribute(base: Json, name: str) -> Json:
    if name == "first":
        if not isinstance(base, list):
            raise EvaluationError(f".first needs a result set or an array, not {_kind(base)}")
        return base[0] if base else None
    if not isinstance(base, dict) or "value" not in base or "target" not in base:
        raise EvaluationError(f".value needs a result, not {_kind(base)}")
    return base["value"]


def _kind(value: Json) -> str:
    match value:
        case None:
            return "undef"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case _:
            return "a hash"
