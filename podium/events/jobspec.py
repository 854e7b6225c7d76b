"""What a job runs, as its command asked: one frozen Struct per job kind, joined in a tagged union.

The api builds the spec once from the validated command and puts it on `JobRequested`; the fold
keeps it on the job; the scheduler derives each work item's `RunSpec` from it; the read API
renders the orchestrator's `options` object from it. Nothing parses it back from a dict.

Specs are encoded as arrays like events and change by the same rules: a new field gets a
default and goes at the end of its own class (never of `JobSpecBase`, which would move the
fields of every kind), a field's type never changes, a kind is never renamed. A new kind (a
plan's task, say) is a new Struct with a new tag, added to `JobSpec`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from podium.jsontypes import Json

JobKind = Literal["deploy", "task"]


class RunSpec(msgspec.Struct, frozen=True, array_like=True, kw_only=True):
    """What to run on each node of a job: a task with its parameters, or a Puppet agent run."""

    kind: JobKind
    environment: str
    task: str = ""
    params: dict[str, Json] = {}
    noop: bool = False
    no_noop: bool = False
    debug: bool = False
    trace: bool = False
    evaltrace: bool = False
    timeout_s: float | None = None


class JobScope(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """The scope as the command gave it: one of the four set, or none for a deploy of a whole
    environment or of a `target` application."""

    nodes: list[str] | None = None
    query: Json = None  # a PuppetDB AST (a list), or a string holding PQL or an AST
    node_group: str | None = None
    application: str | None = None

    def given(self) -> dict[str, Json]:
        """The scope as the request spelled it: `{"nodes": [...]}`, `{}` when none was given."""
        return {
            key: value
            for key, value in (
                ("nodes", self.nodes),
                ("query", self.query),
                ("node_group", self.node_group),
                ("application", self.application),
            )
            if value is not None
        }


class JobOrigin(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """Where a job came from when not straight from an operator's command: the plan job that
    ran it, the schedule that started it, or the job it runs again."""

    plan_job: str | None = None
    scheduled_job_id: str | None = None
    rerun_of: str | None = None


class JobSpecBase(
    msgspec.Struct, frozen=True, array_like=True, kw_only=True, tag_field="kind", gc=False
):
    """What every kind of job has. `userdata` is the request's, `{}` when it gave none."""

    kind: ClassVar[JobKind]
    environment: str
    scope: JobScope = JobScope()
    noop: bool = False
    concurrency: int | None = None  # node runs of this job in flight at most; None: no limit
    description: str | None = None
    userdata: dict[str, Json] = {}
    origin: JobOrigin = JobOrigin()


class DeployJob(JobSpecBase, tag="deploy", frozen=True, kw_only=True):
    """A Puppet agent run on every node. `target` is the deprecated name of an application."""

    kind: ClassVar[JobKind] = "deploy"
    no_noop: bool = False
    enforce_environment: bool = True
    debug: bool = False
    trace: bool = False
    evaltrace: bool = False
    target: str | None = None

    def run_spec(self) -> RunSpec:
        return RunSpec(
            kind=self.kind,
            environment=self.environment,
            noop=self.noop,
            no_noop=self.no_noop,
            debug=self.debug,
            trace=self.trace,
            evaltrace=self.evaltrace,
        )


class TaskJob(JobSpecBase, tag="task", frozen=True, kw_only=True):
    """A task with its checked parameters (defaults applied). `sensitive` names the parameters
    whose values the read API hides."""

    kind: ClassVar[JobKind] = "task"
    task: str
    params: dict[str, Json] = {}
    sensitive: list[str] = []
    timeout_s: int | None = None  # the request's `timeout`; None: the environment's default

    def run_spec(self) -> RunSpec:
        return RunSpec(
            kind=self.kind,
            environment=self.environment,
            task=self.task,
            params=self.params,
            noop=self.noop,
            timeout_s=None if self.timeout_s is None else float(self.timeout_s),
        )


JobSpec = DeployJob | TaskJob


class PlanRun(
    msgspec.Struct,
    frozen=True,
    array_like=True,
    kw_only=True,
    tag_field="kind",
    gc=False,
    tag="plan",
):
    """A plan run a schedule starts (not a job of its own: it makes a plan job). `params` as
    given; with `wrapped`, each is as `environment_plan_run` takes it (`{"value": ...}`, or
    nodes named by `{"type": "query" | "node_group", "value": ...}`), resolved when it runs."""

    environment: str
    plan: str
    params: dict[str, Json] = {}
    wrapped: bool = False
    description: str | None = None
    userdata: dict[str, Json] = {}
    timeout_s: int | None = None

    @property
    def kind(self) -> str:
        return "plan"


ScheduledSpec = JobSpec | PlanRun
"""What a schedule runs: a job, or a plan run."""
