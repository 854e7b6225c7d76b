"""Record a log fixture: run `podium serve` on a scripted set of jobs and keep what it wrote.

`python -m tests.data.logs.record <out-dir>` writes `<out-dir>/events.log`, `snapshot.bin` and
`admin.token` (the data dir as `podium serve` left it) and `<out-dir>/answers.json` (what the
read API answered for each job once every job had ended). The jobs cover every event type the
embedded engine writes and every option of deploy and task. `v1/` was recorded this way by the
version before the typed job spec (main at 379dec7), and the tests fold it with the current
reader.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

import aiohttp

from podium.jsontypes import Json
from podium.settings import EXAMPLES
from tests.conftest import ENVIRONMENTS
from tests.sshd import free_port

PUBLIC_URL: Final = "http://podium.test:8143"
BASE: Final = f"{PUBLIC_URL}/orchestrator/v1"
CANARY_GROUP: Final = "9d0a3a4c-6d47-4d1e-a3f5-3b1f3a7f0003"


def environments_for(work: Path) -> Path:
    """The bundled example's production, plus the test module (sensitive parameters)."""
    root = work / "environments"
    shutil.copytree(EXAMPLES / "environments", root)
    shutil.copytree(
        ENVIRONMENTS / "production" / "modules" / "testmod",
        root / "production" / "modules" / "testmod",
    )
    return root


def inventory_for(work: Path, closed_port: int) -> Path:
    """The bundled inventory, an ssh node nobody listens for, and a node of another environment."""
    text = (EXAMPLES / "inventory.yaml").read_text()
    text += (
        "  - name: unreachable\n"
        "    targets: [ssh-down]\n"
        "    config:\n"
        "      transport: ssh\n"
        f"      ssh: {{host: 127.0.0.1, port: {closed_port}, connect-timeout: 2}}\n"
        "  - name: elsewhere\n"
        "    targets: [stray-001]\n"
        "    vars: {environment: staging}\n"
    )
    path = work / "inventory.yaml"
    path.write_text(text)
    return path


COMMANDS: Final[list[tuple[str, Json]]] = [
    (
        "task",
        {
            "task": "demo::echo",
            "params": {"message": "hello"},
            "description": "echo everywhere",
            "timeout": 60,
            "scope": {"nodes": ["localhost", "web-001", "web-002", "db-001"]},
        },
    ),
    (
        "deploy",
        {
            "environment": "production",
            "noop": True,
            "debug": True,
            "concurrency": 2,
            "userdata": {"ticket": "T-1"},
            "scope": {"nodes": ["localhost", "web-001", "web-002", "web-003", "web-004"]},
        },
    ),
    (
        "task",
        {
            "task": "demo::slow",
            "params": {"seconds": 30},
            "concurrency": 1,
            "scope": {"nodes": ["localhost", "web-005", "web-006"]},
        },
    ),
    ("deploy", {"environment": "production", "scope": {"application": "Shop[demo]"}}),
    ("task", {"task": "demo::echo", "params": {"message": "hi"}, "scope": {"nodes": ["ssh-down"]}}),
    ("deploy", {"environment": "production", "scope": {"nodes": ["web-007", "stray-001"]}}),
    (
        "task",
        {
            "task": "testmod::secret",
            "params": {"user": "ops", "password": "hunter2"},
            "scope": {"nodes": ["web-008"]},
        },
    ),
    (
        "deploy",
        {
            "environment": "",
            "enforce_environment": False,
            "no_noop": True,
            "trace": True,
            "evaltrace": True,
            "description": "no environment",
            "scope": {"nodes": ["fast-001"]},
        },
    ),
    (
        "task",
        {
            "task": "demo::touch",
            "params": {"path": "/tmp/podium-fixture-never-made"},
            "noop": True,
            "scope": {"nodes": ["web-009"]},
        },
    ),
    (
        "task",
        {
            "task": "demo::echo",
            "params": {"message": "db"},
            "scope": {"query": 'inventory[certname] { facts.role = "db" limit 2 }'},
        },
    ),
    ("deploy", {"environment": "production", "scope": {"node_group": CANARY_GROUP}}),
    ("deploy", {"environment": "production", "target": "Shop[staging]"}),
]
SLOW_JOB: Final = "3"


def _record(out: Path, work: Path) -> None:
    port = free_port()
    data = work / "data"
    command = [
        sys.executable, "-m", "podium.cli", "serve",
        "--port", str(port),
        "--data-dir", str(data),
        "--environments", str(environments_for(work)),
        "--inventory", str(inventory_for(work, free_port())),
        "--node-groups", str(EXAMPLES / "node_groups.yaml"),
        "--public-url", PUBLIC_URL,
        "--snapshot-interval-s", "1",
        "--snapshot-min-events", "1",
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        answers = asyncio.run(_drive(f"http://127.0.0.1:{port}", data))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("events.log", "snapshot.bin", "admin.token"):
        shutil.copy(data / name, out / name)
    (out / "answers.json").write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")


async def _drive(url: str, data: Path) -> Json:
    async with aiohttp.ClientSession(url) as session:
        await _wait_ready(session)
        headers = {"X-Authentication": (data / "admin.token").read_text().strip()}
        await _run_jobs(session, headers)
        await asyncio.sleep(2.5)  # a snapshot covering every job
        return await _answers(session, headers)


async def _wait_ready(session: aiohttp.ClientSession) -> None:
    async with asyncio.timeout(30):
        while True:
            try:
                async with session.get("/status/v1/simple") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


async def _run_jobs(session: aiohttp.ClientSession, headers: dict[str, str]) -> None:
    for kind, body in COMMANDS:
        path = f"/orchestrator/v1/command/{kind}"
        async with session.post(path, json=body, headers=headers) as r:
            assert r.status == 202, (kind, body, r.status, await r.text())
        if kind == "task" and body["task"] == "demo::slow":
            await _wait_state(session, headers, SLOW_JOB, {"running"})
            await asyncio.sleep(0.5)
            for stop in ({"job": SLOW_JOB}, {"job": SLOW_JOB, "force": True}):
                async with session.post(
                    "/orchestrator/v1/command/stop", json=stop, headers=headers
                ) as r:
                    assert r.status == 202, await r.text()
    for name in range(1, len(COMMANDS) + 1):
        await _wait_state(session, headers, str(name), {"finished", "failed", "stopped"})


async def _wait_state(
    session: aiohttp.ClientSession, headers: dict[str, str], name: str, states: set[str]
) -> None:
    async with asyncio.timeout(60):
        while True:
            async with session.get(f"/orchestrator/v1/jobs/{name}", headers=headers) as r:
                if (await r.json())["state"] in states:
                    return
            await asyncio.sleep(0.1)


async def _answers(session: aiohttp.ClientSession, headers: dict[str, str]) -> Json:
    paths = ["/jobs", "/inventory/ssh-down"]
    for name in range(1, len(COMMANDS) + 1):
        paths += [f"/jobs/{name}", f"/jobs/{name}/nodes", f"/jobs/{name}/events"]
    answers = {}
    for path in paths:
        async with session.get(f"/orchestrator/v1{path}", headers=headers) as r:
            assert r.status == 200, (path, await r.text())
            answers[path] = await r.json()
    return answers


def main() -> None:
    out = Path(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="podium-record-") as work:
        _record(out, Path(work))


if __name__ == "__main__":
    main()
