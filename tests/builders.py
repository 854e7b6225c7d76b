"""Builders for events and histories, shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from podium.events.jobspec import DeployJob, JobSpec, TaskJob
from podium.events.model import Component, Event, JobRequested, Target


def stamp(events: Iterable[Event], origin: str = "test", first_seq: int = 1) -> list[Event]:
    """Stamp events as a producer would: one origin, consecutive seqs."""
    return [
        msgspec.structs.replace(event, origin=origin, seq=first_seq + index)
        for index, event in enumerate(events)
    ]


def job_requested(
    nodes: Sequence[str],
    *,
    request_id: str,
    kind: str = "task",
    concurrency: int | None = None,
    at: float = 1000.0,
    transport: str = "sim",
    components: Sequence[Component] = (),
    refused: dict[str, str] | None = None,
) -> JobRequested:
    spec: JobSpec
    if kind == "deploy":
        spec = DeployJob(environment="production", concurrency=concurrency)
    else:
        spec = TaskJob(environment="production", concurrency=concurrency, task="mod::t")
    return JobRequested(
        at=at,
        request_id=request_id,
        owner="user-1",
        spec=spec,
        nodes=list(nodes),
        targets=[Target(transport, {}, list(nodes))],
        components=list(components),
        refused=refused or {},
    )
