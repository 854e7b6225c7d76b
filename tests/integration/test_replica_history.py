"""History on RabbitMQ (docs/history.md): a `podium scheduler` keeps live work only and its
snapshots carry live state only; a snapshot of an earlier version, which carried every job, still
loads (a scheduler forgets its ended jobs, an api archives them); an api whose projection's
checkpoint the stream has dropped moves it aside and builds it again."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from podium.engine import Engine, Role
from podium.events.amqp.log import AmqpEventLog
from podium.events.amqp.settings import AmqpSettings
from podium.events.projector import Projector
from podium.events.snapshots import Snapshot
from podium.history.archive import Archive
from podium.history.store import PROJECTION_FILE
from tests.conftest import open_broker, serving, settings_for
from tests.integration.test_engine import snapshot as api_view
from tests.integration.test_plans import run_plan, wait_plan
from tests.integration.test_snapshots import (
    EARLY,
    RETAINED,
    dropped,
    run_jobs,
)

SCHEDULER = frozenset({Role.SCHEDULER})
API = frozenset({Role.API})


async def test_a_scheduler_keeps_live_work_only_and_snapshots_it(
    tmp_path: Path, amqp_settings: AmqpSettings
) -> None:
    async with open_broker(amqp_settings, "cleanup"):
        scheduler = await Engine.start(settings_for(tmp_path / "s", amqp=amqp_settings), SCHEDULER)
        worker = await Engine.start(
            settings_for(tmp_path / "w", amqp=amqp_settings), frozenset({Role.API, Role.EXECUTOR})
        )
        try:
            async with serving(worker) as api:
                names = await run_jobs(api, 5)
                plan = await run_plan(
                    api, "plantest", {"targets": ["localhost", "n-01"], "pkg": "curl"}
                )
                assert (await wait_plan(api, plan))["state"] == "success"
                slow = await api.run_task(["slow-1"])
                await api.wait_node_state(slow, "running", 1)
                await scheduler.projector.sync()
                state = scheduler.projector.state
                assert set(state.jobs) == {slow}  # the live one
                assert state.plan_jobs == {}
                assert state.job_count == len(names) + 2  # the plan's job, the slow one
                assert await scheduler.scheduler.snapshot_if_due(min_events=1)
                saved = await scheduler.adapters.snapshots.latest()
                assert saved is not None
                assert set(saved.state.jobs) == {slow}
                assert saved.state.plan_jobs == {}
                await api.post("/command/stop", {"job": slow, "force": True})
                await api.wait_job(slow)
                await scheduler.projector.sync()
                assert scheduler.projector.state.jobs == {}
        finally:
            await worker.close()
            await scheduler.close()


async def test_a_scheduler_that_forgot_a_failed_plan_job_runs_it_again_on_a_resume(
    tmp_path: Path, amqp_settings: AmqpSettings
) -> None:
    """The resume carries the plan job as the api read it from its projection."""
    async with open_broker(amqp_settings, "cleanup"):
        scheduler = await Engine.start(settings_for(tmp_path / "s", amqp=amqp_settings), SCHEDULER)
        worker = await Engine.start(
            settings_for(tmp_path / "w", amqp=amqp_settings), frozenset({Role.API, Role.EXECUTOR})
        )
        try:
            async with serving(worker) as api:
                marker = tmp_path / "marker"
                plan = await run_plan(api, "plantest::resumable", {"marker": str(marker)})
                assert (await wait_plan(api, plan))["state"] == "failure"
                await scheduler.projector.sync()
                assert scheduler.projector.state.plan_jobs == {}
                assert worker.projector.state.plan_jobs == {}  # archived
                marker.write_text("there\n")
                status, answer = await api.post(
                    "/command/plan_resume", {"plan_job": plan, "from_step": 2}
                )
                assert status == 202, answer
                done = await wait_plan(api, plan)
                assert done["state"] == "success", done["result"]
                assert done["result"]["found"] == "found\n"  # step 2 ran again, then 3
        finally:
            await worker.close()
            await scheduler.close()


async def test_a_snapshot_of_an_earlier_version_carrying_every_job_still_loads(
    tmp_path: Path, amqp_settings: AmqpSettings
) -> None:
    """The snapshot an earlier scheduler took held every ended job: an api replica that
    builds its projection from it archives them, a scheduler that starts from it forgets them."""
    tiny = replace(amqp_settings, log_max_bytes=RETAINED, log_segment_bytes=10_000)
    async with open_broker(tiny, "cleanup"):
        first = await Engine.start(settings_for(tmp_path / "one", amqp=tiny))
        # What a scheduler without an archive folded: the whole log, every ended job in it
        memory = Projector(first.adapters.event_log)
        folding = asyncio.get_running_loop().create_task(memory.run())
        try:
            async with serving(first) as api:
                names = await run_jobs(api, EARLY)
                async with asyncio.timeout(60):
                    await memory.sync()
                assert len(memory.state.jobs) == memory.state.job_count == len(names)
                snapshot = Snapshot(memory.next_offset, memory.state, memory.chain)
                await first.adapters.snapshots.save(snapshot)
                names += await run_jobs(api, 2)
                expected = await api_view(api, names[-20:])
                token = api.token
            await dropped(first, 0)
            replica = await Engine.start(settings_for(tmp_path / "two", amqp=tiny), API)
            try:
                async with serving(replica, token=token) as served:
                    await served.wait_job(names[-1])
                    assert await api_view(served, names[-20:]) == expected
                    listed = (await served.ok("/jobs?limit=1"))["pagination"]["total"]
                    assert listed == len(names)  # every job, archived from the snapshot
            finally:
                await replica.close()
            scheduler = await Engine.start(settings_for(tmp_path / "s", amqp=tiny), SCHEDULER)
            try:
                assert scheduler.projector.state.jobs == {}
                assert scheduler.projector.state.job_count == len(names)
            finally:
                await scheduler.close()
        finally:
            folding.cancel()
            await asyncio.wait([folding])
            await first.close()


async def test_an_api_whose_checkpoint_the_stream_dropped_builds_its_projection_again(
    tmp_path: Path, amqp_settings: AmqpSettings
) -> None:
    """It used to fail to start (LogTruncated); now the projection is moved aside (kept, as
    `.behind`) and built from the oldest snapshot the stream still covers."""
    tiny = replace(amqp_settings, log_max_bytes=RETAINED, log_segment_bytes=10_000)
    async with open_broker(tiny, "cleanup"):
        first = await Engine.start(settings_for(tmp_path / "one", amqp=tiny))
        try:
            async with serving(first) as api:
                token = api.token
                before = await run_jobs(api, 2)
                replica = await Engine.start(settings_for(tmp_path / "two", amqp=tiny), API)
                async with serving(replica, token=token) as served:
                    await served.wait_job(before[-1])
                    assert await api_view(served, before) == await api_view(api, before)
                await replica.close()
                checkpoint = await checkpoint_offset(tmp_path / "two" / PROJECTION_FILE)
                await run_jobs(api, EARLY)
                assert await first.scheduler.snapshot_if_due(min_events=1)
                after = await run_jobs(api, 2)
                expected = await api_view(api, after)
            log = first.adapters.event_log
            assert isinstance(log, AmqpEventLog)
            assert await log.first_offset() > checkpoint  # the stream no longer holds it
            # A newer snapshot to begin from, should retention pass the first before it is read
            assert await first.scheduler.snapshot_if_due(min_events=1)
            replica = await Engine.start(settings_for(tmp_path / "two", amqp=tiny), API)
            try:
                assert (tmp_path / "two" / f"{PROJECTION_FILE}.behind").is_file()
                async with serving(replica, token=token) as served:
                    await served.wait_job(after[-1])
                    assert await api_view(served, after) == expected
                    assert (await served.get(f"/jobs/{before[0]}"))[0] == 404
            finally:
                await replica.close()
        finally:
            await first.close()


async def checkpoint_offset(path: Path) -> int:
    archive, checkpoint = await Archive.open(path)
    await asyncio.to_thread(archive.store.close)
    assert checkpoint is not None
    return checkpoint.next_offset
