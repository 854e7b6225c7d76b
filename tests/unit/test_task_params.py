"""Checking a request's parameters against a task's declarations: defaults, required and
undeclared keys, metaparameters, and every problem reported at once."""

from __future__ import annotations

import pytest

from podium.jsontypes import Json
from podium.tasks.params import (
    ParameterDeclarationError,
    check_parameters,
    declared_parameters,
    sensitive_names,
)

DECLARED = declared_parameters(
    {
        "name": {"type": "String[1]"},
        "count": {"type": "Integer", "default": 2},
        "note": {"type": "Optional[String]"},
        "level": {"type": "Optional[Integer]", "default": 5},
        "anything": {},
        "token": {"type": "String", "sensitive": True},
    }
)


GIVEN = {"name": "x", "token": "t"}
DEFAULTS = {"count": 2, "level": 5}


@pytest.mark.parametrize(
    ("given", "params"),
    [
        (GIVEN, {**GIVEN, **DEFAULTS}),
        ({**GIVEN, "count": None}, {**GIVEN, **DEFAULTS}),
        ({**GIVEN, "level": None}, {**GIVEN, **DEFAULTS}),
        ({**GIVEN, "note": None}, {**GIVEN, "note": None, **DEFAULTS}),
        ({**GIVEN, "anything": [1]}, {**GIVEN, "anything": [1], **DEFAULTS}),
        ({**GIVEN, "_run_as": "me"}, {**GIVEN, "_run_as": "me", **DEFAULTS}),
    ],
)
def test_good_parameters_pass_with_defaults_applied(given: Json, params: Json) -> None:
    assert check_parameters(DECLARED, given) == (params, [])


def test_every_problem_is_reported_at_once_with_the_expected_type() -> None:
    given = {"count": "2", "note": 3, "extra": 1, "_task": "x"}
    _, problems = check_parameters(DECLARED, given)
    assert [(p.parameter, p.expected) for p in problems] == [
        ("_task", ""),
        ("name", "String[1]"),
        ("count", "Integer"),
        ("note", "Optional[String]"),
        ("token", "String"),
        ("extra", ""),
    ]
    messages = [p.message for p in problems]
    assert messages[0] == "parameter _task is set by the runner and cannot be given"
    assert messages[1] == "parameter name expects a value of String[1]"
    assert messages[2] == "parameter count expects Integer, got String '2'"
    assert messages[5].startswith("task does not accept parameter extra (it accepts: anything,")


def test_without_declared_parameters_anything_goes_but_runner_metaparameters() -> None:
    assert check_parameters(None, {"a": 1}) == ({"a": 1}, [])
    _, problems = check_parameters(None, {"_noop": True})
    assert [p.parameter for p in problems] == ["_noop"]


def test_an_empty_declaration_accepts_no_parameters() -> None:
    _, problems = check_parameters(declared_parameters({}), {"a": 1})
    assert [p.message for p in problems] == ["task does not accept parameter a (it accepts: none)"]


def test_sensitive_parameters_are_named() -> None:
    assert sensitive_names(DECLARED) == ["token"]
    assert sensitive_names(None) == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ([], "must be an object"),
        ({"Bad": {}}, "parameter name 'Bad'"),
        ({"a": "String"}, "declaration must be an object"),
        ({"a": {"type": 5}}, "`type` must be a string"),
        ({"a": {"type": "Stdlib::Absolutepath"}}, "unknown type"),
        ({"a": {"type": "Integer[1, 5]", "default": 9}}, "parameter a: its default expects"),
        ({"a": {"type": "String", "default": None}}, "parameter a: its default expects String"),
        ({"a": {"type": "Array[String]", "default": [1]}}, r"its default\[0\] expects String"),
    ],
)
def test_a_bad_declaration_is_refused(raw: Json, reason: str) -> None:
    with pytest.raises(ParameterDeclarationError, match=reason.replace("`", ".")):
        declared_parameters(raw)


@pytest.mark.parametrize(
    ("type_text", "value", "kind"),
    [
        ("String[20]", "hunter2-secret", "String"),
        ("Integer[1, 5]", 314159, "Integer"),
        ("Float", 27182818, "Integer"),
        ("Enum[a, b]", "hunter2-secret", "String"),
        ("Array[Integer]", [1, "hunter2-secret"], "Array"),
        ("Hash[String, Integer]", {"hunter2-secret": "x"}, "Hash"),
        ("Struct[{user => String}]", {"user": 314159}, "Hash"),
        ("Optional[Tuple[String, Integer]]", ["a", "hunter2-secret"], "Array"),
    ],
)
def test_a_bad_sensitive_value_is_described_by_its_type_only(
    type_text: str, value: Json, kind: str
) -> None:
    declared = declared_parameters({"p": {"type": type_text, "sensitive": True}})
    _, problems = check_parameters(declared, {"p": value})
    assert [p.message for p in problems] == [f"parameter p expects {type_text}, got {kind}"]


def test_a_default_that_fits_its_type_is_accepted() -> None:
    declared = declared_parameters({"a": {"type": "Optional[Integer]", "default": None}})
    assert declared is not None
    assert declared["a"].default is None


def test_a_bad_sensitive_default_is_described_by_its_type_only() -> None:
    with pytest.raises(ParameterDeclarationError) as raised:
        declared_parameters({"a": {"type": "Integer", "default": "hunter2", "sensitive": True}})
    assert str(raised.value) == "parameter a: its default expects Integer, got String"


@pytest.mark.parametrize("value", [5, "", ["root"], None])
def test_the_run_as_metaparameter_must_name_a_user(value: Json) -> None:
    for declared in (DECLARED, None):
        _, problems = check_parameters(declared, {**GIVEN, "_run_as": value})
        assert [p.message for p in problems] == [
            "parameter _run_as must be a user name (a non-empty string)"
        ]
