"""Starting from a snapshot gives the state that folding the whole log gives: embedded, and on
RabbitMQ after retention has dropped the start of the log."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from podium.engine import Engine, Role
from podium.events.amqp.settings import AmqpSettings
from podium.events.ports import LogTruncated
from tests.conftest import Api, open_broker, serving, settings_for
from tests.integration.test_engine import snapshot as api_view


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


async def test_an_api_started_after_retention_rebuilds_the_state_from_a_snapshot(
    tmp_path: Path, amqp_settings: AmqpSettings
) -> None:
    # Room after the snapshot for the three jobs' records however small their batches come
    # (a busy run writes more, smaller records): 40,000 bytes once dropped the snapshot's own.
    tiny = replace(amqp_settings, log_max_bytes=80_000, log_segment_bytes=10_000)
    async with open_broker(tiny, "cleanup"):
        first = await Engine.start(settings_for(tmp_path / "one", amqp=tiny))
        async with serving(first) as api:
            names = await run_jobs(api, 90)  # more than retention keeps
            assert await first.scheduler.snapshot_if_due(min_events=1)
            names += await run_jobs(api, 3)  # after the snapshot, within retention
            expected = await api_view(api, names)
            token = api.token
        with pytest.raises(LogTruncated):  # retention has dropped the start of the log
            async with asyncio.timeout(10):
                await anext(first.adapters.event_log.subscribe(0))
        second = await Engine.start(
            settings_for(tmp_path / "two", amqp=tiny), frozenset({Role.API})
        )
        try:
            assert second.projector.next_offset > 0  # it started from the snapshot
            async with serving(second, token=token) as replica:
                await replica.wait_job(names[-1])
                assert await api_view(replica, names) == expected
        finally:
            await second.close()
            await first.close()
