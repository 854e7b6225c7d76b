"""Messages that travel beside the log: node-run work items and stop notices.

They are not history (the log has `NodeRunDispatched` and `JobStopRequested` for that); they tell
executors what to do now, so they carry everything an executor needs and nothing it must look up.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from podium.events.jobspec import RunSpec
from podium.jsontypes import Json


@dataclass(frozen=True, slots=True)
class WorkQueueSettings:
    """How work travels, the same for every adapter and every process of an installation."""

    batch: int = 16  # work items per delivery: an executor starts them together
    delivery_limit: int = 10  # a delivery given back more often than this is parked


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
