"""Shared fixtures: an embedded engine on a temporary data dir, and an HTTP client for it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import pytest
from aiohttp.test_utils import TestClient, TestServer

from podium.engine import Engine
from podium.events.amqp.broker import Broker
from podium.events.amqp.settings import AmqpSettings
from podium.events.amqp.topology import delete_everything
from podium.executor.settings import base_env
from podium.jsontypes import Json
from podium.options import OPTIONS, build_settings
from podium.settings import EXAMPLES, Settings
from tests.puppet import Launch, PuppetServers, launch
from tests.sshd import SshServer, free_port, missing, running_sshd

DATA: Final = Path(__file__).parent / "data"
ENVIRONMENTS: Final = DATA / "environments"
INVENTORY: Final = DATA / "inventory.yaml"
FLEET: Final = DATA / "fleet"  # 52 nodes with nested facts, and node groups over them
TERMINAL: Final = frozenset({"finished", "failed", "stopped"})


def settings_for(data_dir: Path, amqp: AmqpSettings | None = None, **given: Any) -> Settings:
    """Settings as the CLI would build them, from values by option (`inventory=...`, named as
    the flags are), on the test data; `amqp` runs on RabbitMQ."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "environments": ENVIRONMENTS,
        "inventory": INVENTORY,
        "node_groups": FLEET / "node_groups.yaml",
        "watch_s": 0.0,  # tests reload explicitly
        "fsync": False,
        "code_refresh_s": 0.0,  # tests change task files and expect the next request to see it
        "shutdown_grace_s": 5.0,
        **given,
    }
    unknown = set(values) - {option.dest for option in OPTIONS}
    assert not unknown, f"no such options: {sorted(unknown)}"
    settings = build_settings(values, base_env(os.environ))  # the environment as the CLI takes it
    return replace(settings, amqp=amqp)


NODE_ENDS: Final = frozenset({"node_finished", "node_failed", "node_errored", "node_skipped"})


def most_running_at_once(events: list[Json]) -> int:
    """The most nodes running at once, replaying job events in id order."""
    running: set[str] = set()
    peak = 0
    for event in sorted(events, key=lambda event: int(event["id"])):
        node = event["details"].get("node")
        if event["type"] == "node_running":
            running.add(node)
        elif event["type"] in NODE_ENDS:
            running.discard(node)
        peak = max(peak, len(running))
    return peak


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

    async def admin(self, path: str, body: Json) -> Json:
        """POST to the admin endpoints (/podium/v1); the change must succeed."""
        response = await self.client.post(f"/podium/v1{path}", json=body, headers=self.headers)
        assert response.status in (200, 201), await response.text()
        return await response.json()

    async def as_new_user(self, login: str, permissions: list[str]) -> Api:
        """A client for a new user whose one role (named after it) holds `permissions`."""
        await self.admin("/users", {"login": login})
        await self.admin("/roles", {"name": login, "permissions": permissions})
        await self.admin(f"/roles/{login}/assign", {"users": [login]})
        token = (await self.admin("/tokens", {"user": login}))["token"]
        return Api(self.client, token)

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


@asynccontextmanager
async def serving(engine: Engine, token: str | None = None) -> AsyncIterator[Api]:
    """An HTTP client for the engine's api, with its admin token (or the one given)."""
    if token is None:
        assert engine.api.token_path is not None, "another replica made the admin token"
        token = engine.api.token_path.read_text().strip()
    async with TestClient(TestServer(engine.api.app)) as client:
        yield Api(client, token)


@asynccontextmanager
async def running(data_dir: Path, **overrides: Any) -> AsyncIterator[tuple[Engine, Api]]:
    """An engine on `settings_for(data_dir, **overrides)` and a client for its api; both
    closed on the way out."""
    engine = await Engine.start(settings_for(data_dir, **overrides))
    try:
        async with serving(engine) as api:
            yield engine, api
    finally:
        await engine.close()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    started = await Engine.start(settings_for(tmp_path / "data"))
    try:
        yield started
    finally:
        await started.close()


@pytest.fixture
async def api(engine: Engine) -> AsyncIterator[Api]:
    async with serving(engine) as client:
        yield client


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """One real sshd for the whole test run (see tests/sshd.py)."""
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def ssh_inventory(path: Path, server: SshServer) -> Path:
    """`localhost` on `local`; `ssh-1` and `ssh-2` on the test sshd (one host, two names);
    `ssh-down` on a port where nothing listens."""
    ssh = {
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "private-key": str(server.client_key),
        "host-key-check": False,
    }
    inventory = {
        "version": 2,
        "config": {"transport": "sim"},
        "groups": [
            {"name": "local", "targets": ["localhost"], "config": {"transport": "local"}},
            {
                "name": "ssh",
                "targets": [
                    {"name": "ssh-1"},  # names, not URIs: a URI's host would win over config
                    {"name": "ssh-2"},
                    {"name": "ssh-down", "config": {"ssh": {"port": free_port()}}},
                ],
                "config": {"transport": "ssh", "ssh": ssh},
            },
        ],
    }
    path.write_text(json.dumps(inventory))  # JSON is YAML
    return path


