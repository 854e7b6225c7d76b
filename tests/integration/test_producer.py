"""The producer's batching bound: `max_batch` events per append at most, in order."""

from __future__ import annotations

from pathlib import Path

from podium.events.filelog import FileEventLog
from podium.events.model import Event, JobReady
from podium.events.producer import Producer
from tests.integration.test_filelog import read_all


def readies(count: int) -> list[Event]:
    return [JobReady(at=1.0, job=str(n)) for n in range(1, count + 1)]


async def test_more_events_than_max_batch_go_in_several_appends_in_order(tmp_path: Path) -> None:
    log = await FileEventLog.open(tmp_path / "events.log", fsync=False)
    producer = Producer(log, origin="p", max_batch=2)
    producer.start()
    stamped = await producer.emit(readies(5))
    await producer.close()
    records = await read_all(log)
    await log.close()
    assert [len(record.events) for record in records] == [2, 2, 1]
    assert [event.seq for record in records for event in record.events] == [1, 2, 3, 4, 5]
    assert [event.seq for event in stamped] == [1, 2, 3, 4, 5]


async def test_a_max_batch_of_one_appends_each_event_alone(tmp_path: Path) -> None:
    log = await FileEventLog.open(tmp_path / "events.log", fsync=False)
    producer = Producer(log, origin="p", max_batch=1)
    producer.start()
    await producer.emit(readies(3))
    await producer.emit(readies(1))
    await producer.close()
    records = await read_all(log)
    await log.close()
    assert [len(record.events) for record in records] == [1, 1, 1, 1]
