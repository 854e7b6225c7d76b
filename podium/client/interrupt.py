"""Ctrl+C while something is followed: instead of leaving it behind without a word, stop the
screen, ask what Ctrl+C meant, and go on or leave as the answer says. The question and its
effect belong to the caller; this module owns the signal, the loop and reading the answer."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol


class Screen(Protocol):
    """What is shown while following: stopped while a question is asked."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


# Asked after Ctrl+C with the event a further Ctrl+C sets; True to go on following.
Ask = Callable[[asyncio.Event], Awaitable[bool]]


async def follow_until_done(
    follow: Coroutine[Any, Any, None],
    screen: Screen,
    ask: Ask,
    announce: Callable[[], None] = lambda: None,
) -> bool:
    """Run `follow` to its end, showing `screen`; on each Ctrl+C, stop the screen and `ask`.
    `announce` says what is followed once Ctrl+C is ours (a script may interrupt from then on).
    True when it ended, False when the answer was to leave it (it is cancelled then).
    Raises what `follow` raised."""
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    announce()
    follower = asyncio.create_task(follow)
    screen.start()
    try:
        while not await _done_or_interrupted(follower, interrupted):
            interrupted.clear()
            screen.stop()
            if not await ask(interrupted):
                return False
            screen.start()
        return True
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        screen.stop()


async def _done_or_interrupted(follower: asyncio.Task[None], interrupted: asyncio.Event) -> bool:
    """True once the follower has ended (raising what it raised), False on Ctrl+C."""
    waiter = asyncio.create_task(interrupted.wait())
    try:
        await asyncio.wait({follower, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if follower.done():
        follower.result()
        return True
    return False


async def answer_or_interrupt(interrupted: asyncio.Event) -> str | None:
    """A line from stdin; None at the end of input or on a further Ctrl+C."""
    reading = asyncio.create_task(read_line(sys.stdin.fileno()))
    waiter = asyncio.create_task(interrupted.wait())
    try:
        await asyncio.wait({reading, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not reading.done():
            reading.cancel()
    return reading.result() if reading.done() and not reading.cancelled() else None


async def read_line(fd: int) -> str | None:
    """One line from `fd` without blocking the loop (a byte at a time: nothing after the line
    is taken from whoever reads next); None at the end of input."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str | None] = loop.create_future()
    buffer = bytearray()

    def readable() -> None:
        try:
            byte = os.read(fd, 1)
        except BlockingIOError:
            return
        except OSError:
            byte = b""
        if byte in (b"", b"\n") and not line.done():
            line.set_result(buffer.decode(errors="replace") if byte or buffer else None)
        buffer.extend(byte)

    try:
        loop.add_reader(fd, readable)
    except (PermissionError, ValueError):  # a regular file: reading it never blocks for long
        text = await asyncio.to_thread(sys.stdin.readline)
        return text.rstrip("\n") if text else None
    try:
        return await line
    finally:
        loop.remove_reader(fd)