@pytest.fixture
async def examples_api(tmp_path: Path, sshd: SshServer) -> AsyncIterator[Api]:
    """An engine on the example environment, whose inventory reaches the test sshd."""
    inventory = ssh_inventory(tmp_path / "inventory.yaml", sshd)
    settings = settings_for(
        tmp_path / "data", environments=EXAMPLES / "environments", inventory=inventory
    )
    engine = await Engine.start(settings)
    try:
        async with serving(engine) as client:
            yield client
    finally:
        await engine.close()


# RabbitMQ: a broker someone started (PODIUM_AMQP_URL), else the local one on 127.0.0.1:5672,
# else testcontainers when Docker answers; otherwise skip, or fail under CI.

DEFAULT_AMQP_URL: Final = "amqp://guest:guest@127.0.0.1:5672/"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    url = os.environ.get("PODIUM_AMQP_URL")
    if url:
        yield url
        return
    if _port_open("127.0.0.1", 5672):
        yield DEFAULT_AMQP_URL
        return
    try:
        from testcontainers.community.rabbitmq import (  # type: ignore[import-not-found]
            RabbitMqContainer,
        )

        container = RabbitMqContainer("rabbitmq:3.10-management")
    except Exception as exc:  # the extra is missing, or Docker does not answer
        reason = (
            "no RabbitMQ broker: PODIUM_AMQP_URL is unset, nothing listens on 127.0.0.1:5672 "
            f"and Docker is not available ({exc!r}); start one with `rabbitmq-server -detached`"
        )
        missing(reason)
    with container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(5672)
        yield f"amqp://guest:guest@{host}:{port}/"


@pytest.fixture
def amqp_settings(amqp_url: str) -> AmqpSettings:
    """Settings with a prefix of the test's own, so tests never see each other's queues."""
    return AmqpSettings(url=amqp_url, prefix=f"test-{uuid.uuid4().hex[:10]}", connect_timeout_s=10)


@asynccontextmanager
async def open_broker(settings: AmqpSettings, role: str = "test") -> AsyncIterator[Broker]:
    """A broker connection whose queues and exchanges are deleted afterwards."""
    opened = await Broker.open(settings, role)
    try:
        yield opened
    finally:
        await delete_everything(opened)
        await opened.close()


@pytest.fixture
async def broker(amqp_settings: AmqpSettings) -> AsyncIterator[Broker]:
    async with open_broker(amqp_settings) as opened:
        yield opened


# Puppet: puppetserver and PuppetDB (tests/puppet.py), once per session. They take a minute or more
# to start, so they are launched as soon as collection shows a test needs them, and those tests
# run last: the servers start while the others run.

PUPPET_LAUNCH: Final = pytest.StashKey[Launch]()


@pytest.hookimpl(trylast=True)  # after pytest-randomly has shuffled the order
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needing = {id(item) for item in items if "puppet_servers" in getattr(item, "fixturenames", ())}
    if not needing or config.option.collectonly:
        return
    items[:] = [item for item in items if id(item) not in needing] + [
        item for item in items if id(item) in needing
    ]
    config.stash[PUPPET_LAUNCH] = launch(Path(tempfile.mkdtemp(prefix="podium-puppet-")))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    launched = config.stash.get(PUPPET_LAUNCH, None)
    summary = launched.summary() if launched is not None else None
    if summary is not None:
        terminalreporter.write_line(summary)


def pytest_unconfigure(config: pytest.Config) -> None:
    launched = config.stash.get(PUPPET_LAUNCH, None)
    if launched is not None:
        launched.stop()


@pytest.fixture(scope="session")
def puppet_servers(pytestconfig: pytest.Config) -> PuppetServers:
    """The running servers; skipped (or failed under CI) when this machine lacks them."""
    launched = pytestconfig.stash.get(PUPPET_LAUNCH, None)
    if launched is None:  # asked for by a test that collection did not see
        launched = launch(Path(tempfile.mkdtemp(prefix="podium-puppet-")))
        pytestconfig.stash[PUPPET_LAUNCH] = launched
    return launched.servers()
