"""The README's screenshots, taken in the browser the tests use (Debian's chromium through
Playwright) against a real `podium serve` on the bundled example environment:
`python -m tests.screenshots` writes docs/web-jobs.png and docs/web-job.png (the web view) and
docs/cli-progress.png (`podium job watch` in a real terminal, tmux's, in the middle of a job:
the screen as tmux holds it, colours included, drawn as HTML by rich). Commit them when they
change (the README shows them)."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

import aiohttp
from playwright.async_api import Browser, Page, expect
from rich.console import Console
from rich.terminal_theme import MONOKAI
from rich.text import Text

from podium.jsontypes import Json
from tests.browser import VIEWPORT, open_browser, signed_in
from tests.e2e.cluster import Client
from tests.sshd import free_port

ROOT: Final = Path(__file__).resolve().parents[1]
DOCS: Final = ROOT / "docs"
ENVIRONMENTS: Final = ROOT / "podium" / "examples" / "environments"
GROUPS: Final = {  # name -> (how many, sim settings): a few seconds a run, some fail
    "web": (120, "{latency-ms: [900, 2600], failure-rate: 0.04, seed: 4}"),
    "db": (60, "{latency-ms: [1200, 3000], failure-rate: 0.03, error-rate: 0.02, seed: 5}"),
    "cache": (120, "{latency-ms: [700, 2000], failure-rate: 0.02, seed: 6}"),
}


def nodes(group: str) -> list[str]:
    return [f"{group}-{i:03d}" for i in range(1, GROUPS[group][0] + 1)]


def write_inventory(path: Path) -> Path:
    lines = ["version: 2", "config:", "  transport: sim", "groups:"]
    for group, (_, sim) in GROUPS.items():
        lines += [f"  - name: {group}", f"    targets: [{', '.join(nodes(group))}]"]
        lines += ["    config:", f"      sim: {sim}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def spawn(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`podium serve` on the bundled environments and the inventory above; its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "podium.cli", "serve", "--port", str(port)]
    command += ["--data-dir", str(work / "data"), "--environments", str(ENVIRONMENTS)]
    command += ["--inventory", str(write_inventory(work / "inventory.yaml"))]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


async def connect(session: aiohttp.ClientSession, base: str, work: Path) -> Client:
    async with asyncio.timeout(60):
        while True:
            try:
                async with session.get(f"{base}/status/v1/simple") as answer:
                    if answer.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)
    return Client(session, base, (work / "data" / "admin.token").read_text().strip())


async def submit(api: Client, command: str, body: Json) -> str:
    status, answer = await api.post(f"/command/{command}", body)
    assert status == 202, answer
    assert isinstance(answer, dict)
    return str(answer["job"]["name"])


async def history(api: Client) -> str:
    """Two jobs that have ended, one stopped, and a 300-node one running: its name."""
    echo = {"task": "demo::echo", "params": {"message": "hello"}}
    first = await submit(api, "deploy", {
        "environment": "production", "noop": True, "concurrency": 60,
        "scope": {"nodes": nodes("web")}, "description": "noop deploy of the web tier",
    })  # fmt: skip
    await api.wait_job(first)
    second = await submit(api, "task", {**echo, "scope": {"nodes": nodes("db")}, "concurrency": 60})
    await api.wait_job(second)
    stopped = await submit(
        api, "task", {**echo, "scope": {"nodes": nodes("cache")[:40]}, "concurrency": 5}
    )
    await api.wait_nodes(stopped, "running", 5)
    await api.post("/command/stop", {"job": stopped})
    await api.wait_job(stopped)
    scope = {"nodes": nodes("web") + nodes("db") + nodes("cache")}
    return await submit(api, "task", {
        "task": "demo::disk_free", "params": {}, "scope": scope, "concurrency": 60,
        "description": "disk space, everywhere",
    })  # fmt: skip


async def shoot(page: Page, name: str) -> None:
    """The viewport, down to the end of the page's content at most."""
    box = await page.locator("main").bounding_box()
    assert box is not None
    height = min(box["y"] + box["height"], VIEWPORT["height"])
    clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height}
    await page.screenshot(path=DOCS / name, clip=clip)  # type: ignore[arg-type]
    print(f"wrote {DOCS / name}", file=sys.stderr)


TERMINAL: Final = (100, 7)  # columns, lines
TERMINAL_PAGE: Final = """<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; background: {background}; }}
pre {{ margin: 0; padding: 14px 18px; color: {foreground}; font: 15px/1.35 "DejaVu Sans Mono",
      monospace; display: inline-block; }}
{stylesheet}</style><pre id="screen">{code}</pre>"""


def tmux(socket: str, *args: str) -> str:
    done = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, check=True)
    return done.stdout


async def terminal_shot(browser: Browser, api: Client) -> None:
    """`podium job watch` on a 300-node job, drawn once a third of its nodes have ended."""
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is missing: apt-get install tmux")
    job = await submit(api, "task", {
        "task": "demo::echo", "params": {"message": "hello"}, "concurrency": 60,
        "scope": {"nodes": nodes("web") + nodes("db") + nodes("cache")},
    })  # fmt: skip
    socket = f"podium-screenshots-{os.getpid()}"
    watch = f"{sys.executable} -m podium.cli job watch {job}; sleep 60"
    columns, lines = TERMINAL
    tmux(socket, "new-session", "-d", "-x", str(columns), "-y", str(lines),
         "-e", f"PODIUM_URL={api.base}", "-e", f"PODIUM_TOKEN={api.token}", watch)  # fmt: skip
    try:
        await api.wait_nodes(job, "finished", 100)
        await asyncio.sleep(0.5)  # the bar redraws a few times a second
        screen = tmux(socket, "capture-pane", "-p", "-e")
    finally:
        tmux(socket, "kill-server")
    console = Console(record=True, width=columns, file=io.StringIO(), color_system="truecolor")
    console.print(Text(f"$ podium job watch {job}", style="bold"))  # the command the pane ran
    console.print(Text.from_ansi(screen.rstrip("\n")), end="")
    page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
    html = console.export_html(theme=MONOKAI, code_format=TERMINAL_PAGE, inline_styles=False)
    await page.set_content(html)
    await page.locator("#screen").screenshot(path=DOCS / "cli-progress.png")
    print(f"wrote {DOCS / 'cli-progress.png'}", file=sys.stderr)


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="podium-screenshots-") as directory:
        async with aiohttp.ClientSession() as session, open_browser() as browser:
            process, base = spawn(Path(directory))
            try:
                api = await connect(session, base, Path(directory))
                running = await history(api)
                await api.wait_nodes(running, "finished", 100)
                page = await signed_in(browser, f"{api.base}/", api.token)
                await page.goto(f"{api.base}/#/jobs/{running}")
                await page.fill("#node-search", "db-")  # the nodes running now, some failing
                await expect(page.locator("#events li").nth(20)).to_be_attached()
                await shoot(page, "web-job.png")
                await page.goto(f"{api.base}/#/")
                await expect(page.locator(f'#jobs tr[data-job="{running}"]')).to_be_visible()
                await shoot(page, "web-jobs.png")
                await terminal_shot(browser, api)
            finally:
                process.kill()
                process.wait()


if __name__ == "__main__":
    asyncio.run(main())
