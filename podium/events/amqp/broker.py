"""The process's connections to RabbitMQ, and their recovery.

Plain (not robust) aio-pika connections: when one closes, `Broker` reconnects with backoff, and
each component re-attaches itself through `connected()` from its own position. aio-pika's robust
mode would replay stream consumers from their original offset and drops exceptions raised in
reconnect callbacks (rabbitmq-notes.md §3.3, §4), so recovery is done here, in the open.

Stream consumers get a connection of their own: an error that closes a connection (a nack on a
stream, say) must not take the publishers down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, TypeVar

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
)
from pamqp.common import FieldTable

from podium.events.amqp.settings import AmqpSettings
from podium.events.ports import LogUnavailable, PortError

log = structlog.get_logger(__name__)

# What aio-pika and aiormq raise when the broker or the connection is gone.
AMQP_ERRORS: Final = (
    aiormq.exceptions.AMQPError,
    aio_pika.exceptions.AMQPException,
    aio_pika.exceptions.ChannelInvalidStateError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)
_BACKOFF_FIRST_S: Final = 0.2
SETUP_TIMEOUT_S: Final = 10.0  # for what sets a consumer up (qos, declare, consume)
_BACKOFF_MAX_S: Final = 3.0
REATTACH_S: Final = 0.5  # a consumer interrupted by an error waits this long to attach again
# The header of the empty messages a reader appends to learn where a stream ends now.
MARKER_HEADER: Final = "x-podium-marker"
# A stream consumer's starting point (an argument), and each delivery's offset (a header).
STREAM_OFFSET: Final = "x-stream-offset"
T = TypeVar("T")


class BrokerUnavailable(PortError):
    """Raised when there is no connection to the broker now."""


# What a consumer or publisher loop recovers from by attaching again.
RECOVERABLE: Final = (*AMQP_ERRORS, BrokerUnavailable)


class _Link:
    """One supervised connection."""

    def __init__(self, settings: AmqpSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.connection: AbstractConnection | None = None
        self.up = asyncio.Event()
        self.generation = 0
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None

    async def open(self, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while True:
                try:
                    await self._connect()
                    return
                except AMQP_ERRORS as exc:
                    log.warning("broker not reachable yet", connection=self.name, error=repr(exc))
                    await asyncio.sleep(_BACKOFF_FIRST_S * 5)

    async def _connect(self) -> None:
        url = self.settings.connection_url(self.name)
        connection = await aio_pika.connect(url, timeout=self.settings.connect_timeout_s)
        connection.close_callbacks.add(self._on_close)
        self.connection = connection
        self.generation += 1
        self.up.set()

    def _on_close(self, _sender: object, exc: BaseException | None) -> None:
        self.connection = None
        self.up.clear()
        if self._closing:
            return
        log.warning("broker connection lost", connection=self.name, error=repr(exc))
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = _BACKOFF_FIRST_S
        while not self._closing and self.connection is None:
            await asyncio.sleep(delay)
            try:
                await self._connect()
                log.info("broker connection restored", connection=self.name)
            except AMQP_ERRORS as exc:
                log.debug("reconnect failed", connection=self.name, error=repr(exc))
                delay = min(delay * 2, _BACKOFF_MAX_S)

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            await asyncio.wait([self._reconnecting])  # suppress(CancelledError) would hide our own
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(*AMQP_ERRORS):
                await connection.close()


class Broker:
    """Open with `await Broker.open(settings, role)`; close it last."""

    def __init__(self, settings: AmqpSettings, role: str) -> None:
        self.settings = settings
        self._main = _Link(settings, f"podium-{role}")
        self._streams = _Link(settings, f"podium-{role}-streams")
        self._publisher: AbstractChannel | None = None
        self._publisher_generation = -1
        self._publisher_lock = asyncio.Lock()
        self._closing = False

    @classmethod
    async def open(cls, settings: AmqpSettings, role: str) -> Broker:
        """Raises TimeoutError when the broker does not answer within the connect timeout."""
        broker = cls(settings, role)
        await broker._main.open(settings.connect_timeout_s)
        await broker._streams.open(settings.connect_timeout_s)
        return broker

    @property
    def is_up(self) -> bool:
        return self._main.connection is not None

    async def connected(self, *, streams: bool = False) -> AbstractConnection:
        """The current connection, waiting for it to come back if it is down."""
        link = self._streams if streams else self._main
        while link.connection is None:
            await link.up.wait()
        return link.connection

    def now(self) -> AbstractConnection:
        """The current main connection. Raises BrokerUnavailable when it is down."""
        connection = self._main.connection
        if connection is None:
            raise BrokerUnavailable("no connection to RabbitMQ")
        return connection

    async def channel(
        self, *, streams: bool = False, wait: bool = True, **options: Any
    ) -> AbstractChannel:
        """A new channel on the current connection (waiting for one unless `wait` is False).
        Raises BrokerUnavailable: aio-pika says RuntimeError for a connection closing under it."""
        connection = await self.connected(streams=streams) if wait else self.now()
        try:
            # Bounded: right after a broker restart an open can go unanswered, and a caller
            # waiting for ever (holding the publisher lock, say) would stall the process.
            async with asyncio.timeout(self.settings.confirm_timeout_s):
                return await connection.channel(**options)
        except (*AMQP_ERRORS, RuntimeError) as exc:
            raise BrokerUnavailable(f"cannot open a channel: {exc!r}") from exc

    @asynccontextmanager
    async def scoped_channel(
        self, *, streams: bool = False, wait: bool = True, **options: Any
    ) -> AsyncIterator[AbstractChannel]:
        """A channel for the length of a block, closed after it (quietly if already gone)."""
        channel = await self.channel(streams=streams, wait=wait, **options)
        try:
            yield channel
        finally:
            with contextlib.suppress(*AMQP_ERRORS, RuntimeError):
                await channel.close()

    async def publisher(self) -> AbstractChannel:
        """A channel with publisher confirms, where an unroutable message raises.
        Raises BrokerUnavailable."""
        async with self._publisher_lock:
            channel = self._publisher
            if (
                channel is None
                or channel.is_closed
                or self._publisher_generation != self._main.generation
            ):
                channel = await self.channel(
                    wait=False, publisher_confirms=True, on_return_raises=True
                )
                self._publisher = channel
                self._publisher_generation = self._main.generation
            return channel

    async def reattaching(
        self,
        attach: Callable[[], AsyncGenerator[T, None]],
        consumer: str,
        *,
        closed: asyncio.Event | None = None,
        context: Callable[[], Mapping[str, object]] = dict,
    ) -> AsyncGenerator[T, None]:
        """Everything that `attach()` yields, attaching again each time it ends (its channel
        closed) or is interrupted by a broker error, until `closed` is set. Each attachment
        starts from where its caller says (a stream consumer from its own next offset). Errors
        that are not the broker's (a truncated log, say) end it."""
        while closed is None or not closed.is_set():
            try:
                async with contextlib.aclosing(attach()) as attachment:
                    async for item in attachment:
                        yield item
            except RECOVERABLE as exc:
                if not self._closing:  # else the process is stopping: nothing to report
                    log.warning(
                        "consumer interrupted", consumer=consumer, error=repr(exc), **context()
                    )
                await asyncio.sleep(REATTACH_S)

    @property
    def closing(self) -> bool:
        """Once `close` is called: a channel that closes now closes because the process stops."""
        return self._closing

    async def close(self) -> None:
        self._closing = True
        await self._streams.close()
        await self._main.close()


