"""A YAML plan as loaded: its parameters, its steps and what it returns, every value already
parsed into an expression (`podium.plans.expr`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from podium.jsontypes import Json
from podium.plans.expr import Expr

SENSITIVE: Final = re.compile(r"\ASensitive(?:\[(.*)\])?\Z", re.S)
NodeAction = Literal["task", "command", "script", "upload"]
NODE_ACTIONS: Final[tuple[NodeAction, ...]] = ("task", "command", "script", "upload")
Action = Literal["task", "command", "script", "upload", "plan", "message", "verbose", "eval"]
# The Bolt functions behind each action, as a failed step's error names them.
FUNCTIONS: Final[dict[str, str]] = {
    "task": "run_task",
    "command": "run_command",
    "script": "run_script",
    "upload": "upload_file",
    "plan": "run_plan",
}
# The task each node action runs: Bolt's shim tasks for commands, scripts and uploads.
SHIM_TASKS: Final[dict[str, str]] = {
    "command": "bolt_shim::command",
    "script": "bolt_shim::script",
    "upload": "bolt_shim::upload",
}


@dataclass(frozen=True, slots=True)
class PlanParameter:
    name: str
    type: str | None = None  # None: Any
    default: Json = None
    has_default: bool = False
    description: str | None = None

    def declaration(self) -> dict[str, Json]:
        """As task metadata declares a parameter, for the task parameter checks: Bolt's
        `Sensitive[T]` is `T` marked sensitive (its value is hidden from reads)."""
        kind = self.type or "Any"
        sensitive = SENSITIVE.match(kind)
        if sensitive is not None:
            kind = sensitive.group(1) or "Any"
        declared: dict[str, Json] = {"type": kind, "sensitive": sensitive is not None}
        if self.has_default:
            declared["default"] = self.default
        return declared


@dataclass(frozen=True, slots=True)
class Step:
    """One step. `action` says which fields matter: `object` is the task, the script or upload
    source (`<module>/<file>`), or the plan called; `body` the command, the message or the
    eval expression; `parameters` a task's or a sub-plan's parameters (a map expression), or a
    script's `arguments` (a list expression)."""

    number: int  # 1-based within its plan, as Bolt counts steps in its messages
    action: Action
    name: str | None = None
    description: str | None = None
    object: str = ""
    body: Expr | None = None
    targets: Expr | None = None
    parameters: Expr | None = None
    destination: Expr | None = None
    env_vars: Expr | None = None
    noop: bool = False
    catch_errors: bool = False
    parallel: bool = False

    @property
    def label(self) -> str:
        """How errors name the step: its number, and its name when it has one."""
        return f"step {self.number}" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    parameters: tuple[PlanParameter, ...]
    steps: tuple[Step, ...]
    returns: Expr | None = None
    description: str | None = None
    private: bool = False

    def declarations(self) -> dict[str, Json]:
        return {p.name: p.declaration() for p in self.parameters}

    def groups(self) -> list[tuple[Step, ...]]:
        """The steps in the order they run: consecutive `parallel` steps start together."""
        groups: list[tuple[Step, ...]] = []
        for step in self.steps:
            if step.parallel and groups and groups[-1][-1].parallel:
                groups[-1] = (*groups[-1], step)
            else:
                groups.append((step,))
        return groups
