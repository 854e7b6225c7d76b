"""Classifier node-group rules lowered to the internal model, with string-form comparisons.

A rule is `["and"|"or", c, ...]`, `["not", c]` or `[op, path, value]` with op one of `=`, `~`,
`<`, `<=`, `>`, `>=`; a path is `"name"` or `["fact"|"trusted", key, key-or-index, ...]`. There
is no `!=`, `in` or `null?`: negate with `not`. Everything is checked when the groups load.
"""

from __future__ import annotations

from typing import Final

from podium.jsontypes import Json
from podium.queries.budget import compile_pattern
from podium.queries.compare import numeric, string_form
from podium.queries.model import (
    And,
    Compare,
    Expr,
    Field,
    Mode,
    Not,
    Or,
    QueryProblem,
    Regex,
)

ALL_NODES_RULE: Final[list[Json]] = ["and", ["~", "name", ".*"]]
_OPERATIONS: Final = frozenset({"=", "~", "<", "<=", ">", ">="})
_ROOTS: Final = {"fact": "facts", "trusted": "trusted"}
MAX_DEPTH: Final = 64


def lower_rule(rule: Json, depth: int = 0) -> Expr:
    """Raises QueryProblem naming the offending part of the rule."""
    if depth > MAX_DEPTH:
        raise QueryProblem(f"The rule is nested more than {MAX_DEPTH} levels deep")
    if not isinstance(rule, list) or not rule or not isinstance(rule[0], str):
        raise QueryProblem(
            'A rule is an array such as ["=", ["fact", "os", "family"], "RedHat"]', rule=rule
        )
    operator = rule[0]
    if operator in ("and", "or"):
        if len(rule) < 2:
            raise QueryProblem(f'"{operator}" needs at least one condition', rule=rule)
        terms = tuple(lower_rule(term, depth + 1) for term in rule[1:])
        return And(terms) if operator == "and" else Or(terms)
    if operator == "not":
        if len(rule) != 2:
            raise QueryProblem('"not" takes exactly one condition', rule=rule)
        return Not(lower_rule(rule[1], depth + 1))
    if operator not in _OPERATIONS:
        known = ", ".join(["and", "or", "not", *sorted(_OPERATIONS)])
        raise QueryProblem(f"Unknown rule operator {operator!r} (known: {known})", rule=rule)
    if len(rule) != 3:
        raise QueryProblem(f"{operator!r} takes a path and a value", rule=rule)
    return _operation(rule)


def _operation(rule: list[Json]) -> Expr:
    operator = rule[0]
    field = _path(rule[1], rule)
    value = string_form(rule[2])
    if value is None:
        raise QueryProblem("A rule's value must be a string", rule=rule)
    if operator == "~":
        try:
            return Regex(field, compile_pattern(value), Mode.STRING)
        except QueryProblem as exc:
            raise QueryProblem(exc.msg, rule=rule, **exc.details) from exc
    if operator != "=" and numeric(value) is None:
        raise QueryProblem(f"{operator!r} needs a numeric value, not {value!r}", rule=rule)
    return Compare(operator, field, value, Mode.STRING)


def _path(path: Json, rule: list[Json]) -> Field:
    if path == "name":
        return Field(("certname",), whole=True)
    if (
        isinstance(path, list)
        and len(path) >= 2
        and isinstance(path[0], str)
        and path[0] in _ROOTS
        and isinstance(path[1], str)
        and all(isinstance(s, str) or (type(s) is int and s >= 0) for s in path[2:])
    ):
        return Field((_ROOTS[path[0]], *path[1:]), whole=True)
    raise QueryProblem(
        'A rule\'s path is "name" or ["fact" or "trusted", key, more keys or indexes...]',
        rule=rule,
    )
