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
from typing import Final

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from pamqp.common import FieldTable

from podium.events.amqp.broker import AMQP_ERRORS, RECOVERABLE, SETUP_TIMEOUT_S, Broker, wait_closed
from podium.events.amqp.log import publish_confirmed
from podium.events.ports import PortError, QueueUnavailable

log = structlog.get_logger(__name__)
LOCK_ARGUMENTS: Final[FieldTable] = {"x-queue-type": "quorum", "x-single-active-consumer": True}
_RETRY_S: Final = 0.5


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
        while True:
            try:
                await self._contend()
            except (*RECOVERABLE, PortError) as exc:
                if not self._broker.closing:
                    log.warning("lock consumer interrupted", error=repr(exc))
            self._step_down()
            await asyncio.sleep(_RETRY_S)

    async def _contend(self) -> None:
        async with self._broker.scoped_channel() as channel:
            await self._lead_while_open(channel)

    async def _lead_while_open(self, channel: AbstractChannel) -> None:
        try:
            await channel.set_qos(prefetch_count=2, timeout=SETUP_TIMEOUT_S)
            queue = await channel.declare_queue(
                self._broker.settings.lock,
                durable=True,
                arguments=LOCK_ARGUMENTS,
                timeout=SETUP_TIMEOUT_S,
            )
            await queue.consume(self._on_token, timeout=SETUP_TIMEOUT_S)
            await self._put_token()
            closed = asyncio.ensure_future(wait_closed(channel))
            renewing = asyncio.ensure_future(self._renew())
            try:
                await asyncio.wait({closed, renewing}, return_when=asyncio.FIRST_COMPLETED)
                if renewing.done():
                    renewing.result()  # raises what stopped it
            finally:
                closed.cancel()
                renewing.cancel()
        finally:
            self._step_down()

    async def _on_token(self, message: AbstractIncomingMessage) -> None:
        previous, self._held = self._held, message
        if previous is None:
            log.info("leadership acquired")
            self._lost.clear()
            self._acquired.set()
        else:
            with contextlib.suppress(*AMQP_ERRORS):
                await previous.ack()

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._renew_s)
            if self.is_leader:
                await self._put_token()

    async def _put_token(self) -> None:
        await publish_confirmed(
            self._broker,
            uuid.uuid4().hex.encode(),
            self._broker.settings.lock,
            error=QueueUnavailable,
        )

    def _step_down(self) -> None:
        if self._held is not None and self._broker.closing:
            log.info("leadership released")  # the process stops; a standby takes the token
        elif self._held is not None:
            log.warning("leadership lost")
        self._held = None
        self._acquired.clear()
        self._lost.set()
