"""The SQLite database of ended jobs: its schema, one writer thread, a few reader threads.

WAL mode, so readers never wait on the writer. Rows are msgpack (msgspec): a job's head (the
`Job` without its node runs, with only its last job event); its node runs in blocks of
`NODE_BLOCK`, in the job's node order; its job events in blocks, one per job and span of
`EVENT_SPAN` event ids (an "epoch"), so that a block never holds more than a span of the log and
a replay of the log reads it a span at a time. Blocks, not a row per run or event: encoding a
list is one msgspec call, and SQLite writes a few rows per job instead of thousands.
Every write transaction records the log offset it covers; some also carry a checkpoint, the live
state (without ended jobs) and the offset it covers, from which a restart folds the tail.

A file that SQLite cannot read, or of another schema version, is set aside and started afresh:
the log is the truth, and the projection is rebuilt from it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NamedTuple

import msgspec
import structlog

from podium.events.jobspec import JobScope, TaskJob
from podium.events.state import Job, JobEvent, NodeRun, PlanJob, State

log = structlog.get_logger(__name__)

PROJECTION_FILE: Final = "projection.sqlite"  # in the data dir of an api process
SCHEMA_VERSION: Final = 2  # 2: ended plan jobs (a projection of 1 is rebuilt)
MAX_SHARING: Final = 64  # api processes sharing one data dir, each with its own projection
NODE_BITS: Final = 24  # a block's row id is its job's name << NODE_BITS | its index
NODE_BLOCK: Final = 1_000  # node runs per row
EVENT_SPAN: Final = 512  # event ids per epoch: an events row holds one job's, of one epoch
READER_THREADS: Final = 2
_SCHEMA: Final = """
CREATE TABLE applied (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next_offset INTEGER NOT NULL,
    checkpoint_offset INTEGER,
    checkpoint BLOB,
    checkpoint_chain BLOB
);
INSERT INTO applied VALUES (1, 0, NULL, NULL, NULL);
CREATE TABLE jobs (
    name INTEGER PRIMARY KEY,
    updated_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    state TEXT NOT NULL,
    environment TEXT NOT NULL,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    task TEXT,
    head BLOB NOT NULL
);
CREATE INDEX jobs_by_finish ON jobs (finished_at);
CREATE INDEX jobs_by_time ON jobs (updated_at);
CREATE INDEX jobs_by_state ON jobs (state);
CREATE INDEX jobs_by_environment ON jobs (environment);
CREATE TABLE nodes (block INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE events (
    epoch INTEGER NOT NULL,
    job INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (epoch, job)
);
CREATE INDEX events_by_job ON events (job, epoch);
CREATE TABLE plan_jobs (
    name INTEGER PRIMARY KEY,
    updated_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    state TEXT NOT NULL,
    environment TEXT NOT NULL,
    owner TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX plan_jobs_by_finish ON plan_jobs (finished_at);
"""
# GET /jobs orders SQLite can sort as the api does (its keys end with the name, the row id, which
# every index holds); `owner` sorts on logins, which the store does not know.
SQL_ORDERS: Final = {
    "timestamp": ("updated_at", "name"),
    "name": ("name",),
    "state": ("state", "name"),
    "environment": ("environment", "name"),
}
_IN_CHUNK: Final = 500  # names per `IN (...)`, under SQLite's variable limit
SQL_INT_MAX: Final = 2**63 - 1  # SQLite's largest integer: a bigger bound means "all" here


class ProjectionBusy(Exception):
    """Raised when every projection file of a data dir is held by another process."""


def claim(directory: Path, *, first_only: bool = False) -> tuple[Path, int]:
    """A projection file of `directory` that no other process holds, and the lock holding it
    (a file descriptor: closing it lets go). `projection.sqlite`, else `projection-2.sqlite`
    and so on: api replicas sharing a data dir each keep their own, and find it again after a
    restart. Raises ProjectionBusy."""
    for number in range(1, 2 if first_only else MAX_SHARING + 1):
        name = PROJECTION_FILE if number == 1 else f"projection-{number}.sqlite"
        fd = os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return directory / name, fd
    raise ProjectionBusy(f"{directory}: every projection file is held by a running process")


class Checkpoint(NamedTuple):
    """The live state as of log offset `next_offset` (the first record it does not cover), and
    the chain hash of the record before it (empty where the log keeps none)."""

    state: State
    next_offset: int
    chain: bytes = b""


class PlanKey(NamedTuple):
    """What GET /plan_jobs filters and sorts on, without loading the plan job."""

    name: int
    updated_at: float
    state: str
    environment: str
    owner: str


class JobKey(NamedTuple):
    """What GET /jobs filters and sorts on, without loading the job."""

    name: int
    updated_at: float
    state: str
    environment: str
    owner: str


@dataclass(frozen=True, slots=True)
class JobFilter:
    """GET /jobs's filters, as SQL: those of its `wanted`, and not pruned (ended `since` on)."""

    kind: str = ""
    task: str | None = None
    earliest: float | None = None
    latest: float | None = None
    owner: str | None = None
    since: float = 0.0

    def where(self) -> tuple[str, list[object]]:
        return _filters(self.kind, self.task, _lowest(self), self.latest, self.owner)


def _lowest(which: JobFilter) -> float | None:
    """The earliest finish `which` keeps: its own, or the pruning's, whichever is later."""
    lowest = which.earliest
    if which.since:
        lowest = which.since if lowest is None else max(lowest, which.since)
    return lowest


@dataclass(slots=True)
class Write:
    """One transaction: jobs and plan jobs to archive, a pruning, the offset it brings the
    projection to, and maybe a checkpoint."""

    next_offset: int
    jobs: list[Job] = field(default_factory=list)
    pruned_before: float | None = None
    checkpoint: tuple[bytes, int, bytes] | None = None  # encoded state, next offset, chain
    plans: list[PlanJob] = field(default_factory=list)


def job_head(job: Job) -> Job:
    """What a job's row keeps of it: not its node runs (rows of their own) nor what only the
    scheduler needed; its last event, for `next-events`; its components, for a re-run."""
    return msgspec.structs.replace(
        job,
        nodes={},
        undispatched={},
        events=job.events[-1:],
        targets=[msgspec.structs.replace(target, nodes=[]) for target in job.targets],
        component_of={},
        waiting={},
        doomed={},
        refused={},
    )


class _Reader(threading.local):
    connection: sqlite3.Connection | None = None


class HistoryStore:
    """Open with `HistoryStore.open(path)` (blocking: call it from a thread), then use `write`
    on the writer thread (`writer`) and the reads on the reader threads (`readers`)."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="history-writer")
        self.readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="history-reader")
        self._write_connection = connection
        self._local = _Reader()
        self._read_connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._head = msgspec.msgpack.Decoder(Job)
        self._plan = msgspec.msgpack.Decoder(PlanJob)

    @classmethod
    def open(cls, path: Path) -> tuple[HistoryStore, Checkpoint | None]:
        """The store and its checkpoint (None for a new or rebuilt one)."""
        if not path.exists():
            log.info("no projection yet; building it from the log", path=str(path))
            return cls(path, _create(path)), None
        try:
            connection, checkpoint = _open_existing(path)
        except _Unusable as exc:
            log.warning(
                "projection unusable; rebuilding it from the log", path=str(path), why=str(exc)
            )
            _set_aside(path, damaged=exc.damaged)
            connection, checkpoint = _create(path), None
        return cls(path, connection), checkpoint

    def close(self) -> None:
        self.readers.shutdown(wait=True)
        self.writer.shutdown(wait=True)
        for connection in self._read_connections:
            connection.close()
        self._write_connection.close()

    # The writer thread's

    def write(self, write: Write) -> None:
        """One transaction; raises sqlite3.Error (nothing of it is then applied)."""
        connection = self._write_connection
        connection.execute("BEGIN")
        try:
            for job in write.jobs:
                _insert(connection, job)
            for plan in write.plans:
                _insert_plan(connection, plan)
            if write.pruned_before is not None:
                _prune(connection, write.pruned_before)
            connection.execute("UPDATE applied SET next_offset = ?", (write.next_offset,))
            if write.checkpoint is not None:
                data, offset, chain = write.checkpoint
                connection.execute(
                    "UPDATE applied"
                    " SET checkpoint = ?, checkpoint_offset = ?, checkpoint_chain = ?",
                    (data, offset, chain),
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    # The reader threads'

    def _reader(self) -> sqlite3.Connection:
        connection = self._local.connection
        if connection is None:
            connection = sqlite3.connect(self.path, check_same_thread=False)
            connection.execute("PRAGMA query_only = ON")
            self._local.connection = connection
            with self._lock:
                self._read_connections.append(connection)
        return connection

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """The reads inside see one state of the store (one read transaction): without it each
        is its own, and a job written between two of them is seen by one and not the other."""
        connection = self._reader()
        connection.execute("BEGIN")
        try:
            yield
        finally:
            connection.execute("COMMIT")

    def head(self, name: int) -> Job | None:
        row = self._reader().execute("SELECT head FROM jobs WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._head.decode(row[0])

    def heads(self, names: Iterable[int], *, light: bool = False) -> dict[int, Job]:
        """The jobs' heads; `light`: only what a job event is rendered and filtered with (its
        name, owner, kind and state), for replays that hold a job per event."""
        found: dict[int, Job] = {}
        for name, data in self._rows_named("SELECT name, head FROM jobs", names):
            head = self._head.decode(data)
            found[name] = _light(head) if light else head
        return found

    def nodes(self, name: int) -> dict[str, NodeRun]:
        """The job's node runs, in its node order."""
        decode = msgspec.msgpack.Decoder(list[NodeRun]).decode
        rows = self._reader().execute(
            "SELECT data FROM nodes WHERE block BETWEEN ? AND ? ORDER BY block", _blocks(name)
        )
        return {run.name: run for (data,) in rows for run in decode(data)}

    def events(self, name: int, start: int) -> list[JobEvent]:
        """The job's events with ids from `start` on."""
        decode = msgspec.msgpack.Decoder(list[JobEvent]).decode
        rows = self._reader().execute(
            "SELECT data FROM events WHERE job = ? AND epoch >= ? ORDER BY epoch",
            (name, _fit(start) // EVENT_SPAN),
        )
        events = [event for (data,) in rows for event in decode(data)]
        skip = bisect_left(events, start, key=lambda event: event.id)
        return events[skip:] if skip else events

    def events_between(self, low: int, high: int) -> list[tuple[int, JobEvent]]:
        """Every archived job event with an id in [low, high), with its job's name, by id."""
        decode = msgspec.msgpack.Decoder(list[JobEvent]).decode
        rows = self._reader().execute(
            "SELECT job, data FROM events WHERE epoch BETWEEN ? AND ?",
            (_fit(low) // EVENT_SPAN, _fit(high - 1) // EVENT_SPAN),
        )
        found = [
            (job, event) for job, data in rows for event in decode(data) if low <= event.id < high
        ]
        found.sort(key=lambda pair: pair[1].id)
        return found

    def keys(
        self,
        which: JobFilter,
        order_by: str | None = None,
        descending: bool = False,
        first: int | None = None,
        skip: int = 0,
    ) -> list[JobKey]:
        """The archived jobs `which` selects; with `order_by` (one of SQL_ORDERS), in that
        order, `first` of them after the `skip` first."""
        where, values = which.where()
        sql = "SELECT name, updated_at, state, environment, owner FROM jobs" + where
        if order_by is not None:
            direction = " DESC" if descending else ""
            sql += " ORDER BY " + ", ".join(f"{c}{direction}" for c in SQL_ORDERS[order_by])
            if first is not None:
                sql += " LIMIT ? OFFSET ?"
                values += [_fit(first), _fit(skip)]
        return [JobKey(*row) for row in self._reader().execute(sql, values)]

    def count(self, which: JobFilter) -> int:
        where, values = which.where()
        row = self._reader().execute("SELECT count(*) FROM jobs" + where, values).fetchone()
        return int(row[0])

    def present(self, names: Iterable[int]) -> set[int]:
        """Which of these jobs the store holds."""
        return {name for (name,) in self._rows_named("SELECT name FROM jobs", names)}

    def plan_job(self, name: int) -> PlanJob | None:
        sql = "SELECT data FROM plan_jobs WHERE name = ?"
        row = self._reader().execute(sql, (name,)).fetchone()
        return None if row is None else self._plan.decode(row[0])

    def plan_jobs(self, names: Iterable[int]) -> dict[int, PlanJob]:
        rows = self._rows_named("SELECT name, data FROM plan_jobs", names)
        return {name: self._plan.decode(data) for name, data in rows}

    def _rows_named(self, select: str, names: Iterable[int]) -> Iterator[Any]:
        """The rows of `select` whose `name` is one of `names`, `_IN_CHUNK` names a query."""
        wanted = list(names)
        connection = self._reader()
        for index in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[index : index + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            yield from connection.execute(f"{select} WHERE name IN ({marks})", chunk)

    def plan_keys(self, which: JobFilter) -> list[PlanKey]:
        """The archived plan jobs `which` selects (its owner, finish times and pruning)."""
        where, values = _filters("", None, _lowest(which), which.latest, which.owner)
        sql = "SELECT name, updated_at, state, environment, owner FROM plan_jobs" + where
        return [PlanKey(*row) for row in self._reader().execute(sql, values)]

    def count_by_state(self) -> dict[str, int]:
        rows = self._reader().execute("SELECT state, count(*) FROM jobs GROUP BY state")
        return dict(rows.fetchall())

    def first_kept(self, pruned_before: float) -> tuple[int | None, int | None]:
        """The lowest job and plan job names held and not pruned (None: none)."""
        connection = self._reader()
        jobs = "SELECT min(name) FROM jobs WHERE finished_at >= ?"
        plans = "SELECT min(name) FROM plan_jobs WHERE finished_at >= ?"
        (job,) = connection.execute(jobs, (pruned_before,)).fetchone()
        (plan,) = connection.execute(plans, (pruned_before,)).fetchone()
        return job, plan

    def applied(self) -> tuple[int, int | None]:
        """The offset the projection has applied through, and its checkpoint's."""
        row = self._reader().execute("SELECT next_offset, checkpoint_offset FROM applied")
        next_offset, checkpoint_offset = row.fetchone()
        return next_offset, checkpoint_offset


def _light(job: Job) -> Job:
    spec = msgspec.structs.replace(job.spec, scope=JobScope())
    if isinstance(spec, TaskJob):
        spec = msgspec.structs.replace(spec, params={})
    return msgspec.structs.replace(job, spec=spec, status=[], events=[], targets=[])


def _filters(
    kind: str, task: str | None, earliest: float | None, latest: float | None, owner: str | None
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    values: list[object] = []
    if kind:
        clauses.append("kind = ?")
        values.append(kind)
    if task is not None:
        clauses.append("task IS NOT NULL AND instr(task, ?) > 0")
        values.append(task)
    if earliest is not None:
        clauses.append("finished_at >= ?")
        values.append(earliest)
    if latest is not None:
        clauses.append("finished_at <= ?")
        values.append(latest)
    if owner is not None:
        clauses.append("owner = ?")
        values.append(owner)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), values


def _insert(connection: sqlite3.Connection, job: Job) -> None:
    """Insert or replace: a restart folds again what ended after the checkpoint."""
    encode = msgspec.msgpack.encode
    name = int(job.name)
    task = getattr(job.spec, "task", None)
    # GET /jobs's `type` (podium.api.views.job_type): a plan job's tasks are `plan_task`.
    kind = "plan_task" if job.spec.origin.plan_job is not None else job.kind
    connection.execute(
        "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            name,
            job.updated_at,
            job.finished_at,
            job.state.value,
            job.environment,
            job.owner,
            kind,
            task,
            encode(job_head(job)),
        ),
    )
    connection.execute("DELETE FROM nodes WHERE block BETWEEN ? AND ?", _blocks(name))
    runs = list(job.nodes.values())
    base = name << NODE_BITS
    connection.executemany(
        "INSERT INTO nodes VALUES (?, ?)",
        (
            (base + index, encode(runs[start : start + NODE_BLOCK]))
            for index, start in enumerate(range(0, len(runs), NODE_BLOCK))
        ),
    )
    connection.execute("DELETE FROM events WHERE job = ?", (name,))
    connection.executemany(
        "INSERT INTO events VALUES (?, ?, ?)",
        ((epoch, name, encode(events)) for epoch, events in _epochs(job.events)),
    )


def _insert_plan(connection: sqlite3.Connection, plan: PlanJob) -> None:
    """Insert or replace: a plan job resumed and ended again replaces what it was."""
    connection.execute(
        "INSERT OR REPLACE INTO plan_jobs VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            int(plan.name),
            plan.updated_at,
            plan.finished_at,
            plan.state.value,
            plan.environment,
            plan.owner,
            msgspec.msgpack.encode(plan),
        ),
    )


def _blocks(name: int) -> tuple[int, int]:
    """The first and last possible row id of a job's node blocks."""
    base = name << NODE_BITS
    return base, base | ((1 << NODE_BITS) - 1)


def _epochs(events: list[JobEvent]) -> Iterator[tuple[int, list[JobEvent]]]:
    """A job's events (in id order) cut where their epoch changes."""
    start = 0
    while start < len(events):
        epoch = events[start].id // EVENT_SPAN
        end = bisect_left(events, (epoch + 1) * EVENT_SPAN, lo=start, key=lambda e: e.id)
        yield epoch, events[start:end]
        start = end


def _prune(connection: sqlite3.Connection, before: float) -> None:
    names = [
        name
        for (name,) in connection.execute("SELECT name FROM jobs WHERE finished_at < ?", (before,))
    ]
    for name in names:
        connection.execute("DELETE FROM nodes WHERE block BETWEEN ? AND ?", _blocks(name))
        connection.execute("DELETE FROM events WHERE job = ?", (name,))
    connection.execute("DELETE FROM jobs WHERE finished_at < ?", (before,))
    connection.execute("DELETE FROM plan_jobs WHERE finished_at < ?", (before,))


class _Unusable(Exception):
    def __init__(self, why: str, *, damaged: bool) -> None:
        super().__init__(why)
        self.damaged = damaged


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")  # WAL: a crash keeps it consistent
    return connection


def _open_existing(path: Path) -> tuple[sqlite3.Connection, Checkpoint | None]:
    """Raises _Unusable for a file to set aside."""
    try:
        connection = _connect(path)
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            connection.close()
            raise _Unusable(f"schema version {version}, not {SCHEMA_VERSION}", damaged=False)
        row = connection.execute(
            "SELECT checkpoint, checkpoint_offset, checkpoint_chain FROM applied"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise _Unusable(f"SQLite cannot read it: {exc}", damaged=True) from exc
    if row is None:
        connection.close()
        raise _Unusable("it has no applied offset", damaged=True)
    data, offset, chain = row
    if data is None:
        return connection, None
    try:
        state = msgspec.msgpack.decode(data, type=State)
    except msgspec.DecodeError as exc:
        connection.close()
        raise _Unusable(f"its checkpoint does not decode: {exc}", damaged=True) from exc
    return connection, Checkpoint(state, offset, chain or b"")


def _create(path: Path) -> sqlite3.Connection:
    connection = _connect(path)
    connection.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
    return connection


def _set_aside(path: Path, *, damaged: bool) -> None:
    """A damaged file is kept (as `.damaged`) for a look; one of another version is removed."""
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if not path.exists():
        return
    if damaged:
        path.replace(path.with_name(path.name + ".damaged"))
    else:
        path.unlink()


def move_aside(path: Path, suffix: str) -> Path:
    """Keep a closed projection under another name (its WAL was folded in when it closed);
    the next open starts afresh. Returns where it went."""
    aside = path.with_name(path.name + suffix)
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    if path.exists():
        path.replace(aside)
    return aside


def encode_checkpoint(state: State) -> bytes:
    return msgspec.msgpack.encode(state)


def _fit(number: int) -> int:
    """A bound a client chose, as SQLite can take it (no row lies beyond its largest integer)."""
    return min(number, SQL_INT_MAX)
