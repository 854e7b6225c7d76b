"""Watching a job to its end on a terminal: a live progress bar with counts per node state,
fed by the job's event stream, and Ctrl+C, which asks whether to stop the job (or force-stop
it, or leave it running) instead of leaving it behind without a word."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, Final

from rich.console import Console
from rich.live import Live

from podium.client.display import job_title, progress
from podium.client.follow import Resumed, job_events
from podium.client.http import ApiClient
from podium.client.tally import Tally

QUESTION: Final = "Stop job {job}? [y]es, [f]orce (kill the runs in progress too), [N]o: "


@dataclass(slots=True)
class Watched:
    tally: Tally
    left_running: bool = False  # Ctrl+C, then no stop: the job goes on
    resumed: int = 0  # times the stream dropped and was resumed

    def stream(self) -> dict[str, int]:
        """What the stream gave, for scripts (and tests) to check against the job's events."""
        tally = self.tally
        return {
            "events": tally.events,
            "duplicates": tally.duplicates,
            "resumed": self.resumed,
            "last_event": tally.last_id,
        }


class _Screen:
    """The live progress, and what it says besides the counts (a reconnection, a stop)."""

    def __init__(self, tally: Tally, job: dict[str, Any], console: Console, live: bool) -> None:
        self.tally, self.note, self.title = tally, "", job_title(job)
        self.live = Live(
            get_renderable=self.render,
            console=console,
            refresh_per_second=8,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.shown = live

    def render(self) -> Any:
        return progress(self.tally, self.title, self.note)

    def start(self) -> None:
        if self.shown:
            self.live.start()

    def stop(self) -> None:
        if self.shown and self.live.is_started:
            self.live.stop()
            if not self.live.console.is_terminal:  # the last frame ends without a newline
                self.live.console.line()


async def watch(client: ApiClient, job: dict[str, Any], console: Console, live: bool) -> Watched:
    """Follow the job to its `job_finished`, showing its progress on `console` when `live`."""
    watched = Watched(Tally(str(job["name"]), int(job.get("node_count") or 0)))
    screen = _Screen(watched.tally, job, console, live)

    def resumed(resume: Resumed) -> None:
        watched.resumed += 1
        screen.note = f"connection lost; resuming after event {resume.after_event}"

    async def follow() -> None:
        async for event in job_events(client, watched.tally.job, on_resume=resumed):
            watched.tally.apply(event)
            screen.note = ""

    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    follower = asyncio.create_task(follow())
    if not console.is_terminal:  # no live display: say once what is followed
        console.print(f"Following job {watched.tally.job}: {screen.title}")
    screen.start()
    try:
        while not await _until_done_or(follower, interrupted):
            interrupted.clear()
            screen.stop()
            if not await _asked_to_go_on(client, watched, console, interrupted):
                watched.left_running = True
                return watched
            screen.start()
        return watched
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        screen.stop()


async def _until_done_or(follower: asyncio.Task[None], interrupted: asyncio.Event) -> bool:
    """True once the job has ended (raising what the follower raised), False on Ctrl+C."""
    waiter = asyncio.create_task(interrupted.wait())
    try:
        await asyncio.wait({follower, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if follower.done():
        follower.result()
        return True
    return False


async def _asked_to_go_on(
    client: ApiClient, watched: Watched, console: Console, interrupted: asyncio.Event
) -> bool:
    """Ask what Ctrl+C meant: stop (and watch the job end), force-stop, or go on watching.
    False to leave now with the job running: no answer (end of input), or Ctrl+C again."""
    job = watched.tally.job
    console.print(QUESTION.format(job=job), end="")
    answer = await _answer_or_interrupt(interrupted)
    if answer is None:
        console.print(f"\nLeft job {job} running: `podium job watch {job}` follows it again.")
        return False
    choice = answer.strip().lower()
    if choice in ("y", "yes", "f", "force"):
        force = choice.startswith("f")
        await client.post("/orchestrator/v1/command/stop", {"job": job, "force": force})
        console.print(f"Stopping job {job}" + (" (force)" if force else "") + ".")
    return True


async def _answer_or_interrupt(interrupted: asyncio.Event) -> str | None:
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
