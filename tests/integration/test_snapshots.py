"""Starting from a snapshot gives the state that folding the whole log gives: embedded, and on
RabbitMQ after retention has dropped the start of the log."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from podium.adapters import Adapters
from podium.engine import Engine, Role
from podium.events.amqp.settings import AmqpSettings
from podium.events.amqp.snapshots import AmqpSnapshots
from podium.events.ports import LogTruncated
from podium.events.snapshots import Snapshot
from podium.events.state import State
from tests.conftest import Api, open_broker, serving, settings_for
from tests.integration.test_engine import snapshot as api_view

# A stream of RETAINED bytes drops the start of EARLY jobs' log, and keeps what comes after the
# first snapshot however small the batches of a busy run are (40,000 bytes once dropped the
# snapshot's own record after three jobs).
RETAINED = 240_000
EARLY = 300


async def run_jobs(api: Api, count: int) -> list[str]:
    names = [await api.run_task(["n-01", "n-02", "flaky-1", "flaky-2"]) for _ in range(count)]
    for name in names:
        await api.wait_job(name)
    return names


async def test_an_embedded_restart_from_a_snapshot_matches_a_full_fold(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = await Engine.start(settings_for(data))
    async with serving(engine) as api:
        names = await run_jobs(api, 5)
        assert await engine.scheduler.snapshot_if_due(min_events=1)
        names += await run_jobs(api, 2)  # some of the log comes after the snapshot
        before = await api_view(api, names)
    await engine.close()
    assert (data / "snapshot.bin").is_file()

    engine = await Engine.start(settings_for(data))
    try:
        assert engine.projector.next_offset > 0
        async with serving(engine) as api:
            assert await api_view(api, names) == before
    finally:
        await engine.close()
    (data / "snapshot.bin").unlink()
    engine = await Engine.start(settings_for(data))  # the whole log, no snapshot
    try:
        async with serving(engine) as api:
            assert await api_view(api, names) == before
    finally:
        await engine.close()


async def test_an_api_started_after_retention_builds_its_history_from_the_oldest_snapshot(
    tmp_path: Path, amqp_settings: AmqpSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Snapshots carry live state only: a replica whose stream has dropped the log's start
    folds from the oldest snapshot the stream still covers, and so has every job that ended
    after it (and none before: their names and ids would need the state before them). That
    snapshot is at the edge of retention, which may pass it before the replica's first read:
    the replica then begins again from the oldest covered one."""
    tiny = replace(amqp_settings, log_max_bytes=RETAINED, log_segment_bytes=10_000)
    async with open_broker(tiny, "cleanup"):
        first = await Engine.start(settings_for(tmp_path / "one", amqp=tiny))
        try:
            async with serving(first) as api:
                await run_jobs(api, 2)
                assert await first.scheduler.snapshot_if_due(min_events=1)  # retention drops it
                early = await run_jobs(api, EARLY)  # more than retention keeps
                assert await first.scheduler.snapshot_if_due(min_events=1)
                later = await run_jobs(api, 3)
                assert await first.scheduler.snapshot_if_due(min_events=1)
                later += await run_jobs(api, 1)
                expected = await api_view(api, later)
                token = api.token
            snapshots = first.adapters.snapshots
            assert isinstance(snapshots, AmqpSnapshots)
            oldest = await snapshots.covering(0)
            assert oldest is not None
            await dropped(first, oldest.next_offset)
            choices = await race_retention_once(monkeypatch, oldest)
            second = await Engine.start(
                settings_for(tmp_path / "two", amqp=tiny), frozenset({Role.API})
            )
            try:
                assert len(choices) == 2  # the dropped one, then the oldest covered
                assert choices[0] == oldest.next_offset < choices[1] <= second.projector.next_offset
                assert second.projector.state.position > oldest.state.position
                async with serving(second, token=token) as replica:
                    await replica.wait_job(later[-1])
                    assert await api_view(replica, later) == expected
                    listed = (await replica.ok("/jobs?order_by=name"))["items"]
                    assert [job["name"] for job in listed] == later
                    assert (await replica.get(f"/jobs/{early[-1]}"))[0] == 404
            finally:
                await second.close()
        finally:
            await first.close()


async def race_retention_once(monkeypatch: pytest.MonkeyPatch, oldest: Snapshot) -> list[int]:
    """The first start chosen is `oldest`, whose next record retention has dropped: what a
    replica meets when retention passes the snapshot it chose before its first read (a race no
    test can time). Returns the next offsets of the starts chosen, in turn."""
    chosen: list[int] = []
    real = Engine._rebuild_from

    async def rebuild_from(engine: Engine, adapters: Adapters) -> tuple[State, int, bytes]:
        start = (oldest.state, oldest.next_offset, oldest.chain)
        if chosen:
            start = await real(engine, adapters)
        chosen.append(start[1])
        return start

    monkeypatch.setattr(Engine, "_rebuild_from", rebuild_from)
    return chosen


async def dropped(engine: Engine, offset: int) -> None:
    """Retention has dropped the record at `offset`."""
    with pytest.raises(LogTruncated):
        async with asyncio.timeout(10):
            await anext(engine.adapters.event_log.subscribe(offset))
