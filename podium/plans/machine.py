"""The plan executor's decisions: from the folded state alone, the events that move a plan job on.

`advance` walks the plan from its first step every time, taking each step's outcome from the
log: a finished step's recorded result is bound to its name, a started one waits for its job
(or, for a called plan, walks that plan the same way), and the first step not started yet is
started. So a scheduler that takes over after a crash carries on where the log says, never
running a finished step twice, and a resumed plan reuses the results of the steps before the
one it runs from. Pure: the time and the inventory are passed in.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from podium.events.jobspec import JobOrigin, JobScope, TaskJob
from podium.events.model import (
    JOB_TERMINAL,
    Event,
    JobRequested,
    PlanFinished,
    PlanStepFinished,
    PlanStepStarted,
)
from podium.events.state import PLAN_TERMINAL, PlanJob, State, StepRecord
from podium.inventory import Inventory
from podium.inventory.targets import targets_for
from podium.jsontypes import Json
from podium.plans.expr import EvaluationError, Expr, as_text, evaluate
from podium.plans.model import FUNCTIONS, NODE_ACTIONS, SHIM_TASKS, Plan, Step
from podium.plans.targets import resolve_targets, result_set
from podium.tasks.params import (
    Parameter,
    ParameterDeclarationError,
    Problem,
    check_parameters,
    declared_parameters,
    sensitive_names,
)

STOPPED: Final = {
    "kind": "puppetlabs.orchestrator/plan-stopped",
    "msg": "The plan was stopped: no further step starts",
    "details": {},
}


class _Waiting:
    """A step has not ended yet."""


WAITING: Final = _Waiting()


@dataclass(frozen=True, slots=True)
class Failed:
    error: Json


Outcome = Json | _Waiting | Failed


def advance(
    state: State, job: PlanJob, plans: Mapping[str, Plan], inventory: Inventory, now: float
) -> list[Event]:
    """The events that move the plan job on; none while it waits for a job."""
    if job.driven_by_client or job.state in PLAN_TERMINAL:
        return []  # Bolt runs the steps and ends it; an ended plan job does nothing
    if job.stop_requested:
        return [
            PlanFinished(at=now, plan_job=job.name, attempt=job.attempt, ok=False, result=STOPPED)
        ]
    if job.timeout_s is not None and now >= job.attempt_started_at + job.timeout_s:
        error = {
            "kind": "puppetlabs.orchestrator/plan-timeout",
            "msg": f"The plan did not finish within its timeout of {job.timeout_s} s",
            "details": {"timeout": job.timeout_s},
        }
        return [
            PlanFinished(at=now, plan_job=job.name, attempt=job.attempt, ok=False, result=error)
        ]
    walk = _Walk(state, job, plans, inventory, now)
    outcome = walk.plan(plans[job.plan], job.params, "")
    if isinstance(outcome, _Waiting):
        return walk.events
    ok = not isinstance(outcome, Failed)
    result = outcome.error if isinstance(outcome, Failed) else outcome
    end = PlanFinished(at=now, plan_job=job.name, attempt=job.attempt, ok=ok, result=result)
    return [*walk.events, end]


def pal_error(plan: str, where: str, message: str) -> Json:
    return {
        "kind": "bolt/pal-error",
        "msg": f"plan {plan}, {where}: {message}",
        "details": {"plan": plan, "step": where},
    }


def run_failure(step: Step, results: list[Json]) -> Json:
    function = FUNCTIONS[step.action]
    failed = sum(1 for r in results if isinstance(r, dict) and r.get("status") != "success")
    object = results[0]["object"] if results else step.object
    return {
        "kind": "bolt/run-failure",
        "msg": f"{function} '{object}' failed on {failed} target{'s' if failed != 1 else ''}",
        "details": {"action": function, "object": object, "result_set": results},
    }


@dataclass
class _Walk:
    state: State
    job: PlanJob
    plans: Mapping[str, Plan]
    inventory: Inventory
    now: float
    events: list[Event] = field(default_factory=list)

    def plan(self, plan: Plan, params: Mapping[str, Json], prefix: str) -> Outcome:
        """Walk a plan's steps; its return value once every step has ended."""
        scope = dict(params)
        for group in plan.groups():
            outcomes = [
                (step, self.step(plan, step, f"{prefix}{step.number}", scope)) for step in group
            ]
            if any(isinstance(outcome, _Waiting) for _, outcome in outcomes):
                return WAITING
            for step, outcome in outcomes:
                if isinstance(outcome, Failed):
                    return outcome
                if step.name is not None:
                    scope[step.name] = outcome
        if plan.returns is None:
            return None
        try:
            return evaluate(plan.returns, scope)
        except EvaluationError as exc:
            return Failed(pal_error(plan.name, "return", str(exc)))

    def step(self, plan: Plan, step: Step, path: str, scope: Mapping[str, Json]) -> Outcome:
        record = self.job.steps.get(path)
        if record is not None and record.done:
            return self._ended(step, record.ok, record.result)
        if step.action == "plan":
            return self._called_plan(plan, step, path, scope, started=record is not None)
        if step.action in NODE_ACTIONS:
            if record is None:
                return self._start_on_nodes(plan, step, path, scope)
            return self._job_ended(step, path, record)
        return self._immediate(plan, step, path, scope)

    def _ended(self, step: Step, ok: bool, result: Json) -> Outcome:
        if ok or step.catch_errors:
            return result
        if step.action in NODE_ACTIONS and isinstance(result, list):
            return Failed(run_failure(step, result))
        return Failed(result)

    def _finish(self, step: Step, path: str, ok: bool, result: Json) -> Outcome:
        self.events.append(
            PlanStepFinished(
                at=self.now,
                plan_job=self.job.name,
                step=path,
                attempt=self.job.attempt,
                ok=ok,
                result=result,
            )
        )
        return self._ended(step, ok, result)

    def _start(
        self, step: Step, path: str, *, object: str = "", job_request: str = "", message: str = ""
    ) -> None:
        self.events.append(
            PlanStepStarted(
                at=self.now,
                plan_job=self.job.name,
                step=path,
                attempt=self.job.attempt,
                action=step.action,
                object=object,
                job_request=job_request,
                message=message,
            )
        )

    def _immediate(self, plan: Plan, step: Step, path: str, scope: Mapping[str, Json]) -> Outcome:
        """A message, verbose or eval step: started and ended in one batch."""
        assert step.body is not None
        try:
            value = evaluate(step.body, scope)
        except EvaluationError as exc:
            self._start(step, path)
            return self._finish(step, path, False, pal_error(plan.name, step.label, str(exc)))
        if step.action == "eval":
            self._start(step, path)
            return self._finish(step, path, True, value)
        self._start(step, path, message=as_text(value))
        return self._finish(step, path, True, None)

    def _called_plan(
        self, plan: Plan, step: Step, path: str, scope: Mapping[str, Json], *, started: bool
    ) -> Outcome:
        called = self.plans[step.object]
        try:
            params = self._evaluate_map(step.parameters, scope)
            if step.targets is not None:
                params["targets"] = evaluate(step.targets, scope)
        except EvaluationError as exc:
            if not started:
                self._start(step, path, object=step.object)
            return self._finish(step, path, False, pal_error(plan.name, step.label, str(exc)))
        checked, problems = check_parameters(_declared(called.declarations()), params)
        if not started:
            self._start(step, path, object=step.object)
        if problems:
            message = "; ".join(p.message for p in problems)
            error = pal_error(plan.name, step.label, f"plan {called.name}: {message}")
            return self._finish(step, path, False, error)
        outcome = self.plan(called, checked, f"{path}.")
        if isinstance(outcome, _Waiting):
            return WAITING
        if isinstance(outcome, Failed):
            return self._finish(step, path, False, outcome.error)
        return self._finish(step, path, True, outcome)

    def _start_on_nodes(
        self, plan: Plan, step: Step, path: str, scope: Mapping[str, Json]
    ) -> Outcome:
        try:
            assert step.targets is not None
            nodes = resolve_targets(evaluate(step.targets, scope), self.inventory)
            task, params, object = self._task_of(step, scope)
        except EvaluationError as exc:
            self._start(step, path, object=step.object)
            return self._finish(step, path, False, pal_error(plan.name, step.label, str(exc)))
        declared = self.job.tasks.get(task) or {}
        try:
            parameters = declared_parameters(declared.get("parameters"))
        except ParameterDeclarationError as exc:  # the bundle checked it: a changed task
            self._start(step, path, object=object)
            return self._finish(step, path, False, pal_error(plan.name, step.label, str(exc)))
        params, problems = check_parameters(parameters, params)
        if step.noop and not declared.get("supports_noop"):
            problems = [*problems, _noop_problem(task)]
        if problems or not nodes:
            self._start(step, path, object=object)
            if not nodes:
                return self._finish(step, path, True, [])
            message = f"task {task}: " + "; ".join(p.message for p in problems)
            return self._finish(step, path, False, pal_error(plan.name, step.label, message))
        request_id = f"plan:{self.job.name}:{self.job.attempt}:{path}"
        spec = TaskJob(
            environment=self.job.environment,
            scope=JobScope(nodes=nodes),
            noop=step.noop,
            description=step.description or f"{self.job.plan}: {step.label}",
            origin=JobOrigin(plan_job=self.job.name),
            task=task,
            params=params,
            sensitive=sensitive_names(parameters),
        )
        self.events.append(
            JobRequested(
                at=self.now,
                request_id=request_id,
                owner=self.job.owner,
                spec=spec,
                nodes=nodes,
                targets=targets_for(nodes, self.inventory),
            )
        )
        self._start(step, path, object=object, job_request=request_id)
        return WAITING

    def _task_of(self, step: Step, scope: Mapping[str, Json]) -> tuple[str, dict[str, Json], str]:
        """The task a step on nodes runs, its parameters, and the object its results name."""
        if step.action == "task":
            return step.object, self._evaluate_map(step.parameters, scope), step.object
        if step.action == "command":
            assert step.body is not None
            command = as_text(evaluate(step.body, scope))
            env = self._evaluate_map(step.env_vars, scope)
            exports = "".join(f"export {k}={shlex.quote(as_text(v))}; " for k, v in env.items())
            return SHIM_TASKS["command"], {"command": exports + command}, command
        content = self.job.files.get(step.object, "")
        if step.action == "script":
            arguments = [] if step.parameters is None else evaluate(step.parameters, scope)
            script: dict[str, Json] = {
                "content": content,
                "arguments": [as_text(a) for a in arguments],
                "name": step.object.rsplit("/", 1)[-1],
            }
            return SHIM_TASKS["script"], script, step.object
        assert step.destination is not None
        path = as_text(evaluate(step.destination, scope))
        upload: dict[str, Json] = {"path": path, "content": content}
        if step.object in self.job.file_modes:
            upload["mode"] = self.job.file_modes[step.object]  # kept, as Bolt's upload keeps it
        return SHIM_TASKS["upload"], upload, step.object

    def _job_ended(self, step: Step, path: str, record: StepRecord) -> Outcome:
        job = None if record.job is None else self.state.jobs.get(record.job)
        if job is None:
            # An ended plan's jobs leave memory (podium.history): a step left unfinished by a
            # stop, passed over by a resume from a later step, has no results to give.
            why = (
                "the step's job is not in the log"
                if record.job is None
                else f"the step's job {record.job} ended after the plan was stopped, without "
                "a result for this step; resume from this step to run it again"
            )
            return self._finish(step, path, False, pal_error(self.job.plan, step.label, why))
        if job.state not in JOB_TERMINAL:
            return WAITING
        results = result_set(job, step.action, record.object)
        ok = all(r["status"] == "success" for r in results)
        return self._finish(step, path, ok, results)

    @staticmethod
    def _evaluate_map(expr: Expr | None, scope: Mapping[str, Json]) -> dict[str, Json]:
        value = {} if expr is None else evaluate(expr, scope)
        if not isinstance(value, dict):
            raise EvaluationError(f"expected a hash, got {value!r}")
        return dict(value)


def _declared(declarations: dict[str, Json]) -> dict[str, Parameter] | None:
    """A called plan's parameters; the bundle checked their declarations when the run began."""
    return declared_parameters(declarations)


def _noop_problem(task: str) -> Problem:
    return Problem("_noop", "", f"task {task} does not support noop")
