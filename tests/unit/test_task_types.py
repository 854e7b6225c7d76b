"""The Puppet type parser and type checks, as tables, plus Hypothesis on the parser's errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.jsontypes import Json
from podium.tasks.types import PType, TypeSyntaxError, parse_type

ACCEPTS: list[tuple[str, Json, bool]] = [
    ("String", "", True),
    ("String", 1, False),
    ("String[1]", "", False),
    ("String[1]", "x", True),
    ("String[2, 3]", "abcd", False),
    ("String[2, 3]", "abc", True),
    ("String[1]", None, False),
    ("Integer", 3, True),
    ("Integer", True, False),
    ("Integer", 3.0, False),
    ("Integer", "3", False),
    ("Integer[1, 5]", 0, False),
    ("Integer[1, 5]", 5, True),
    ("Integer[-5, default]", -5, True),
    ("Integer[default, 5]", 6, False),
    ("Float", 1.5, True),
    ("Float", 1, False),
    ("Float[0.5, 1.5]", 2.0, False),
    ("Numeric", 1, True),
    ("Numeric", 1.5, True),
    ("Numeric", False, False),
    ("Numeric[0, 100]", 100.5, False),
    ("Boolean", False, True),
    ("Boolean", "false", False),
    ("Boolean", 0, False),
    ("Enum[install, status]", "status", True),
    ("Enum[install, status]", "Status", False),
    ("Enum['install', \"status\"]", "install", True),
    ("Enum[a, b, true]", "A", True),
    ("Enum", "anything", True),
    ("Enum[a]", 1, False),
    (r"Pattern[/^\d+\.\d+$/]", "1.10", True),
    (r"Pattern[/^\d+\.\d+$/]", "1.10a", False),
    ("Pattern[/an/]", "banana", True),  # Puppet's =~: anywhere in the string
    ("Pattern[/^x/, 'y$']", "ay", True),
    ("Pattern[/a\\/b/]", "a/b", True),
    ("Optional[String[1]]", None, True),
    ("Optional[String[1]]", "", False),
    ("Optional['one']", "one", True),
    ("Optional['one']", "two", False),
    ("Variant[Integer, Enum[all]]", "all", True),
    ("Variant[Integer, Enum[all]]", 7, True),
    ("Variant[Integer, Enum[all]]", "some", False),
    ("Array", [1, "x", None], True),
    ("Array", {}, False),
    ("Array[String]", ["a", 1], False),
    ("Array[String, 1]", [], False),
    ("Array[String, 1, 2]", ["a", "b", "c"], False),
    ("Array[Array[Integer]]", [[1], [2, 3]], True),
    ("Hash", {"a": [1]}, True),
    ("Hash", [], False),
    ("Hash[String, Integer]", {"a": 1}, True),
    ("Hash[String, Integer]", {"a": "1"}, False),
    ("Hash[Pattern[/^a/], Any]", {"b": 1}, False),
    ("Hash[String, Any, 1]", {}, False),
    ("Hash[1, 2]", {"a": 1, "b": 2, "c": 3}, False),
    ("Struct[{path => String}]", {"path": "/x"}, True),
    ("Struct[{path => String}]", {}, False),
    ("Struct[{path => String}]", {"path": "/x", "other": 1}, False),
    ("Struct[{'path' => String, Optional['owner'] => String}]", {"path": "/x"}, True),
    ("Struct[{'path' => String, Optional['owner'] => String}]", {"path": "/", "owner": 1}, False),
    ("Struct[{mode => Optional[Enum[r, w]]}]", {}, True),
    ("Struct[{NotUndef['mode'] => Optional[String]}]", {}, False),
    ("Tuple[String, Integer]", ["a", 1], True),
    ("Tuple[String, Integer]", ["a", 1, 2], False),
    ("Tuple[String, Integer]", [1, "a"], False),
    ("Tuple[String, Integer, 1]", ["a"], True),
    ("Tuple[String, Integer, 1]", ["a", 1, 2, 3], True),
    ("Tuple[String, Integer, 1, 3]", ["a", 1, 2, 3], False),
    ("Data", {"a": [1, None, 2.5, True]}, True),
    ("Any", None, True),
    ("Undef", None, True),
    ("Undef", 0, False),
    ("NotUndef", 0, True),
    ("NotUndef", None, False),
    ("NotUndef[String]", 1, False),
    ("Scalar", "x", True),
    ("Scalar", [], False),
    ("TargetSpec", ["web1", "web2"], True),
    ("TargetSpec", 1, False),
    ("  Array[ String ,1 ,]  ", ["x"], True),
]


@pytest.mark.parametrize(("expression", "value", "accepted"), ACCEPTS)
def test_a_type_accepts_exactly_its_values(expression: str, value: Json, accepted: bool) -> None:
    assert parse_type(expression).accepts(value) is accepted


@pytest.mark.parametrize(("expression", "value", "accepted"), ACCEPTS)
def test_a_type_reads_back_the_same_from_its_own_text(
    expression: str, value: Json, accepted: bool
) -> None:
    parsed = parse_type(expression)
    assert parse_type(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("", "ends too early"),
        ("string", "unexpected 'string'"),
        ("String[", "ends too early"),
        ("String[1]]", "unexpected ']'"),
        ("String[%]", "unexpected '%'"),
        ("Stdlib::Absolutepath", "unknown type Stdlib::Absolutepath"),
        ("Strng", "unknown type Strng"),
        ("String[a]", "bounds must be numbers"),
        ("String[-1]", "cannot be negative"),
        ("String[1, 2, 3]", "at most 2 arguments"),
        ("Integer[1.5]", "must be integers"),
        ("Integer[5, 1]", "larger than its maximum"),
        ("Enum[1]", "Enum takes strings"),
        ("Enum[Foo]", "unknown type Foo"),
        ("Pattern[/(/]", "not a valid regex"),
        ("Pattern[1]", "regexes or strings"),
        ("Variant", "at least one type"),
        ("Array[1]", "takes types"),
        ("Hash[String]", "a key type and a value type"),
        ("Struct[String]", "one hash"),
        ("Struct[{1 => String}]", "keys must be strings"),
        ("Struct[{a => String, 'a' => Integer}]", "unique"),
        ("Tuple[1, String]", "sizes must come after"),
        ("Boolean[1]", "at most 0 arguments"),
        ("[" * 40 + "]" * 40, "nested deeper"),
    ],
)
def test_a_bad_type_expression_is_refused_with_the_reason(expression: str, reason: str) -> None:
    with pytest.raises(TypeSyntaxError, match=reason.replace("[", r"\[")):
        parse_type(expression)


@given(st.text(max_size=60))
def test_the_parser_raises_nothing_but_its_own_error_on_any_text(text: str) -> None:
    try:
        parsed = parse_type(text)
    except TypeSyntaxError:
        return
    assert isinstance(parsed, PType)


_TYPE_ALPHABET = st.sampled_from(
    ["String", "Integer", "Enum", "Array", "Hash", "Struct", "Tuple", "Optional", "Pattern", "[",
     "]", "{", "}", ",", " ", "=>", "'a'", "b", "1", "-2", "/x/", "default", "true", "Variant"]
)  # fmt: skip


@given(st.lists(_TYPE_ALPHABET, max_size=20).map("".join))
def test_the_parser_raises_nothing_but_its_own_error_on_type_like_text(text: str) -> None:
    try:
        parsed = parse_type(text)
    except TypeSyntaxError:
        return
    assert parse_type(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("expression", "value", "message"),
    [
        ("String[1]", 5, "p expects String[1], got Integer[5, 5]"),
        ("Array[Integer]", [1, "x"], "p[1] expects Integer, got String 'x'"),
        ("Hash[String, Boolean]", {"k": 1}, "p['k'] expects Boolean, got Integer[1, 1]"),
        ("Struct[{a => Integer}]", {"b": 1}, "p has unrecognized key 'b'"),
        ("Struct[{a => Integer}]", {}, "p expects a value for key 'a'"),
        ("Optional[Array[String, 2]]", ["x"], "p expects Array[String, 2], got Array with 1"),
    ],
)
def test_a_mismatch_names_the_deepest_place_that_is_wrong(
    expression: str, value: Json, message: str
) -> None:
    found = parse_type(expression).mismatch(value, "p")
    assert found is not None
    assert found.startswith(message)


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("Integer[1, 10000000]", "Integer[1, 10000000]"),
        ("Integer[-9223372036854775808, 9223372036854775807]",
         "Integer[-9223372036854775808, 9223372036854775807]"),
        ("Integer[default, 123456789]", "Integer[default, 123456789]"),
        ("Float[0.5, 1e20]", "Float[0.5, 1e+20]"),
        ("Numeric[1, 2.5]", "Numeric[1, 2.5]"),
        ("String[1000000]", "String[1000000]"),
        ("Hash[1000000, 2000000]", "Hash[1000000, 2000000]"),
    ],
)  # fmt: skip
def test_bounds_are_shown_exactly_and_read_back_the_same(expression: str, shown: str) -> None:
    parsed = parse_type(expression)
    assert str(parsed) == shown
    assert parse_type(shown) == parsed


def test_a_range_error_shows_integers_exactly() -> None:
    with pytest.raises(TypeSyntaxError, match=r"minimum 20000000 is larger than its maximum 1\b"):
        parse_type("Integer[20000000, 1]")


def test_a_bound_too_large_for_a_float_is_refused() -> None:
    with pytest.raises(TypeSyntaxError, match="bounds must be finite"):
        parse_type("Float[0, 1e400]")
