"""Shared fixtures: an embedded engine on a temporary data dir, and an HTTP client for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import pytest
from aiohttp.test_utils import TestClient, TestServer

from podium.serve import Embedded
from podium.settings import ServeSettings

DATA: Final = Path(__file__).parent / "data"
ENVIRONMENTS: Final = DATA / "environments"
INVENTORY: Final = DATA / "inventory.yaml"
TERMINAL: Final = frozenset({"finished", "failed", "stopped"})
Json = Any


def settings_for(data_dir: Path, **overrides: Any) -> ServeSettings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "environments": ENVIRONMENTS,
        "inventory": INVENTORY,
        "fsync": False,
        "shutdown_grace_s": 5.0,
    }
    values.update(overrides)
    return ServeSettings(**values)


class Api:
    """A client for the orchestrator API of a running engine, token included."""

    def __init__(self, client: TestClient[Any, Any], token: str) -> None:
        self.client = client
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Authentication": self.token}

    async def post(self, path: str, body: Json) -> tuple[int, Json]:
        response = await self.client.post(
            f"/orchestrator/v1{path}", json=body, headers=self.headers
        )
        return response.status, await response.json()

    async def post_raw(self, path: str, data: bytes) -> tuple[int, Json]:
        response = await self.client.post(
            f"/orchestrator/v1{path}", data=data, headers=self.headers
        )
        return response.status, await response.json()

    async def get(self, path: str) -> tuple[int, Json]:
        response = await self.client.get(f"/orchestrator/v1{path}", headers=self.headers)
        return response.status, await response.json()

    async def ok(self, path: str) -> Json:
        status, body = await self.get(path)
        assert status == 200, body
        return body

    async def run_task(self, nodes: list[str], task: str = "testmod::echo", **extra: Json) -> str:
        body = {"task": task, "params": {}, "scope": {"nodes": nodes}, **extra}
        status, answer = await self.post("/command/task", body)
        assert status == 202, answer
        return str(answer["job"]["name"])

    async def wait_job(self, name: str, timeout_s: float = 20.0) -> Json:
        """Poll until the job has ended; return it."""
        async with asyncio.timeout(timeout_s):
            while True:
                job = await self.ok(f"/jobs/{name}")
                if job["state"] in TERMINAL:
                    return job
                await asyncio.sleep(0.02)

    async def wait_node_state(
        self, name: str, state: str, count: int, timeout_s: float = 20.0
    ) -> None:
        async with asyncio.timeout(timeout_s):
            while True:
                job = await self.ok(f"/jobs/{name}")
                if (job["node_states"] or {}).get(state, 0) >= count:
                    return
                await asyncio.sleep(0.02)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Embedded]:
    started = await Embedded.start(settings_for(tmp_path / "data"))
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture
async def api(engine: Embedded) -> AsyncIterator[Api]:
    async with TestClient(TestServer(engine.app)) as client:
        yield Api(client, engine.token_path.read_text().strip())
