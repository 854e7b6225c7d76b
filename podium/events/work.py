"""Messages that travel beside the log: node-run work items and stop notices.

They are not history (the log has `NodeRunDispatched` and `JobStopRequested` for that); they tell
executors what to do now, so they carry everything an executor needs and nothing it must look up.
"""

from __future__ import annotations

import msgspec

from podium.events.model import JobKind
from podium.jsontypes import Json


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


class WorkItem(msgspec.Struct, frozen=True, array_like=True, kw_only=True):
    job: str
    node: str
    attempt: int
    transport: str
    config: dict[str, Json]
    spec: RunSpec
    features: list[str] = []


class StopNotice(msgspec.Struct, frozen=True, array_like=True, kw_only=True):
    """Executors skip queued runs of `job`; with `force` they also kill its runs in progress."""

    job: str
    force: bool = False
