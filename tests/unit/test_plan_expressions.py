"""The expression subset of YAML plans: parsed once, evaluated purely (reference §9.4)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.jsontypes import Json
from podium.plans.expr import (
    EvaluationError,
    Unsupported,
    evaluate,
    parse_expression,
    parse_interpolated,
    variables,
)

CHECK: Json = [
    {
        "target": "n1",
        "action": "task",
        "object": "package",
        "status": "success",
        "value": {"status": "installed", "name": "openssl"},
    },
    {"target": "n2", "action": "task", "object": "package", "status": "failure", "value": {}},
]
SCOPE: dict[str, Json] = {
    "check": CHECK,
    "users": ["ann", "bob", "cy"],
    "info": {"os": {"family": "Debian"}},
    "i": 1,
    "n": 3,
    "pkg": "openssl",
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$users", ["ann", "bob", "cy"]),
        ("$users[0]", "ann"),
        ("$users[-1]", "cy"),
        ("$users[$i]", "bob"),
        ("$info['os']['family']", "Debian"),
        ('$info["os"]', {"family": "Debian"}),
        ("$info['missing']", None),
        ("$check[1]['target']", "n2"),
        ("$check.first.value", {"status": "installed", "name": "openssl"}),
        ("$check.first.value['status']", "installed"),
        ("$check[1].value", {}),
        ("  $n  ", 3),
    ],
)
def test_a_bare_expression_reads_variables_indexes_and_results(text: str, value: Json) -> None:
    assert evaluate(parse_expression(text), SCOPE) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("first target reports ${check.first.value['status']}", "first target reports installed"),
        ("${n}", "3"),
        ("$pkg and ${pkg}", "openssl and openssl"),
        ("users: ${users}", 'users: ["ann", "bob", "cy"]'),
        ("cost \\$5 for $pkg", "cost $5 for openssl"),
        ("no variables at all", "no variables at all"),
        ("${users[$i]}!", "bob!"),
    ],
)
def test_a_double_quoted_string_interpolates(text: str, value: str) -> None:
    assert evaluate(parse_interpolated(text), SCOPE) == value


@pytest.mark.parametrize(
    ("text", "construct"),
    [
        ("$a + 1", "'+ 1'"),
        ("$users.map |$u| { $u }", "'.map'"),
        ("$check.targets", "'.targets'"),
        ("$x[", "an index must be"),
        ("$x[foo]", "an index must be"),
        ("$1", "variable name"),
        ("$x == $y", "'== $y'"),
    ],
)
def test_anything_outside_the_subset_is_named_as_unsupported(text: str, construct: str) -> None:
    with pytest.raises(Unsupported, match="unsupported expression") as caught:
        parse_expression(text)
    assert construct in str(caught.value)


def test_an_unsupported_interpolation_is_named() -> None:
    with pytest.raises(Unsupported, match="upcase"):
        parse_interpolated("${pkg.upcase}")
    with pytest.raises(Unsupported, match="unclosed"):
        parse_interpolated("${pkg")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$nope", r"unknown variable \$nope"),
        ("$users[3]", "out of range"),
        ("$users['a']", "indexed by an integer"),
        ("$info[0]", "string key"),
        ("$n.first", ".first needs"),
        ("$users.value", ".value needs a result"),
        ("$n[0]", "cannot index a number"),
    ],
)
def test_an_evaluation_error_says_what_went_wrong(text: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        evaluate(parse_expression(text), SCOPE)


def test_variables_lists_every_variable_read() -> None:
    assert variables(parse_expression("$check[$i].value[$pkg]")) == {"check", "i", "pkg"}
    assert variables(parse_interpolated("${a} and $b")) == {"a", "b"}


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(items=st.lists(json_values, min_size=1, max_size=6), data=st.data())
def test_indexing_a_list_is_pythons_indexing(items: list[Json], data: st.DataObject) -> None:
    index = data.draw(st.integers(-len(items), len(items) - 1))
    assert evaluate(parse_expression(f"$x[{index}]"), {"x": items}) == items[index]


@given(
    key=st.text(alphabet=st.characters(blacklist_characters="'\\"), max_size=8), value=json_values
)
def test_a_quoted_key_reads_that_key(key: str, value: Json) -> None:
    assert evaluate(parse_expression(f"$h['{key}']"), {"h": {key: value}}) == value


@given(text=st.text(max_size=30))
def test_parsing_any_text_either_succeeds_or_says_unsupported(text: str) -> None:
    for parse in (parse_expression, parse_interpolated):
        with contextlib.suppress(Unsupported):
            parse(text)


@given(text=st.text(alphabet=st.characters(blacklist_characters="$\\"), max_size=30))
def test_text_without_a_dollar_interpolates_to_itself(text: str) -> None:
    assert evaluate(parse_interpolated(text), {}) == text