async def wait_closed(channel: AbstractChannel | AbstractRobustChannel) -> Any:
    """Return (with the reason) once the channel, or its connection, has closed."""
    closed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def on_close(_sender: object, exc: BaseException | None) -> None:
        if not closed.done():
            closed.set_result(exc)

    channel.close_callbacks.add(on_close)
    if channel.is_closed and not closed.done():
        closed.set_result(None)
    return await closed


async def consume(
    queue: AbstractQueue,
    channel: AbstractChannel,
    *,
    stopping: asyncio.Event | None = None,
    **options: Any,
) -> AsyncGenerator[AbstractIncomingMessage, None]:
    """One consumer's deliveries, in order, until its channel closes, the broker cancels the
    consumer (it does when a queue's leader restarts: the channel stays open and silent), or
    `stopping` is set. Whatever arrived before the end is still yielded."""
    inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
    cancelled: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def deliver(message: AbstractIncomingMessage) -> None:
        inbox.put_nowait(message)

    cancelled_tags: set[str] = set()  # maybe before consume() has returned our tag
    tag = ""

    def check() -> None:
        if tag and tag in cancelled_tags and not cancelled.done():
            log.warning("consumer cancelled by the broker", queue=queue.name)
            cancelled.set_result(None)

    def on_cancel(frame: Any) -> None:
        cancelled_tags.add(str(getattr(frame, "consumer_tag", "")))
        check()

    underlay = await channel.get_underlay_channel()
    underlay.on_consumer_cancel_callbacks.add(on_cancel)
    tag = await queue.consume(deliver, timeout=SETUP_TIMEOUT_S, **options)
    check()
    ended = {asyncio.ensure_future(wait_closed(channel)), cancelled}
    if stopping is not None:
        ended.add(asyncio.ensure_future(stopping.wait()))
    try:
        while True:
            if not inbox.empty():
                yield inbox.get_nowait()
                continue
            getting = asyncio.ensure_future(inbox.get())
            await asyncio.wait({getting, *ended}, return_when=asyncio.FIRST_COMPLETED)
            if not getting.done():
                getting.cancel()
                return
            yield getting.result()
    finally:
        underlay.on_consumer_cancel_callbacks.discard(on_cancel)
        for future in ended:
            future.cancel()


