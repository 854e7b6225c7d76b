"""Reading a YAML plan's text into a `Plan`, whole, before anything runs (reference §9).

The quoting of each scalar decides how it is read, so the text is composed into YAML nodes,
which keep each scalar's style: single-quoted is a literal, double-quoted interpolates, a bare
`$...` is an expression, any other bare scalar is a YAML value, a block scalar is code (of which
only an expression of the subset is accepted). Every problem is a PlanError naming the plan, the
step and the construct.
"""

from __future__ import annotations

import re
from typing import Final

import yaml

from podium.jsontypes import Json
from podium.plans.expr import (
    Expr,
    ListOf,
    Literal,
    MapOf,
    Unsupported,
    parse_expression,
    parse_interpolated,
    variables,
)
from podium.plans.model import Plan, PlanParameter, Step
from podium.tasks.names import InvalidTaskName, parse_task_name
from podium.yamlfile import MAX_DEPTH

NAME: Final = re.compile(r"\A[a-z_][a-z0-9_]*\Z")
SEGMENT: Final = re.compile(r"\A[a-z][a-z0-9_]*\Z")
SOURCE: Final = re.compile(r"\A[a-z][a-z0-9_]*/[^\s]+\Z")
TOP_KEYS: Final = frozenset({"parameters", "steps", "return", "description", "private", "version"})
PARAMETER_KEYS: Final = frozenset({"type", "default", "description"})
ACTIONS: Final = (
    "task",
    "command",
    "script",
    "upload",
    "plan",
    "message",
    "verbose",
    "eval",
    "resources",
    "download",
)
COMMON: Final = frozenset({"name", "description", "parallel"})
ON_TARGETS: Final = frozenset({"targets", "catch_errors"})
STEP_KEYS: Final[dict[str, frozenset[str]]] = {
    "task": COMMON | ON_TARGETS | {"task", "parameters", "noop"},
    "command": COMMON | ON_TARGETS | {"command", "env_vars"},
    "script": COMMON | ON_TARGETS | {"script", "arguments"},
    "upload": COMMON | ON_TARGETS | {"upload", "destination"},
    "plan": COMMON | {"plan", "parameters", "targets", "catch_errors"},
    "message": COMMON | {"message"},
    "verbose": COMMON | {"verbose"},
    "eval": COMMON | {"eval"},
}
REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "task": ("targets",),
    "command": ("targets",),
    "script": ("targets",),
    "upload": ("destination", "targets"),
}
# Keys Bolt takes that Podium does not run, with why.
REFUSED_KEYS: Final[dict[str, str]] = {
    "run_as": "run_as is not supported (a target's run-as comes from the inventory)",
    "pwsh_params": "pwsh_params is not supported (PowerShell scripts do not run on Podium)",
}
REFUSED_ACTIONS: Final[dict[str, str]] = {
    "resources": "resources steps (applying Puppet resources) are not supported",
    "download": "download steps are not supported: the orchestrator has no way to fetch files",
}


class PlanError(ValueError):
    """Raised for a plan Podium cannot run; `details` names the plan, the step and the
    construct."""

    def __init__(self, plan: str, step: str | None, construct: str) -> None:
        where = f"plan {plan}" + (f", {step}" if step else "")
        super().__init__(f"{where}: {construct}")
        self.details: dict[str, Json] = {"plan": plan, "step": step, "construct": construct}


def plan_name(module: str, path: tuple[str, ...]) -> str:
    """`<module>::<segments>`; `init` alone is the module's plan."""
    return module if path == ("init",) else "::".join((module, *path))


