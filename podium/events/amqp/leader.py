"""Scheduler leadership on a single-active-consumer quorum queue (rabbitmq-notes.md §7).

Every scheduler consumes the lock queue and puts one token on it. The broker delivers to one
consumer at a time: whoever holds a token leads, keeping the newest and acking older ones. When
the leader's connection goes, its unacked token goes back to the queue and the broker hands it to
the next consumer. AMQP says nothing when a consumer becomes active, so leadership is tied to
holding a delivery; on any channel close a scheduler steps down at once. The leader puts a fresh
token on the queue now and then, so the one it holds never reaches the consumer timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from podium.events.amqp.broker import (
    AMQP_ERRORS,
    SETUP_TIMEOUT_S,
    Broker,
    BrokerUnavailable,
    consume,
    publish_confirmed,
)
from podium.events.amqp.topology import declare_lock
from podium.events.ports import PortError, QueueUnavailable

log = structlog.get_logger(__name__)


class AmqpLeadership:
    def __init__(self, broker: Broker, renew_s: float = 300.0) -> None:
        self._broker = broker
        self._renew_s = renew_s
        self._held: AbstractIncomingMessage | None = None
        self._acquired = asyncio.Event()
        self._lost = asyncio.Event()
        self._lost.set()

    @property
    def is_leader(self) -> bool:
        return self._held is not None

    async def acquired(self) -> None:
        await self._acquired.wait()

    async def lost(self) -> None:
        await self._lost.wait()

    async def run(self) -> None:
        async for token in self._broker.reattaching(self._tokens, "scheduler lock"):
            await self._hold(token)

    async def _tokens(self) -> AsyncGenerator[AbstractIncomingMessage, None]:
        """The tokens the broker hands this consumer while its channel is open. Whenever that
        ends, this process steps down."""
        try:
            async with self._broker.scoped_channel() as channel:
                await channel.set_qos(prefetch_count=2, timeout=SETUP_TIMEOUT_S)
                queue = await declare_lock(channel, self._broker.settings)
                await self._put_token(error=BrokerUnavailable)
                renewing = asyncio.ensure_future(self._renew(channel))
                try:
                    async for token in consume(queue, channel):
                        yield token
                finally:
                    renewing.cancel()
        finally:
            self._step_down()

    async def _hold(self, token: AbstractIncomingMessage) -> None:
        """Keep the newest token; the one it replaces goes back to nobody."""
        previous, self._held = self._held, token
        if previous is None:
            log.info("leadership acquired")
            self._lost.clear()
            self._acquired.set()
        else:
            with contextlib.suppress(*AMQP_ERRORS):
                await previous.ack()

    async def _renew(self, channel: AbstractChannel) -> None:
        """A fresh token now and then, so the one held never reaches the consumer timeout. One
        the broker does not confirm ends the term: the consumer attaches again."""
        while True:
            await asyncio.sleep(self._renew_s)
            if not self.is_leader:
                continue
            try:
                await self._put_token()
            except PortError as exc:
                log.warning("leadership token not renewed", error=str(exc))
                with contextlib.suppress(*AMQP_ERRORS):
                    await channel.close()
                return

    def _stopping(self) -> bool:
        """Whether this process is letting go on purpose: its run cancelled, or its broker
        connections closing."""
        task = asyncio.current_task()
        return self._broker.closing or (task is not None and task.cancelling() > 0)

    async def _put_token(self, error: type[PortError] = QueueUnavailable) -> None:
        await publish_confirmed(
            self._broker, uuid.uuid4().hex.encode(), self._broker.settings.names.lock, error=error
        )

    def _step_down(self) -> None:
        if self._held is not None and self._stopping():
            log.info("leadership released")  # the process stops; a standby takes the token
        elif self._held is not None:
            log.warning("leadership lost")
        self._held = None
        self._acquired.clear()
        self._lost.set()
