"""`podium serve` as a real subprocess against a full disk (a real tmpfs, filled) and against
`kill -9` in the middle of appends: a 503 means the command never runs, the status says the log
is failing while it is, and every command answered 202 survives."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from podium.events.snapshots import decode_snapshot
from podium.jsontypes import Json
from tests.e2e.cluster import Client
from tests.e2e.test_serve import Server, client, connected, server_process, write_inventory
from tests.integration.test_full_disk import fill, small_disk

__all__ = ["small_disk"]  # the fixture, used by name

TASK: Json = {"task": "testmod::echo", "params": {}, "scope": {"nodes": ["f000"]}}


async def service_status(server: Server) -> tuple[int, Json]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.url}/status/v1/services") as response,
    ):
        body = await response.json()
        assert isinstance(body, dict)
        return response.status, body["orchestrator-service"]


def snapshot_job_count(path: Path) -> int:
    """How many jobs the snapshot's state had named (ended ones may be elsewhere)."""
    try:
        return decode_snapshot(path.read_bytes()).state.job_count
    except FileNotFoundError:
        return 0


async def job_names(api: Client) -> list[str]:
    items = (await api.get("/jobs?order_by=name"))["items"]
    assert isinstance(items, list)
    return [str(job["name"]) for job in items]


async def test_a_full_disk_answers_503_says_so_and_a_503_never_runs(
    small_disk: Path, tmp_path: Path
) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml")
    # The data dir is the small disk; the server's own output goes beside it, to tmp_path.
    snapshots_often = ("--snapshot-interval-s", "0.2", "--snapshot-min-events", "1")
    with server_process(
        small_disk, inventory, "--submit-timeout-s", "1", *snapshots_often
    ) as server:
        async with client(server) as api:
            await api.wait_job(await api.task(["f000"]))
            assert (await service_status(server))[0] == 200
            filler = fill(small_disk)
            accepted = []  # what still fit in the log's last page, which the filler leaves
            for _ in range(20):
                status, answer = await api.post("/command/task", TASK)
                if status != 202:
                    break
                accepted.append(str(answer["job"]["name"]))
            assert status == 503, answer
            assert isinstance(answer, dict)
            assert answer["kind"] == "puppetlabs.orchestrator/broker-unavailable"
            assert "No space left on device" in str(answer["msg"])
            assert set(answer) == {"kind", "msg", "details"}
            code, entry = await service_status(server)
            assert code == 503
            assert isinstance(entry, dict)
            assert entry["state"] == "error"
            assert "No space left on device" in entry["status"]["log"]
            await asyncio.sleep(1)  # snapshots fail meanwhile, every 0.2 s: the server stays up
            assert not list(small_disk.glob("snapshot.tmp"))  # and leave no half file behind
            assert server.process is not None
            assert server.process.poll() is None

            filler.unlink()
            async with asyncio.timeout(15):
                while (await service_status(server))[0] != 200:
                    await asyncio.sleep(0.1)
            await asyncio.sleep(3)  # the producer's retries would have sent it again by now
            names = ["1", *accepted]
            assert await job_names(api) == names  # the command answered 503 never ran
            assert await api.task(["f001"]) == str(len(names) + 1)  # nor took a name
            assert server.process.poll() is None
            async with asyncio.timeout(15):  # snapshots are taken again
                while snapshot_job_count(small_disk / "snapshot.bin") <= len(names):
                    await asyncio.sleep(0.1)


async def test_kill_9_mid_append_keeps_every_command_answered_202(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml")
    data = tmp_path / "data"
    accepted: list[str] = []
    with server_process(data, inventory) as server:
        async with client(server) as api:

            async def submit_forever() -> None:
                while True:
                    try:
                        status, answer = await api.post("/command/task", TASK)
                    except aiohttp.ClientError:
                        return  # the server is gone
                    if status == 202:
                        assert isinstance(answer, dict)
                        accepted.append(str(answer["job"]["name"]))

            submitters = [asyncio.create_task(submit_forever()) for _ in range(8)]
            async with asyncio.timeout(30):
                while len(accepted) < 40:
                    await asyncio.sleep(0.01)
            server.kill()  # SIGKILL, with appends in flight
            await asyncio.gather(*submitters)

        server.start()
        async with aiohttp.ClientSession() as session:
            await server.wait_ready(session)
            names = await job_names(connected(session, server))
    assert set(accepted) <= set(names)
    assert len(names) == len(set(names))
