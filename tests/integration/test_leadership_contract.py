"""One contract for every Leadership adapter: the sole scheduler of one process, and the
RabbitMQ lock queue. (Two contenders on RabbitMQ: tests/integration/test_amqp.py.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from podium.events.amqp.leader import AmqpLeadership
from podium.events.memory import SoleLeader
from podium.events.ports import Leadership
from tests.conftest import open_broker


@pytest.fixture(params=["sole", "amqp"])
async def leadership(request: pytest.FixtureRequest) -> AsyncIterator[Leadership]:
    if request.param == "sole":
        yield SoleLeader()
        return
    async with open_broker(request.getfixturevalue("amqp_settings")) as broker:
        yield AmqpLeadership(broker)


async def test_a_lone_contender_comes_to_lead_and_stays(leadership: Leadership) -> None:
    contending = asyncio.ensure_future(leadership.run())
    try:
        async with asyncio.timeout(10):
            await leadership.acquired()
        assert leadership.is_leader
        losing = asyncio.ensure_future(leadership.lost())
        await asyncio.sleep(0.3)
        assert not losing.done()  # nobody took it away
        losing.cancel()
    finally:
        contending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await contending