def load_plan(name: str, text: str) -> Plan:
    """Raises PlanError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise PlanError(name, None, f"not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise PlanError(name, None, "nested too deeply") from exc
    return _PlanReader(name).plan(root)


class _PlanReader:
    def __init__(self, name: str) -> None:
        self.name = name
        self.where: str | None = None
        self._constructor = yaml.SafeLoader("")

    def fail(self, construct: str) -> PlanError:
        return PlanError(self.name, self.where, construct)

    def plan(self, root: yaml.Node | None) -> Plan:
        if not isinstance(root, yaml.MappingNode):
            raise self.fail("a plan must be a map with `steps`")
        top = self._keys(root)
        unknown = sorted(set(top) - TOP_KEYS)
        if unknown:
            raise self.fail(
                f"unknown top-level key {unknown[0]!r} (allowed: {', '.join(sorted(TOP_KEYS))})"
            )
        if "steps" not in top:
            raise self.fail("a plan needs `steps`")
        parameters = self._parameters(top.get("parameters"))
        steps_node = top["steps"]
        if not isinstance(steps_node, yaml.SequenceNode):
            raise self.fail("`steps` must be a list")
        bound = {p.name for p in parameters}
        steps: list[Step] = []
        for number, node in enumerate(steps_node.value, start=1):
            self.where = f"step {number}"
            step = self._step(number, node)
            self._check_variables(step, bound, steps)
            steps.append(step)
        self.where = "return"
        returns = None if "return" not in top else self.expression(top["return"])
        if returns is not None:
            self._check_known(returns, bound | {s.name for s in steps if s.name})
        self.where = None
        description = self._literal(top["description"]) if "description" in top else None
        private = self._literal(top["private"]) if "private" in top else False
        return Plan(
            self.name,
            tuple(parameters),
            tuple(steps),
            returns,
            description if isinstance(description, str) else None,
            private is True,
        )

    def _parameters(self, node: yaml.Node | None) -> list[PlanParameter]:
        if node is None or _is_null(node):
            return []
        if not isinstance(node, yaml.MappingNode):
            raise self.fail("`parameters` must be a map of parameter names")
        found = []
        for name, spec in self._keys(node).items():
            self.where = f"parameter {name}"
            if not NAME.match(name):
                raise self.fail(f"invalid parameter name {name!r}")
            data = {} if _is_null(spec) else self._literal(spec)
            if not isinstance(data, dict):
                raise self.fail("a parameter is a map of type, default and description")
            unknown = sorted(set(data) - PARAMETER_KEYS)
            if unknown:
                raise self.fail(f"unknown key {unknown[0]!r} (allowed: default, description, type)")
            kind = data.get("type")
            if kind is not None and not isinstance(kind, str):
                raise self.fail("`type` must be a string")
            found.append(
                PlanParameter(
                    name,
                    kind,
                    data.get("default"),
                    "default" in data,
                    data.get("description") if isinstance(data.get("description"), str) else None,
                )
            )
        self.where = None
        return found

    def _step(self, number: int, node: yaml.Node) -> Step:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail("a step must be a map")
        body = self._keys(node)
        name = body.get("name")
        if name is not None:
            text = self._literal(name)
            if not isinstance(text, str) or not NAME.match(text):
                raise self.fail(f"invalid step name {text!r}")
            self.where = f"step {number} ({text})"
        action = self._action(body)
        self._check_keys(action, body)
        return self._build(number, action, body)

    def _action(self, body: dict[str, yaml.Node]) -> str:
        actions = [key for key in ACTIONS if key in body]
        if not actions:
            raise self.fail("No valid action detected")
        if len(actions) > 1:
            raise self.fail(f"Multiple action keys detected: {actions}")
        if actions[0] in REFUSED_ACTIONS:
            raise self.fail(REFUSED_ACTIONS[actions[0]])
        return actions[0]

    def _check_keys(self, action: str, body: dict[str, yaml.Node]) -> None:
        for key in body:
            if key in REFUSED_KEYS:
                raise self.fail(REFUSED_KEYS[key])
            if key not in STEP_KEYS[action]:
                allowed = ", ".join(sorted(STEP_KEYS[action]))
                raise self.fail(
                    f"the {action} step does not support the key {key!r} (allowed: {allowed})"
                )
        for key in REQUIRED.get(action, ()):
            if key not in body:
                raise self.fail(f"the {action} step requires {key!r}")

    def _build(self, number: int, action: str, body: dict[str, yaml.Node]) -> Step:
        name = self._literal(body["name"]) if "name" in body else None
        description = self._literal(body["description"]) if "description" in body else None
        fields: dict[str, object] = {
            "name": name,
            "description": description if isinstance(description, str) else None,
            "catch_errors": self._flag(body, "catch_errors"),
            "parallel": self._flag(body, "parallel"),
            "noop": self._flag(body, "noop"),
        }
        for key in ("targets", "destination", "env_vars"):
            if key in body:
                fields[key] = self.expression(body[key])
        if action in ("task", "plan"):
            fields["object"] = self._name(body[action], action)
            if "parameters" in body:
                fields["parameters"] = self._map(body["parameters"], "parameters")
        elif action in ("script", "upload"):
            fields["object"] = self._source(body[action], action)
            if "arguments" in body:
                arguments = self.expression(body["arguments"])
                if not isinstance(arguments, ListOf) and not (
                    isinstance(arguments, Literal) and isinstance(arguments.value, list)
                ):
                    raise self.fail("`arguments` must be a list")
                fields["parameters"] = arguments
        else:
            fields["body"] = self.expression(body[action])
        if "env_vars" in body and not isinstance(fields["env_vars"], MapOf | Literal):
            raise self.fail("`env_vars` must be a map")
        return Step(number, action, **fields)  # type: ignore[arg-type]

    def _check_variables(self, step: Step, bound: set[str], earlier: list[Step]) -> None:
        group_start = len(earlier)
        if step.parallel:
            while group_start > 0 and earlier[group_start - 1].parallel:
                group_start -= 1
        known = bound | {s.name for s in earlier[:group_start] if s.name}
        for expr in (step.body, step.targets, step.parameters, step.destination, step.env_vars):
            if expr is not None:
                self._check_known(expr, known)
        if step.name is not None and (
            step.name in bound or any(s.name == step.name for s in earlier)
        ):
            raise self.fail(f"the name {step.name!r} is already used by a parameter or a step")

    def _check_known(self, expr: Expr, known: set[str]) -> None:
        unknown = sorted(variables(expr) - known)
        if unknown:
            raise self.fail(
                f"unknown variable ${unknown[0]}: a step can use the parameters and the names "
                "of the steps before it"
            )

    def expression(self, node: yaml.Node, depth: int = 0) -> Expr:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep")
        try:
            if isinstance(node, yaml.SequenceNode):
                items = tuple(self.expression(item, depth + 1) for item in node.value)
                if all(isinstance(item, Literal) for item in items):
                    return Literal([item.value for item in items if isinstance(item, Literal)])
                return ListOf(items)
            if isinstance(node, yaml.MappingNode):
                pairs = tuple(
                    (key, self.expression(value, depth + 1))
                    for key, value in self._keys(node).items()
                )
                if all(isinstance(value, Literal) for _, value in pairs):
                    return Literal({k: v.value for k, v in pairs if isinstance(v, Literal)})
                return MapOf(pairs)
            assert isinstance(node, yaml.ScalarNode)
            return self._scalar(node)
        except Unsupported as exc:
            raise self.fail(str(exc)) from exc

    def _scalar(self, node: yaml.ScalarNode) -> Expr:
        text = node.value
        match node.style:
            case "'":
                return Literal(text)
            case '"':
                return parse_interpolated(text)
            case "|" | ">":
                if text.strip().startswith("$"):
                    return parse_expression(text)
                raise Unsupported(
                    f"Puppet code in a block scalar ({text.strip()[:40]!r}): only an expression "
                    "of the supported subset ($var, indexing, .first, .value) can be evaluated"
                )
            case _:
                if text.startswith("$"):
                    return parse_expression(text)
                return Literal(self._constructor.construct_object(node, deep=True))

    def _literal(self, node: yaml.Node) -> Json:
        expr = self.expression(node)
        if not isinstance(expr, Literal):
            raise self.fail("this value must be written out: it cannot hold an expression")
        return expr.value

    def _flag(self, body: dict[str, yaml.Node], key: str) -> bool:
        if key not in body:
            return False
        value = self._literal(body[key])
        if not isinstance(value, bool):
            raise self.fail(f"`{key}` must be true or false, not {value!r}")
        return value

    def _name(self, node: yaml.Node, action: str) -> str:
        expr = self.expression(node)
        value = expr.value if isinstance(expr, Literal) else None
        if not isinstance(value, str):
            raise self.fail(f"the {action} to run must be named by a literal string")
        try:
            return parse_task_name(value).full if action == "task" else _plan_name(value)
        except InvalidTaskName as exc:
            raise self.fail(f"invalid {action} name {value!r}") from exc

    def _source(self, node: yaml.Node, action: str) -> str:
        value = self._literal(node)
        if not isinstance(value, str) or not SOURCE.match(value) or ".." in value.split("/"):
            raise self.fail(f"the {action} must be a literal '<module>/<file under files/>'")
        return value

    def _map(self, node: yaml.Node, key: str) -> Expr:
        expr = self.expression(node)
        if not isinstance(expr, MapOf) and not (
            isinstance(expr, Literal) and isinstance(expr.value, dict)
        ):
            raise self.fail(f"`{key}` must be a map")
        return expr

    def _keys(self, node: yaml.MappingNode) -> dict[str, yaml.Node]:
        found: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise self.fail("map keys must be strings")
            if key.value in found:
                raise self.fail(f"the key {key.value!r} is given twice")
            found[key.value] = value
        return found


def _plan_name(value: str) -> str:
    parts = value.split("::")
    if not all(SEGMENT.match(part) for part in parts):
        raise InvalidTaskName(value)
    return value


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"
