"""The ports every role talks to, with their contracts. Adapters: `filelog`, `snapshots`
(`FileSnapshots`), `memory`, and `amqp` for each.

One contract suite per port (tests/integration/test_*_contract*.py) runs against every adapter.
A port whose adapter runs in the background (`Heartbeats.listen`, `Leadership.run`,
`Mirror.run`) says so: whoever assembles the process runs it for as long as the port is used.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from podium.events.model import Event
from podium.events.state import State
from podium.events.work import StopNotice, WorkItem

if TYPE_CHECKING:  # snapshots.py raises the errors declared here
    from podium.events.snapshots import Snapshot


class PortError(Exception):
    """Root of the errors adapters raise; the driver's own error is kept as `__cause__`."""


class LogUnavailable(PortError):
    """Raised when an append was not confirmed. Unless `sent` is False (nothing left this
    process), the batch may still have landed, which is why every event carries an (origin,
    seq) id and the fold drops copies."""

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class Unconfirmed(LogUnavailable):
    """Raised when the producer gave up on events that had left the process: they may be on
    the log or not, and only a reader that has passed a later record can tell which."""

    def __init__(self, message: str, events: Sequence[Event]) -> None:
        super().__init__(message, sent=True)
        self.events = events


class LogCorrupted(PortError):
    """Raised on open when the log is damaged other than by a torn last record, or a snapshot
    does not fit it; the message names the file, the record and the byte, in one line. Nothing
    was changed."""


class LogTruncated(PortError):
    """Raised when records a reader asked for are gone (retention dropped them): the reader must
    start again from a newer snapshot, never fold across the gap."""


class QueueUnavailable(PortError):
    """Raised when work or a notice could not be handed to the broker."""


class Record(NamedTuple):
    """One appended batch. `offset` numbers records (not events) in append order; `marker` is
    set on the empty records that `EventLog.head` may append. `chain` is the record's chain
    hash where the log keeps one (the file log: SHA-256 over the record, which holds the
    previous record's; see `logformat`; RabbitMQ: its producer's chain, named by `producer`;
    see `amqp.chain`), empty elsewhere."""

    offset: int
    events: list[Event]
    marker: str = ""
    chain: bytes = b""
    producer: str = ""


class Head(NamedTuple):
    """Where the log ended when `EventLog.head` was called: a reader has seen everything
    appended before then once it has read the record below `offset`, or the record carrying
    `marker` (for logs that learn their end by appending a marker)."""

    offset: int = 0
    marker: str = ""

    def reached_by(self, record: Record) -> bool:
        if self.marker:
            return record.marker == self.marker
        return record.offset + 1 >= self.offset


class EventLog(Protocol):
    async def append(self, batch: Sequence[Event]) -> None:
        """Return once the batch is durable as one record. Raises LogUnavailable otherwise."""

    def subscribe(self, from_offset: int) -> AsyncGenerator[Record, None]:
        """Yield every record from `from_offset` on, in order, then each new one as it is
        appended. Ends only when the log is closed."""

    async def head(self) -> Head:
        """Where the log ends now. Raises LogUnavailable."""

    async def close(self) -> None: ...


class Delivery(Protocol):
    """Work items delivered together, and acked or released together: the items of one
    `WorkQueue.put` go in deliveries of at most `WorkQueue.batch` items."""

    @property
    def items(self) -> Sequence[WorkItem]: ...

    async def ack(self) -> None:
        """Done with the items: they are never delivered again. Items whose consumer goes away
        without acking them are delivered again, to any consumer."""

    async def release(self) -> None:
        """Not done with the items, and not going to be: deliver them again, to any consumer."""


class WorkQueue(Protocol):
    @property
    def durable(self) -> bool:
        """Whether queued items outlive the process (False for the in-process queue)."""

    @property
    def batch(self) -> int:
        """The most items one delivery carries."""

    async def put(self, items: Sequence[WorkItem]) -> None:
        """Queue items for competing consumers, in order, in deliveries of at most `batch`.
        Raises QueueUnavailable."""

    def consume(self, prefetch: int) -> AsyncGenerator[Delivery, None]:
        """Deliver, never more than `prefetch` deliveries unacked at once."""

    async def close(self) -> None: ...


class ParkedWork(Protocol):
    """Where a work queue puts the deliveries it gave up on."""

    @property
    def delivery_limit(self) -> int:
        """How often a delivery may be released (or left unacked by a departing consumer)."""

    def parked(self) -> AsyncGenerator[Delivery, None]:
        """Deliveries released more than `delivery_limit` times, each once, for the scheduler
        to settle; an acked one is gone, one released is parked again."""


class StopBus(Protocol):
    async def publish(self, notice: StopNotice) -> None:
        """Tell every executor now listening. Raises QueueUnavailable."""

    def subscribe(self) -> AsyncGenerator[StopNotice, None]:
        """Notices published from now on, to every subscriber."""


class Heartbeats(Protocol):
    async def beat(self, executor: str, at: float) -> None:
        """Say that `executor` was alive at `at` (seconds since the epoch). Raises
        QueueUnavailable."""

    def last_seen(self) -> Mapping[str, float]:
        """When each executor heard from since `listen` started was last alive, by this
        process's clock: at or after the `at` of its latest beat."""

    async def listen(self) -> None:
        """Hear beats until cancelled: a process that reads `last_seen` runs it."""


class Leadership(Protocol):
    """Which scheduler may act. Only the holder makes lifecycle decisions."""

    @property
    def is_leader(self) -> bool: ...

    async def acquired(self) -> None:
        """Return once this process leads."""

    async def lost(self) -> None:
        """Return once this process does not lead (at once if it does not now)."""

    async def run(self) -> None:
        """Contend for leadership until cancelled; cancelled, this process does not lead."""


class SnapshotStore(Protocol):
    async def save(self, snapshot: Snapshot) -> None:
        """Keep the snapshot; the newest saved is what `latest` returns. Raises PortError."""

    async def latest(self) -> Snapshot | None:
        """The newest snapshot saved, None when there is none or it cannot be read (the
        caller folds the log instead). Raises PortError when the store does not answer."""


class Mirror(Protocol):
    """Job events, as clients see them, published for subscribers outside the API while this
    process leads. A live feed: nothing is kept for a subscriber that is not there."""

    def on_record(self, record: Record, state: State) -> None:
        """A projector listener: note the job events folding `record` added to `state`."""

    async def run(self) -> None:
        """Publish what `on_record` noted, until cancelled."""
