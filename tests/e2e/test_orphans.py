"""`kill -9` of `podium serve` leaves no process of a local run behind: the task and what it
started die with the server, and the restarted server records the run `errored`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.e2e.test_serve import client, server_process

TASK = """#!/bin/sh
# The task's own shell, and a child of it that would outlive everything (Bolt-style PT_ input).
sleep 25 &
echo "$$ $!" > "$PT_pidfile.tmp"
mv "$PT_pidfile.tmp" "$PT_pidfile"
wait
"""


def environments(root: Path) -> Path:
    tasks = root / "production" / "modules" / "hold" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "init.sh").write_text(TASK)
    (tasks / "init.sh").chmod(0o755)
    return root


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie (reaped or not, a zombie runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def test_a_local_run_dies_with_a_killed_server(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("targets: [{name: localhost, config: {transport: local}}]\n")
    envs = environments(tmp_path / "environments")
    pidfile = tmp_path / "pids"
    with server_process(tmp_path / "data", inventory, "--environments", str(envs)) as server:
        async with client(server) as api:
            body = {"task": "hold", "params": {"pidfile": str(pidfile)}}
            job = await api.task(["localhost"], **body)
            async with asyncio.timeout(30):
                while not pidfile.exists():
                    await asyncio.sleep(0.05)
            pids = [int(pid) for pid in pidfile.read_text().split()]
            assert all(alive(pid) for pid in pids)
            server.kill()  # SIGKILL

        async with asyncio.timeout(10):  # the kernel tells the launcher at once
            while any(alive(pid) for pid in pids):
                await asyncio.sleep(0.05)

        async with client(server) as api:
            ended = await api.wait_job(job)
            nodes = (await api.get(f"/jobs/{job}/nodes"))["items"]
    assert ended["node_states"] == {"errored": 1}
    assert nodes[0]["state"] == "errored"
    assert not any(alive(pid) for pid in pids)
    assert os.getpid() not in pids
