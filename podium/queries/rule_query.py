"""Classifier rules as PuppetDB queries, for a PuppetDB to evaluate (node groups, and the rules
of task targets): `name` becomes `certname`, `["fact", ...]` and `["trusted", ...]` paths the
inventory entity's dotted `facts.` and `trusted.` fields, as the classifier translates them for
the inventory endpoint, and the query selects the certnames of the matching rows. Pure.

The classifier compares string forms where PuppetDB compares typed values, so `=` with a value
that reads as a boolean or a number also matches that boolean or number, and `<`, `<=`, `>`,
`>=` compare with the number (PuppetDB leaves out facts that are not numbers, strings that hold
one included). Regular expressions go as written, in PuppetDB's (PostgreSQL's) dialect.
"""

from __future__ import annotations

import json
import re
from typing import Final

from podium.jsontypes import Json
from podium.queries.compare import numeric, string_form
from podium.queries.rules import lower_rule

_ROOTS: Final = {"fact": "facts", "trusted": "trusted"}
_PLAIN_KEY: Final = re.compile(r"\A[A-Za-z0-9_-]+\Z")  # written bare in a dotted path
_INTEGER: Final = re.compile(r"\A-?[0-9]+\Z")


def rule_query(rule: Json) -> list[Json]:
    """`["from", "inventory", ["extract", ["certname"], <the rule's condition>]]`. Raises
    QueryProblem for a rule the classifier would refuse, as `lower_rule` does."""
    lower_rule(rule)  # checks operators, paths, values and regular expressions once
    return ["from", "inventory", ["extract", ["certname"], _condition(rule)]]


def _condition(rule: list[Json]) -> list[Json]:
    operator = rule[0]
    if operator in ("and", "or"):
        return [operator, *(_condition(term) for term in rule[1:])]
    if operator == "not":
        return ["not", _condition(rule[1])]
    field = _field(rule[1])
    value = string_form(rule[2])
    assert value is not None  # lower_rule refused the rule otherwise
    if operator == "~":
        return ["~", field, value]
    typed = _typed(value)
    if operator == "=" and typed is None:
        return ["=", field, value]
    if operator == "=":
        return ["or", ["=", field, value], ["=", field, typed]]
    return [operator, field, typed]


def _typed(value: str) -> bool | int | float | None:
    """The boolean or number a string form stands for, if any."""
    if value in ("true", "false"):
        return value == "true"
    if _INTEGER.match(value):
        return int(value)
    return numeric(value)


def _field(path: Json) -> str:
    if path == "name":
        return "certname"
    root, *keys = path
    dotted = _ROOTS[root]
    for key in keys:
        if isinstance(key, int):
            dotted += f"[{key}]"
        else:
            dotted += "." + (key if _PLAIN_KEY.match(key) else json.dumps(key))
    return dotted
