"""What one fan-out through a peer measured: the client prints it, the harness reads it. Neither
Celery nor Dramatiq is imported here, so the harness runs without them until a peer runs."""

from __future__ import annotations

from typing import Literal

import msgspec

Peer = Literal["celery", "dramatiq"]


class Outcome(msgspec.Struct, frozen=True):
    peer: str
    tasks: int
    submit_s: float  # publishing every task
    finished_s: float  # first submit to the last result stored
    succeeded: int
    failed: int
    count_read_s: float  # the library's read of every result's state
    count_read_each_s: float | None = None  # Celery: AsyncResult.state, one read per result
    started_at: float = 0.0  # time.time() just before the first publish
    client_cpu_s: float = 0.0  # the client's own CPU, submitting and waiting for the results

    @property
    def finished_at(self) -> float:
        return self.started_at + self.finished_s

    @property
    def runs_per_s(self) -> float:
        return self.tasks / self.finished_s
