"""Watching a job to its end on a terminal: a live progress bar with counts per node state,
fed by the job's event stream, and Ctrl+C, which asks whether to stop the job (or force-stop
it, or leave it running)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from rich.console import Console, RenderableType
from rich.live import Live

from podium.client.display import job_title, progress
from podium.client.follow import Resumed, job_events
from podium.client.http import ApiClient
from podium.client.interrupt import answer_or_interrupt, follow_until_done
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


class LiveScreen:
    """A live display of `render()` on `console` (when `shown`), and a note besides (a lost
    connection, say); on a console that is no terminal, its last frame alone."""

    note: str = ""

    def __init__(self, console: Console, shown: bool) -> None:
        self.shown = shown
        self.live = Live(
            get_renderable=self.render,
            console=console,
            refresh_per_second=8,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def render(self) -> RenderableType:
        raise NotImplementedError

    def start(self) -> None:
        if self.shown:
            self.live.start()

    def stop(self) -> None:
        if self.shown and self.live.is_started:
            self.live.stop()
            if not self.live.console.is_terminal:  # the last frame ends without a newline
                self.live.console.line()

    def resumed(self, resume: Resumed) -> None:
        self.note = f"connection lost; resuming after event {resume.after_event}"


class _JobScreen(LiveScreen):
    def __init__(self, watched: Watched, title: str, console: Console, shown: bool) -> None:
        self.watched, self.title = watched, title  # before Live, which renders at once
        super().__init__(console, shown)

    def render(self) -> RenderableType:
        return progress(self.watched.tally, self.title, self.note)

    def resumed(self, resume: Resumed) -> None:
        super().resumed(resume)
        self.watched.resumed += 1


async def watch(client: ApiClient, job: dict[str, Any], console: Console, live: bool) -> Watched:
    """Follow the job to its `job_finished`, showing its progress on `console` when `live`."""
    watched = Watched(Tally(str(job["name"]), int(job.get("node_count") or 0)))
    screen = _JobScreen(watched, job_title(job), console, live)

    async def follow() -> None:
        async for event in job_events(client, watched.tally.job, on_resume=screen.resumed):
            watched.tally.apply(event)
            screen.note = ""

    async def ask(interrupted: asyncio.Event) -> bool:
        return await _asked_to_go_on(client, watched.tally.job, console, interrupted)

    def announce() -> None:
        if not console.is_terminal:  # no live display: say once what is followed
            console.print(f"Following job {watched.tally.job}: {screen.title}")

    watched.left_running = not await follow_until_done(follow(), screen, ask, announce)
    return watched


async def _asked_to_go_on(
    client: ApiClient, job: str, console: Console, interrupted: asyncio.Event
) -> bool:
    """Ask what Ctrl+C meant: stop (and watch the job end), force-stop, or go on watching.
    False to leave now with the job running: no answer (end of input), or Ctrl+C again."""
    console.print(QUESTION.format(job=job), end="")
    answer = await answer_or_interrupt(interrupted)
    if answer is None:
        console.print(f"\nLeft job {job} running: `podium job watch {job}` follows it again.")
        return False
    choice = answer.strip().lower()
    if choice in ("y", "yes", "f", "force"):
        force = choice.startswith("f")
        await client.post("/orchestrator/v1/command/stop", {"job": job, "force": force})
        console.print(f"Stopping job {job}" + (" (force)" if force else "") + ".")
    return True
