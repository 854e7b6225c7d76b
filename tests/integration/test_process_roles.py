"""A process loads the code of the roles it runs and no other: a scheduler or an executor on
RabbitMQ never imports the HTTP API (their health endpoints are `podium.health`'s), and neither
imports the other role. Each is started for real, in a fresh interpreter."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Final

import pytest

from podium.events.amqp.settings import AmqpSettings
from tests.conftest import open_broker

START_AND_LIST: Final = """
import asyncio, json, sys
from podium.cli import settings_from
from podium.engine import Engine, Role

role, url, prefix = sys.argv[1:]
settings = settings_from([role, "--amqp-url", url, "--prefix", prefix], {})

async def main() -> None:
    async with Engine(settings, frozenset({Role(role)})) as engine:
        assert engine.health().state == "running", engine.health()

asyncio.run(main())
print(json.dumps(sorted(m for m in sys.modules if m.startswith("podium."))))
"""
ROLE_PACKAGES: Final = ("api", "scheduler", "executor")


@pytest.mark.parametrize("role", ["scheduler", "executor"])
async def test_a_process_loads_only_the_roles_it_runs(
    role: str, amqp_settings: AmqpSettings
) -> None:
    argv = [sys.executable, "-c", START_AND_LIST, role, amqp_settings.url, amqp_settings.prefix]
    async with open_broker(amqp_settings):
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    loaded = json.loads(out.decode().splitlines()[-1])
    assert f"podium.{role}.{role}" in loaded  # it did run its role
    for other in ROLE_PACKAGES:
        if other != role:
            code = [m for m in loaded if m.startswith(f"podium.{other}.")]
            assert code == [f"podium.{other}.settings"], other  # its part of the settings only
