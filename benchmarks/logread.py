"""Reading a deployment's event log from outside, for exact event times.

The API shows whole-second timestamps; the log holds each event's `at` as a float. The harness
folds the log with Podium's own fold and reads job and event times from that state.
"""

from __future__ import annotations

from pathlib import Path

from podium.events.amqp.broker import Broker
from podium.events.amqp.log import AmqpEventLog
from podium.events.amqp.settings import AmqpSettings
from podium.events.codec import decode_batch
from podium.events.fold import fold_all
from podium.events.logformat import payloads
from podium.events.model import Event
from podium.events.segments import SEGMENT_SUFFIX, segments_dir
from podium.events.state import State


def file_events(path: Path) -> list[Event]:
    """Every event of an embedded log (its segments, or a single file from before them), read
    without opening it for writing."""
    files = [path] if path.is_file() else sorted(segments_dir(path).glob(f"*{SEGMENT_SUFFIX}"))
    events: list[Event] = []
    for file in files:
        for payload in payloads(file.read_bytes()):
            events += decode_batch(payload)
    return events


async def amqp_events(settings: AmqpSettings) -> list[Event]:
    """Every event of a stream, up to its end now."""
    broker = await Broker.open(settings, "bench-reader")
    try:
        log = AmqpEventLog(broker)
        head = await log.head()
        events: list[Event] = []
        subscription = log.subscribe(0)
        try:
            async for record in subscription:
                events += record.events
                if head.reached_by(record):
                    break
        finally:
            await subscription.aclose()
            await log.close()
        return events
    finally:
        await broker.close()


async def folded(path: Path | None = None, amqp: AmqpSettings | None = None) -> State:
    if amqp is not None:
        return fold_all(await amqp_events(amqp))
    assert path is not None
    return fold_all(file_events(path))