async def publish_confirmed(
    broker: Broker,
    body: bytes,
    routing_key: str,
    headers: FieldTable | None = None,
    *,
    error: type[PortError] = LogUnavailable,
) -> None:
    """Publish to a queue through the default exchange and wait for the broker's confirm.
    Raises `error` when no confirm comes (the message may still have landed)."""
    message = aio_pika.Message(
        body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, headers=headers or {}
    )
    try:
        channel = await broker.publisher()
        await channel.default_exchange.publish(
            message, routing_key=routing_key, timeout=broker.settings.confirm_timeout_s
        )
    except BrokerUnavailable as exc:
        if error is LogUnavailable:
            raise LogUnavailable(str(exc), sent=False) from exc
        raise error(str(exc)) from exc
    except (*AMQP_ERRORS, aio_pika.exceptions.PublishError) as exc:
        raise error(f"{len(body)} bytes to {routing_key} not confirmed: {exc!r}") from exc


MARKER_ATTEMPTS: Final = 4


async def publish_marker(broker: Broker, body: bytes, routing_key: str, marker: str) -> None:
    """Publish an end-of-stream marker, again if it was not confirmed. A marker means nothing
    by itself (each reader waits for its own and skips others), so a copy is harmless, and a
    stream declared a moment before may refuse its first publish: RabbitMQ 3.10 closed the
    connection with INTERNAL_ERROR (its stream writer not yet known) when two api replicas
    started at once, and the second failed to start."""
    for attempt in range(1, MARKER_ATTEMPTS + 1):
        try:
            await publish_confirmed(broker, body, routing_key, {MARKER_HEADER: marker})
            return
        except LogUnavailable as exc:
            if attempt == MARKER_ATTEMPTS:
                raise
            log.info("marker not confirmed; again", queue=routing_key, error=str(exc))
            await asyncio.sleep(min(_BACKOFF_FIRST_S * 2**attempt, _BACKOFF_MAX_S))
