"""`python -m benchmarks.peers.client celery|dramatiq --tasks N`: one fan-out of N no-op tasks
through a peer, timed from the first submit to the last result stored; then the succeeded and
failed counts read back from the result store. Prints an `Outcome` as JSON.

The broker, queue and result store come from the environment (`benchmarks.peers.settings`). The
Redis database is flushed before the fan-out and after the reads, and nothing else lives in it,
so its key count says how many results are stored. The end of the fan-out is the latest time a
task returned (each returns `time.time()`): the moment its result was stored, to within the
store's own write. `--fail-every K` makes every K-th task raise, to check the counting.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import dramatiq
import msgspec
import redis
from celery import group
from celery.backends.redis import RedisBackend
from celery.result import AsyncResult
from dramatiq.results import ResultFailure, ResultMissing

from benchmarks.peers.outcome import Outcome, Peer
from benchmarks.peers.settings import PeerSettings

_POLL_S = 0.05


@dataclass(slots=True)
class Counts:
    succeeded: int = 0
    failed: int = 0
    last_at: float = 0.0  # the latest time a task returned
    other: list[str] = field(default_factory=list)  # neither: what they were

    def add(self, state: str, returned: object) -> None:
        if state == "ok" and isinstance(returned, float):
            self.succeeded += 1
            self.last_at = max(self.last_at, returned)
        elif state == "failed":
            self.failed += 1
        else:
            self.other.append(state)


class Fanout(Protocol):
    def submit(self, fails: list[bool]) -> None:
        """Publish one task per entry; an entry that is True makes its task raise."""

    def read(self) -> Counts:
        """Every task's state, through the library's own result API."""


class CeleryFanout:
    def __init__(self) -> None:
        from benchmarks.peers.celery_app import app, noop

        self.app = app
        self.noop = noop
        self.ids: list[str] = []

    def submit(self, fails: list[bool]) -> None:
        signatures = [self.noop.s(i, fail=fail) for i, fail in enumerate(fails)]
        result = group(signatures).apply_async()
        self.ids = [r.id for r in result.results]

    def _backend(self) -> Any:
        # A fresh backend for each read: nothing cached from an earlier read of the same results.
        return RedisBackend(app=self.app, url=self.app.conf.result_backend)

    def read(self) -> Counts:
        """The results' states in one MGET (`backend.get_many`, what `join_native` uses)."""
        counts = Counts()
        backend = self._backend()
        for _, meta in backend.get_many(self.ids, timeout=60):
            counts.add(_celery_state(meta["status"]), meta["result"])
        return counts

    def read_each(self) -> Counts:
        """Each result's state as `AsyncResult.state` reads it: one GET per result."""
        counts = Counts()
        backend = self._backend()
        for task_id in self.ids:
            result = AsyncResult(task_id, backend=backend, app=self.app)
            counts.add(_celery_state(result.state), result.result)
        return counts


def _celery_state(status: str) -> str:
    return {"SUCCESS": "ok", "FAILURE": "failed"}.get(status, status)


class DramatiqFanout:
    def __init__(self) -> None:
        from benchmarks.peers.dramatiq_app import BACKEND, noop

        self.backend = BACKEND
        self.noop = noop
        self.messages: list[Any] = []

    def submit(self, fails: list[bool]) -> None:
        messages = [self.noop.message(i, fail=fail) for i, fail in enumerate(fails)]
        fanout = dramatiq.group(messages)
        fanout.run()
        self.messages = list(fanout.children)

    def read(self) -> Counts:
        """Each message's result as `Message.get_result` reads it (what `group.get_results`
        does; the backend has no bulk read): one read per result."""
        counts = Counts()
        for message in self.messages:
            try:
                counts.add("ok", message.get_result(backend=self.backend))
            except ResultFailure:
                counts.add("failed", None)
            except ResultMissing:
                counts.add("missing", None)
        return counts


def _fanout(peer: Peer) -> Fanout:
    return CeleryFanout() if peer == "celery" else DramatiqFanout()


def wait_stored(store: redis.Redis, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while store.dbsize() < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{store.dbsize()} of {count} results stored after {timeout_s} s")
        time.sleep(_POLL_S)


def _timed(read: Callable[[], Counts]) -> tuple[Counts, float]:
    started = time.perf_counter()
    counts = read()
    return counts, time.perf_counter() - started


def run(peer: Peer, tasks: int, fail_every: int, timeout_s: float) -> Outcome:
    settings = PeerSettings.from_env()
    store = redis.Redis.from_url(settings.redis_url)
    store.flushdb()
    fanout = _fanout(peer)
    fails = [fail_every > 0 and i % fail_every == fail_every - 1 for i in range(tasks)]
    try:
        started, cpu_before = time.time(), time.process_time()
        fanout.submit(fails)
        submitted = time.time()
        wait_stored(store, tasks, timeout_s)
        client_cpu_s = time.process_time() - cpu_before
        counts, read_s = _timed(fanout.read)
        each_s: float | None = None
        if isinstance(fanout, CeleryFanout):
            each, each_s = _timed(fanout.read_each)
            _check(each, counts)
        _check(counts, Counts(tasks - sum(fails), sum(fails)))
    finally:
        store.flushdb()
    last = counts.last_at or time.time()
    return Outcome(
        peer,
        tasks,
        submitted - started,
        last - started,
        counts.succeeded,
        counts.failed,
        read_s,
        each_s,
        started,
        client_cpu_s,
    )


def _check(counts: Counts, expected: Counts) -> None:
    if (counts.succeeded, counts.failed, counts.other) != (expected.succeeded, expected.failed, []):
        raise SystemExit(
            f"counted {counts.succeeded} succeeded, {counts.failed} failed, "
            f"{len(counts.other)} other ({sorted(set(counts.other))}); expected "
            f"{expected.succeeded} and {expected.failed}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers.client", description=__doc__)
    parser.add_argument("peer", choices=["celery", "dramatiq"])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--fail-every", type=int, default=0, help="every K-th task raises")
    parser.add_argument("--timeout-s", type=float, default=900.0)
    args = parser.parse_args()
    outcome = run(args.peer, args.tasks, args.fail_every, args.timeout_s)
    sys.stdout.buffer.write(msgspec.json.encode(outcome) + b"\n")


if __name__ == "__main__":
    main()
