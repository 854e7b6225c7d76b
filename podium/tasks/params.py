"""A task's declared parameters, and checking a request's parameters against them: pure.

The rules are the task specification's: a parameter without `type` is `Any`; a `default`
applies when the key is missing or null; a parameter whose type does not accept `Undef` and that
has no default is required; with `parameters` declared, an undeclared key is refused. Keys that
start with `_` are metaparameters and are not checked against `parameters`, but the ones the
runner sets itself (`_task`, `_noop`, `_installdir`, `_target`) cannot be given, and `_run_as`
(Bolt's: the user this run runs as, instead of the target's `run-as`) must name a user. A value of a
`sensitive` parameter is described by its type only in messages, never by its content.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from podium.jsontypes import Json
from podium.tasks.types import PType, TypeSyntaxError, kind_of, parse_type

NAME: Final = re.compile(r"\A[a-z][a-z0-9_]*\Z")
RUNNER_SET: Final = frozenset({"_task", "_noop", "_installdir", "_target"})
RUN_AS: Final = "_run_as"  # Bolt's metaparameter: the user to run this task as
_NO_DEFAULT: Final = object()


class ParameterDeclarationError(ValueError):
    """Raised for metadata whose `parameters` cannot be used (a bad name or type, or a default
    its own type does not accept); the message names the parameter."""


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: PType
    type_text: str  # as the metadata writes it, for messages
    default: Json = _NO_DEFAULT
    sensitive: bool = False

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad parameter: what was expected and what is wrong."""

    parameter: str
    expected: str
    message: str


def declared_parameters(raw: Json) -> dict[str, Parameter] | None:
    """The metadata's `parameters`: None when absent or null (anything goes), else each
    declaration. Raises ParameterDeclarationError naming the parameter."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ParameterDeclarationError("`parameters` must be an object")
    return {name: _declaration(name, spec) for name, spec in raw.items()}


def _declaration(name: str, spec: Json) -> Parameter:
    if not NAME.match(name):
        raise ParameterDeclarationError(
            f"parameter name {name!r} must start with a lowercase letter, then lowercase "
            "letters, digits or '_'"
        )
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise ParameterDeclarationError(f"parameter {name}: the declaration must be an object")
    type_text = spec.get("type", "Any")
    if not isinstance(type_text, str):
        raise ParameterDeclarationError(f"parameter {name}: `type` must be a string")
    try:
        parsed = parse_type(type_text)
    except TypeSyntaxError as exc:
        raise ParameterDeclarationError(f"parameter {name}: {exc}") from exc
    parameter = Parameter(
        name,
        parsed,
        type_text,
        spec.get("default", _NO_DEFAULT),
        spec.get("sensitive") is True,
    )
    if parameter.has_default:
        problem = mismatch(parameter, parameter.default, "its default")
        if problem is not None:
            raise ParameterDeclarationError(f"parameter {name}: {problem}")
    return parameter


def check_parameters(
    declared: Mapping[str, Parameter] | None, given: Mapping[str, Json]
) -> tuple[dict[str, Json], list[Problem]]:
    """The parameters to run with (defaults applied) and every problem found, in a stable
    order: declared parameters first, then keys the task does not take."""
    problems = _metaparameter_problems(given)
    if declared is None:
        return dict(given), problems
    result = {key: value for key, value in given.items() if key.startswith("_")}
    for parameter in declared.values():
        value, problem = _check_one(parameter, given)
        if problem is not None:
            problems.append(problem)
        elif value is not _NO_DEFAULT:
            result[parameter.name] = value
    accepted = ", ".join(sorted(declared)) or "none"
    problems += [
        Problem(key, "", f"task does not accept parameter {key} (it accepts: {accepted})")
        for key in sorted(given)
        if key not in declared and not key.startswith("_")
    ]
    return result, problems


def _metaparameter_problems(given: Mapping[str, Json]) -> list[Problem]:
    problems = [
        Problem(key, "", f"parameter {key} is set by the runner and cannot be given")
        for key in sorted(given)
        if key in RUNNER_SET
    ]
    if RUN_AS in given and not (isinstance(given[RUN_AS], str) and given[RUN_AS]):
        message = f"parameter {RUN_AS} must be a user name (a non-empty string)"
        problems.append(Problem(RUN_AS, "String[1]", message))
    return problems


def _check_one(parameter: Parameter, given: Mapping[str, Json]) -> tuple[Json, Problem | None]:
    name, expected = parameter.name, parameter.type_text
    value = given.get(name)
    if value is None and parameter.has_default:
        return parameter.default, None
    if name not in given:
        if parameter.type.accepts(None):
            return _NO_DEFAULT, None
        return None, Problem(name, expected, f"parameter {name} expects a value of {expected}")
    message = mismatch(parameter, value, f"parameter {name}")
    if message is None:
        return value, None
    return None, Problem(name, expected, message)


def mismatch(parameter: Parameter, value: Json, where: str) -> str | None:
    """Why the value does not fit the parameter's type, or None. For a sensitive parameter, the
    value is named by its type only and the check does not say where inside it went wrong."""
    if not parameter.sensitive:
        return parameter.type.mismatch(value, where)
    if parameter.type.accepts(value):
        return None
    return f"{where} expects {parameter.type_text}, got {kind_of(value)}"


def sensitive_names(declared: Mapping[str, Parameter] | None) -> list[str]:
    return sorted(name for name, p in (declared or {}).items() if p.sensitive)
