"""Classifier rules translated to PuppetDB queries: the shape of the translation, and over the
52-node fleet, the translated query (evaluated by Podium's PuppetDB semantics) selects what the
rule selects, but for the two places where PuppetDB's typed values part from the classifier's
string forms. test_puppet sends the translation to a real PuppetDB."""

from __future__ import annotations

from typing import Final

import pytest

from podium.jsontypes import Json
from podium.queries import QueryProblem, parse_query, rule_query, select
from tests.unit.test_queries import FLEET, NOW
from tests.unit.test_rules import RULES, ruled

TYPED_DIFFERENCES: Final = {
    4: "win-05.corp's processors.count is the string '4': PuppetDB orders numbers only",
    14: "ipaddresses is an array: PuppetDB matches a regex against its elements",
}


@pytest.mark.parametrize(
    ("rule", "query"),
    [
        (["=", "name", "web-01"], ["=", "certname", "web-01"]),
        (["~", "name", "^web"], ["~", "certname", "^web"]),
        (["=", ["fact", "os", "family"], "RedHat"], ["=", "facts.os.family", "RedHat"]),
        (
            ["=", ["trusted", "extensions", "pp_role"], "web"],
            ["=", "trusted.extensions.pp_role", "web"],
        ),
        (
            ["=", ["fact", "is_virtual"], "true"],
            ["or", ["=", "facts.is_virtual", "true"], ["=", "facts.is_virtual", True]],
        ),
        (
            ["=", ["fact", "processors", "count"], "4"],
            ["or", ["=", "facts.processors.count", "4"], ["=", "facts.processors.count", 4]],
        ),
        ([">=", ["fact", "load"], "1.5"], [">=", "facts.load", 1.5]),
        (["<", ["fact", "uptime_days"], 30], ["<", "facts.uptime_days", 30]),
        (
            ["=", ["fact", "processors", "models", 1], "Xeon"],
            ["=", "facts.processors.models[1]", "Xeon"],
        ),
        (
            ["=", ["fact", "x.y", "z"], "1"],
            ["or", ["=", 'facts."x.y".z', "1"], ["=", 'facts."x.y".z', 1]],
        ),
        (
            ["and", ["not", ["=", "name", "a"]], ["or", ["~", ["fact", "role"], "^w"]]],
            ["and", ["not", ["=", "certname", "a"]], ["or", ["~", "facts.role", "^w"]]],
        ),
    ],
)
def test_a_rule_becomes_an_inventory_query_for_certnames(rule: Json, query: Json) -> None:
    assert rule_query(rule) == ["from", "inventory", ["extract", ["certname"], query]]


@pytest.mark.parametrize(("rule", "expected"), RULES, ids=[str(i) for i in range(len(RULES))])
def test_the_translation_selects_what_the_rule_selects(
    request: pytest.FixtureRequest, rule: Json, expected: list[str]
) -> None:
    index = int(request.node.callspec.id)
    translated = select(parse_query(rule_query(rule)), FLEET, NOW)
    if index in TYPED_DIFFERENCES:
        assert translated != ruled(rule), TYPED_DIFFERENCES[index]
    else:
        assert translated == ruled(rule) == sorted(expected)


@pytest.mark.parametrize(
    "rule",
    [["!=", "name", "x"], ["=", ["facts", "x"], "x"], ["<", "name", "abc"], ["~", "name", "("]],
)
def test_a_rule_the_classifier_refuses_is_refused_here_too(rule: Json) -> None:
    with pytest.raises(QueryProblem):
        rule_query(rule)
