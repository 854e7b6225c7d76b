"""One admin token for the whole log, however many api replicas start at once on RabbitMQ: the
first first-start token on the log wins, and a replica that lost writes no `admin.token`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from podium.auth import token_sha256
from podium.engine import Engine, Role
from podium.events.amqp.log import AmqpEventLog
from podium.events.amqp.settings import AmqpSettings
from podium.events.producer import Producer
from podium.events.projector import Projector
from podium.tokens import PENDING, TOKEN_FILE, ensure_admin_token
from tests.conftest import open_broker, serving, settings_for

API = frozenset({Role.API})


@asynccontextmanager
async def replicas(settings: AmqpSettings, *data_dirs: Path) -> AsyncIterator[list[Engine]]:
    """Api replicas on one log, started all at once."""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(open_broker(settings, "cleanup"))
        started = await asyncio.gather(
            *(Engine.start(settings_for(d, amqp=settings), API) for d in data_dirs),
            return_exceptions=True,
        )
        for engine in started:
            if isinstance(engine, Engine):
                stack.push_async_callback(engine.close)
        engines = [engine for engine in started if isinstance(engine, Engine)]
        assert len(engines) == len(data_dirs), started
        yield engines


async def accepts(engine: Engine, token: str) -> bool:
    async with serving(engine, token=token) as api:
        status, _ = await api.get("/jobs")
    return status == 200


async def test_two_replicas_started_at_once_make_one_admin_token_that_both_accept(
    tmp_path: Path, amqp_settings: AmqpSettings
) -> None:
    dirs = [tmp_path / "api-1", tmp_path / "api-2"]
    async with replicas(amqp_settings, *dirs) as engines:
        files = [d / TOKEN_FILE for d in dirs if (d / TOKEN_FILE).exists()]
        assert len(files) == 1  # the loser wrote none
        token = files[0].read_text().strip()
        for engine in engines:
            assert list(engine.projector.state.tokens) == [token_sha256(token)]
            assert await accepts(engine, token)
        assert [engine.api.token_path for engine in engines].count(None) == 1
    assert [p for d in dirs for p in d.glob(PENDING)] == []


async def test_replicas_sharing_a_data_dir_both_point_at_the_one_token(
    tmp_path: Path, amqp_settings: AmqpSettings
) -> None:
    shared = tmp_path / "api"
    async with replicas(amqp_settings, shared, shared) as engines:
        token = (shared / TOKEN_FILE).read_text().strip()
        for engine in engines:
            assert engine.api.token_path == shared / TOKEN_FILE
            assert await accepts(engine, token)
    assert list(shared.glob(PENDING)) == []


async def test_when_both_see_an_empty_log_the_first_token_appended_wins(
    tmp_path: Path, amqp_settings: AmqpSettings
) -> None:
    """Both replicas take the first-start path (neither has folded the other's token when it
    looks), and the fold keeps the first."""
    async with open_broker(amqp_settings) as broker, AsyncExitStack() as stack:
        pairs = []
        for origin in ("a", "b"):
            log = await AmqpEventLog.open(broker)
            stack.push_async_callback(log.close)
            projector, producer = Projector(log), Producer(log, origin=origin)
            producer.start()
            stack.push_async_callback(producer.close)
            folding = asyncio.get_running_loop().create_task(projector.run())
            stack.callback(folding.cancel)
            await projector.caught_up.wait()
            pairs.append((projector, producer))
        dirs = [tmp_path / "a", tmp_path / "b"]
        made = await asyncio.gather(
            *(ensure_admin_token(d, *pair) for d, pair in zip(dirs, pairs, strict=True))
        )
        (winner,) = [path for path in made if path is not None]
        token = winner.read_text().strip()
        for projector, _ in pairs:
            await projector.sync()
            assert list(projector.state.tokens) == [token_sha256(token)]
        assert sorted(p.name for d in dirs for p in d.iterdir()) == [TOKEN_FILE]
