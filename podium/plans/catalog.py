"""Finding an environment's plans (`modules/<m>/plans/**/*.yaml`), and gathering everything a plan
run needs before it starts: the plan and every plan it calls, parsed; the declared parameters of
every task a step runs; the files of its script and upload steps. That bundle goes on the log
with the run, so the run never reads the code again and replays from the log alone.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from podium.environments import Environment
from podium.jsontypes import Json
from podium.plans.load import SEGMENT, PlanError, load_plan, plan_name
from podium.plans.model import SHIM_TASKS, Plan
from podium.tasks.catalog import TaskError
from podium.tasks.names import parse_task_name
from podium.tasks.params import ParameterDeclarationError, declared_parameters

MAX_FILE_BYTES: Final = 4 * 1024 * 1024  # a script or an upload travels on the log


class PuppetPlan(ValueError):
    """Raised for a plan written in the Puppet language: only YAML plans run on Podium."""

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(
            f"Plan {name} is a Puppet-language plan ({path.name}): only YAML plans run on Podium"
        )
        self.path = path


@dataclass(frozen=True, slots=True)
class PlanFile:
    name: str
    path: Path

    @property
    def puppet(self) -> bool:
        return self.path.suffix == ".pp"


def plan_path_parts(name: str) -> tuple[str, tuple[str, ...]] | None:
    """The module and the path segments of a plan name; None for a malformed name."""
    parts = name.split("::")
    if not all(SEGMENT.match(part) for part in parts):
        return None
    return parts[0], tuple(parts[1:]) or ("init",)


def find_plan_file(module_dirs: Sequence[Path], name: str) -> PlanFile | None:
    """A YAML plan, else a Puppet one, by that name; None when there is neither."""
    parts = plan_path_parts(name)
    if parts is None:
        return None
    module, path = parts
    for modules in module_dirs:
        base = modules / module / "plans" / Path(*path)
        for suffix in (".yaml", ".pp"):
            candidate = base.with_name(base.name + suffix)
            if candidate.is_file():
                return PlanFile(name, candidate)
    return None


def list_plan_files(module_dirs: Sequence[Path]) -> list[PlanFile]:
    """Every plan of the modules, by name; the first module directory holding a name wins."""
    found: dict[str, PlanFile] = {}
    for modules in module_dirs:
        if not modules.is_dir():
            continue
        for module in sorted(modules.iterdir()):
            plans = module / "plans"
            if not SEGMENT.match(module.name) or not plans.is_dir():
                continue
            for path in sorted(plans.rglob("*")):
                if path.suffix not in (".yaml", ".pp") or not path.is_file():
                    continue
                segments = (*path.relative_to(plans).parent.parts, path.stem)
                if all(SEGMENT.match(s) for s in segments):
                    name = plan_name(module.name, tuple(segments))
                    kept = found.get(name)
                    if kept is None or (kept.puppet and path.suffix == ".yaml"):
                        found[name] = PlanFile(name, path)
    return [found[name] for name in sorted(found)]


def read_plan(environment: Environment, name: str) -> tuple[Plan, str] | None:
    """The plan and its text; None when there is no such plan. Raises PuppetPlan, PlanError."""
    found = find_plan_file(environment.module_dirs, name)
    if found is None:
        return None
    if found.puppet:
        raise PuppetPlan(name, found.path)
    try:
        text = found.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(name, None, f"cannot read {found.path.name}: {exc}") from exc
    return load_plan(name, text), text


@dataclass(slots=True)
class Bundle:
    """A plan and all it needs to run, as the log keeps it."""

    plan: Plan
    sources: dict[str, str] = field(default_factory=dict)  # plan name -> its YAML text
    plans: dict[str, Plan] = field(default_factory=dict)
    tasks: dict[str, Json] = field(default_factory=dict)  # task -> parameters, supports_noop
    files: dict[str, str] = field(default_factory=dict)  # "<module>/<file>" -> base64
    file_modes: dict[str, int] = field(default_factory=dict)  # its permission bits


def bundle(environment: Environment, name: str) -> Bundle | None:
    """The plan named and everything it calls; None when there is no such plan. Raises
    PuppetPlan, or PlanError naming the plan, the step and what is wrong."""
    root = read_plan(environment, name)
    if root is None:
        return None
    found = Bundle(root[0], {name: root[1]}, {name: root[0]})
    pending = [root[0]]
    while pending:
        plan = pending.pop()
        try:
            declared_parameters(plan.declarations())
        except ParameterDeclarationError as exc:
            raise PlanError(plan.name, None, str(exc)) from exc
        for step in plan.steps:
            if step.action == "plan":
                pending.extend(_called(environment, found, plan, step.object, step.label))
            elif step.action == "task":
                _task(environment, found, plan, step.object, step.label)
            elif step.action in SHIM_TASKS:
                _task(environment, found, plan, SHIM_TASKS[step.action], step.label)
                if step.action in ("script", "upload"):
                    _file(environment, found, plan, step.object, step.label)
    return found


def _called(
    environment: Environment, found: Bundle, caller: Plan, name: str, step: str
) -> list[Plan]:
    if name in found.plans:
        if _calls(found.plans, name, caller.name):
            raise PlanError(caller.name, step, f"plan {name} calls back into {caller.name}")
        return []
    try:
        called = read_plan(environment, name)
    except PuppetPlan as exc:
        raise PlanError(caller.name, step, str(exc)) from exc
    if called is None:
        raise PlanError(caller.name, step, f"unknown plan {name}")
    found.plans[name], found.sources[name] = called
    if _calls(found.plans, name, caller.name):
        raise PlanError(caller.name, step, f"plan {name} calls back into {caller.name}")
    return [called[0]]


def _calls(plans: dict[str, Plan], start: str, wanted: str) -> bool:
    """Whether plan `start` calls `wanted`, directly or not, among the plans read so far."""
    seen: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name == wanted:
            return True
        if name in seen or name not in plans:
            continue
        seen.add(name)
        pending.extend(s.object for s in plans[name].steps if s.action == "plan")
    return False


def _task(environment: Environment, found: Bundle, plan: Plan, name: str, step: str) -> None:
    if name in found.tasks:
        return
    try:
        task = environment.task(parse_task_name(name))
        if task is None:
            raise PlanError(plan.name, step, f"unknown task {name}")
        task.parameters()  # raises TaskError for declarations that cannot be used
    except TaskError as exc:
        raise PlanError(plan.name, step, f"task {name} cannot be used: {exc}") from exc
    found.tasks[task.name.full] = {
        "parameters": task.metadata.raw.get("parameters"),
        "supports_noop": task.metadata.supports_noop,
    }


def _file(environment: Environment, found: Bundle, plan: Plan, source: str, step: str) -> None:
    if source in found.files:
        return
    module, _, rest = source.partition("/")
    for modules in environment.module_dirs:
        path = modules / module / "files" / rest
        if path.is_file():
            data = path.read_bytes()
            if len(data) > MAX_FILE_BYTES:
                raise PlanError(plan.name, step, f"{source} is larger than {MAX_FILE_BYTES} bytes")
            found.files[source] = base64.b64encode(data).decode("ascii")
            found.file_modes[source] = path.stat().st_mode & 0o7777
            return
    raise PlanError(plan.name, step, f"no file {source} (looked in modules/{module}/files/)")
