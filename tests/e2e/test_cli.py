"""`podium task ...` and `podium job ...` as an operator runs them: the real `podium` entry
point in processes of its own, against a real `podium serve`, checked by their output, their
exit codes and what the server then holds. Ctrl+C is a real SIGINT answered on stdin; a dropped
stream is a real server killed and started again."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import signal
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest

from tests.e2e.cluster import Client
from tests.e2e.test_serve import Server, connected, server_process

PODIUM: Final = str(Path(sys.executable).parent / "podium")  # the installed entry point
OK_NODES: Final = [f"ok-{i:02d}" for i in range(1, 21)]
SLOW_NODES: Final = [f"slow-{i}" for i in range(1, 9)]


def write_inventory(path: Path) -> Path:
    path.write_text(
        "version: 2\nconfig:\n  transport: sim\ngroups:\n"
        f"  - name: ok\n    targets: [{', '.join(OK_NODES)}]\n"
        "    config: {sim: {latency-ms: [5, 30]}}\n"
        "  - name: bad\n    targets: [bad-1]\n    config: {sim: {failure-rate: 1.0}}\n"
        "  - name: gone\n    targets: [gone-1]\n    config: {sim: {error-rate: 1.0}}\n"
        f"  - name: slow\n    targets: [{', '.join(SLOW_NODES)}]\n"
        "    config: {sim: {latency-ms: 1000}}\n"
        "  - name: here\n    targets: [localhost]\n    config: {transport: local}\n"
    )
    return path


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass(frozen=True)
class Cli:
    server: Server
    home: Path

    @property
    def token_file(self) -> Path:
        return self.server.data / "admin.token"

    def environ(self, **extra: str) -> dict[str, str]:
        """This process's environment without PODIUM_* and with a HOME of the test's own."""
        kept = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
        given = {"PODIUM_URL": self.server.url, "PODIUM_TOKEN_FILE": str(self.token_file)}
        return {**kept, "HOME": str(self.home), "COLUMNS": "160", **given, **extra}

    async def start(self, *args: str, environ: dict[str, str] | None = None) -> Process:
        process = await asyncio.create_subprocess_exec(
            PODIUM,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.environ() if environ is None else environ,
        )
        return Process(process)

    async def run(self, *args: str, environ: dict[str, str] | None = None) -> Ran:
        process = await self.start(*args, environ=environ)
        return await process.ended()


@dataclass
class Process:
    process: asyncio.subprocess.Process
    err: str = ""

    async def said(self, text: str, timeout_s: float = 30) -> None:
        """Read stderr until `text` has appeared."""
        assert self.process.stderr is not None
        async with asyncio.timeout(timeout_s):
            while text not in self.err:  # read what comes: a question ends without a newline
                chunk = await self.process.stderr.read(4096)
                assert chunk, f"stderr ended without {text!r}: {self.err}"
                self.err += chunk.decode()

    async def ended(self, stdin: bytes | None = None, timeout_s: float = 60) -> Ran:
        out, err = await asyncio.wait_for(self.process.communicate(stdin), timeout_s)
        assert self.process.returncode is not None
        return Ran(self.process.returncode, out.decode(), self.err + err.decode())


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/status/v1/simple", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module's tests: each reads only the jobs it made."""
    directory = tmp_path_factory.mktemp("cli")
    with server_process(directory / "data", write_inventory(directory / "inventory.yaml")) as srv:
        srv.start()
        for _ in range(300):
            assert srv.process is not None
            assert srv.process.poll() is None, srv.log.read_text()
            if _ready(srv.url):
                break
            time.sleep(0.1)
        yield srv


@pytest.fixture
def cli(served: Server, tmp_path: Path) -> Cli:
    return Cli(served, tmp_path)


@pytest.fixture
async def api(served: Server) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield connected(session, served)


def rows(out: str) -> dict[str, list[str]]:
    """The node table's rows by node: its cells split on runs of two spaces."""
    table: dict[str, list[str]] = {}
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.split("  ") if cell.strip()]
        if cells and (cells[0].startswith(("ok-", "bad-", "gone-", "slow-"))):
            table[cells[0]] = cells[1:]
    return table


async def test_a_task_run_shows_each_nodes_result_and_exits_1_when_a_node_failed(
    cli: Cli, api: Client
) -> None:
    ran = await cli.run("task", "run", "testmod::echo", "--nodes", "ok-01,ok-02,ok-03,bad-1,gone-1")
    assert ran.code == 1, ran
    table = rows(ran.out)
    assert set(table) == {"ok-01", "ok-02", "ok-03", "bad-1", "gone-1"}
    assert table["ok-01"][0] == "finished"
    assert "testmod::echo ran on ok-01 (simulated)" in table["ok-01"][-1]
    assert table["bad-1"][0] == "failed"
    assert table["bad-1"][-1] == "The task errored with a code 1"
    assert table["gone-1"][0] == "errored"
    assert table["gone-1"][-1] == "Simulated connection failure to gone-1"
    assert "new 0 · running 0 · finished 3 · failed 1 · errored 1 · skipped 0" in ran.err
    name = ran.err.split("Following job ")[1].split(":")[0]
    assert f"Job {name} finished" in ran.out
    job = await api.get(f"/jobs/{name}")
    assert job["node_states"] == {"finished": 3, "failed": 1, "errored": 1}


async def test_json_output_is_the_job_its_nodes_and_every_event_of_its_stream(
    cli: Cli, api: Client, tmp_path: Path
) -> None:
    inline = ["name=abc", "count=3", "enabled=true", 'tags=["x","y"]', "something=42"]
    nodes = tmp_path / "nodes.txt"
    nodes.write_text("\n".join(OK_NODES[:10]) + "\n" + ", ".join(OK_NODES[10:]) + "\n")
    ran = await cli.run(
        "task", "run", "testmod::typed", *inline, "--nodes", f"@{nodes}",
        "--concurrency", "5", "--format", "json",
    )  # fmt: skip
    assert ran.code == 0, ran
    answer = ran.json()
    job, nodes, stream = answer["job"], answer["nodes"], answer["stream"]
    assert job["options"]["params"] == {
        "name": "abc",
        "count": 3,
        "enabled": True,
        "tags": ["x", "y"],
        "something": "42",  # NotUndef takes a string: it stays one
        "mode": "fast",  # the task's defaults
        "blob": {},
    }
    assert job["options"]["concurrency"] == 5
    assert job["state"] == "finished"
    assert job["node_states"] == {"finished": 20}
    assert sorted(node["name"] for node in nodes) == OK_NODES
    events = (await api.get(f"/jobs/{job['name']}/events"))["items"]
    assert stream == {
        "events": len(events),
        "duplicates": 0,
        "resumed": 0,
        "last_event": int(events[-1]["id"]),
    }
    assert "Following job" not in ran.out  # stdout is the JSON alone


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["testmod::nope", "--nodes", "ok-01"],
            "Unknown task testmod::nope in environment production",
        ),
        (
            ["testmod::typed", "name=abc", "count=9", "something=x", "--nodes", "ok-01"],
            "Task testmod::typed has invalid parameters: parameter count expects "
            "Integer[1, 5], got Integer[9, 9]",
        ),
        (["testmod::echo", "--nodes", "ok-01", "-e", "nowhere"], "Unknown environment nowhere"),
        (["testmod::echo", "--params", "[1]", "--nodes", "ok-01"], "must hold a JSON object"),
        (["testmod::echo", "a=1", "--params", "{}", "--nodes", "ok-01"], "not both"),
    ],
)
async def test_a_job_that_cannot_start_exits_2_with_the_apis_message_on_one_line(
    cli: Cli, api: Client, args: list[str], message: str
) -> None:
    before = (await api.get("/jobs"))["pagination"]["total"]
    ran = await cli.run("task", "run", *args)
    assert ran.code == 2, ran
    assert ran.out == ""
    [line] = ran.err.splitlines()
    assert line.startswith("podium task run: ")
    assert message in line, line
    assert (await api.get("/jobs"))["pagination"]["total"] == before  # nothing was made


async def test_the_token_comes_from_the_token_file_then_podium_token_then_home(
    cli: Cli, tmp_path: Path
) -> None:
    token = cli.token_file.read_text().strip()
    without_file = {k: v for k, v in cli.environ().items() if k != "PODIUM_TOKEN_FILE"}
    (cli.home / ".puppetlabs").mkdir()
    (cli.home / ".puppetlabs" / "token").write_text(token + "\n")
    ran = await cli.run("job", "show", environ=without_file)
    assert ran.code == 0, ran  # ~/.puppetlabs/token
    refused = await cli.run("job", "show", environ={**without_file, "PODIUM_TOKEN": "wrong"})
    assert refused.code == 2
    assert "podium job show: " in refused.err
    ran = await cli.run("job", "show", environ={**cli.environ(), "PODIUM_TOKEN": "wrong"})
    assert ran.code == 0, ran  # the token file wins over PODIUM_TOKEN
    (cli.home / ".puppetlabs" / "token").unlink()
    none = await cli.run("job", "show", environ=without_file)
    assert none.code == 2
    assert "no token: give --token-file (or PODIUM_TOKEN_FILE), set PODIUM_TOKEN" in none.err


async def test_show_stop_and_watch_a_job_and_show_tasks(cli: Cli, api: Client) -> None:
    name = await api.task(SLOW_NODES, concurrency=1)  # 8 s unless stopped
    await api.wait_nodes(name, "running", 1)
    listed = await cli.run("job", "show", "--limit", "3")
    assert listed.code == 0
    assert listed.out.splitlines()[1].split()[:3] == [
        name,
        "running",
        "task",
    ]
    stopped = await cli.run("job", "stop", name)
    assert stopped.code == 0, stopped
    assert f"Job {name}: stop requested." in stopped.err
    watched = await cli.run("job", "watch", name)
    assert watched.code == 0, watched  # skipped nodes are no failure
    assert f"Job {name} stopped" in watched.out
    states = [cells[0] for cells in rows(watched.out).values()]
    assert len(states) == len(SLOW_NODES)
    assert "skipped" in states
    assert set(states) == {"finished", "skipped"}
    shown = await cli.run("job", "show", name, "--format", "json")
    assert shown.code == 0
    assert shown.json()["job"]["state"] == "stopped"
    assert [node["state"] for node in shown.json()["nodes"]] == states
    unknown = await cli.run("job", "show", "999999")
    assert (unknown.code, unknown.err) == (2, "podium job show: No job named 999999\n")
    tasks = await cli.run("task", "show")
    assert tasks.code == 0
    assert "testmod::echo" in tasks.out.split()
    typed = await cli.run("task", "show", "testmod::typed")
    assert typed.code == 0, typed
    cells = [
        [cell.strip() for cell in line.split("  ") if cell.strip()]
        for line in typed.out.splitlines()
    ]
    assert ["count", "Integer[1, 5]", "2"] in cells
    assert "version    Optional[Pattern[/^\\d+\\.\\d+$/]]" in typed.out  # no markup read into it


async def test_ctrl_c_asks_and_yes_stops_the_job(cli: Cli, api: Client) -> None:
    process = await cli.start("task", "run", "testmod::echo", "--nodes", ",".join(SLOW_NODES),
                              "--concurrency", "1")  # fmt: skip
    await process.said("Following job ")
    name = process.err.split("Following job ")[1].split(":")[0]
    await api.wait_nodes(name, "running", 1)
    process.process.send_signal(signal.SIGINT)
    await process.said(f"Stop job {name}? [y]es, [f]orce")
    ran = await process.ended(b"y\n")
    assert ran.code == 0, ran
    assert f"Stopping job {name}." in ran.err
    job = await api.get(f"/jobs/{name}")
    assert job["state"] == "stopped"
    assert job["node_states"]["skipped"] >= 6
    assert "failed" not in job["node_states"]
    assert f"Job {name} stopped" in ran.out


async def test_ctrl_c_then_no_answer_leaves_the_job_running(cli: Cli, api: Client) -> None:
    process = await cli.start("task", "run", "testmod::echo", "--nodes", ",".join(SLOW_NODES),
                              "--concurrency", "1")  # fmt: skip
    await process.said("Following job ")
    name = process.err.split("Following job ")[1].split(":")[0]
    process.process.send_signal(signal.SIGINT)
    await process.said(f"Stop job {name}?")
    ran = await process.ended(b"")  # the end of input: no answer
    assert ran.code == 130, ran
    assert f"Left job {name} running: `podium job watch {name}` follows it again." in ran.err
    assert (await api.get(f"/jobs/{name}"))["state"] == "running"
    status, _ = await api.post("/command/stop", {"job": name, "force": True})
    assert status == 202


async def test_watch_resumes_after_the_server_restarts_and_loses_no_event(
    tmp_path: Path,
) -> None:
    """The server is killed (SIGKILL) in the middle of the job and started again on the same
    port: the watcher resumes with Last-Event-ID and gets each event of the job exactly once."""
    inventory = write_inventory(tmp_path / "inventory.yaml")
    with server_process(tmp_path / "data", inventory) as server:
        async with aiohttp.ClientSession() as session:
            server.start()
            await server.wait_ready(session)
            api = connected(session, server)
            cli = Cli(server, tmp_path)
            name = await api.task(SLOW_NODES, concurrency=2)
            process = await cli.start("job", "watch", name, "--format", "json")
            await process.said(f"Following job {name}")
            await api.wait_nodes(name, "finished", 2)
            server.kill()
            server.start()
            await server.wait_ready(session)
            ran = await process.ended(timeout_s=90)
            assert ran.out, ran
            answer = ran.json()
            events = (await api.get(f"/jobs/{name}/events"))["items"]
            job = await api.get(f"/jobs/{name}")
    assert answer["stream"] == {
        "events": len(events),
        "duplicates": 0,
        "resumed": answer["stream"]["resumed"],
        "last_event": int(events[-1]["id"]),
    }
    assert answer["stream"]["resumed"] >= 1
    assert events[-1]["type"] == "job_finished"
    assert answer["job"]["node_states"] == job["node_states"]
    assert sum(job["node_states"].values()) == len(SLOW_NODES)
    assert ran.code == (1 if "errored" in job["node_states"] else 0), ran


async def test_a_plan_run_tells_its_steps_and_messages_and_exits_by_its_outcome(
    cli: Cli, api: Client
) -> None:
    ran = await cli.run("plan", "run", "plantest", "targets=localhost", "pkg=vim", "count=3")
    assert ran.code == 0, ran
    assert "message: first target reports vim (status)" in ran.err
    [step] = [line for line in ran.err.splitlines() if line.startswith("task step: job ")]
    job = await api.get(f"/jobs/{step.removeprefix('task step: job ')}")
    assert job["options"]["params"]["count"] == 3  # count=3 read as the Integer it is declared
    assert "success" in ran.out.splitlines()[0]
    assert json.loads(ran.out.split("\n", 1)[1]) == {
        "name": "vim",
        "picked": "vim-dev",
        "targets": "localhost",
    }

    failed = await cli.run(
        "plan", "run", "plantest::failing", "--params", '{"targets": "localhost"}',
        "--format", "json",
    )  # fmt: skip
    assert failed.code == 1, failed
    plan_job = failed.json()["plan_job"]
    assert plan_job["state"] == "failure"
    events = (await api.get(f"/plan_jobs/{plan_job['name']}/events"))["items"]
    assert failed.json()["stream"]["events"] == len(events)
    assert events[-1]["type"] == "plan_failed"

    unknown = await cli.run("plan", "run", "plantest::nope", "targets=localhost")
    assert unknown.code == 2
    assert unknown.err.startswith("podium plan run: ")
    assert len(unknown.err.splitlines()) == 1
    shown = await cli.run("plan", "show", "plantest")
    assert ["count", "Integer", "2"] in [line.split() for line in shown.out.splitlines()]


async def test_a_plan_stopped_from_another_command_ends_failed(cli: Cli) -> None:
    process = await cli.start("plan", "run", "plantest::slow", "targets=localhost", "seconds=30")
    await process.said("task step: job ")  # the first step; the sleep comes next
    name = process.err.split("Following plan job ")[1].split(":")[0]
    stopped = await cli.run("plan", "stop", name)
    assert stopped.code == 0, stopped
    assert f"Plan job {name}: stop requested" in stopped.err
    ran = await process.ended()
    assert ran.code == 1, ran
    assert f"Plan job {name} plantest::slow failure" in ran.out


async def test_schedules_are_made_listed_run_and_deleted(cli: Cli, api: Client) -> None:
    soon = await cli.run("schedule", "task", "testmod::echo", "--nodes", "ok-01", "--at", "+1s")
    assert soon.code == 0, soon
    name = soon.out.split("Scheduled job ")[1].split(":")[0]
    async with asyncio.timeout(60):
        while not [
            job
            for job in (await api.get("/jobs?type=task"))["items"]
            if job["options"]["scheduled-job-id"] == name
        ]:
            await asyncio.sleep(0.2)

    daily = await cli.run(
        "schedule", "task", "testmod::echo", "--nodes", "ok-02", "--at", "+1h", "--every", "1d",
        "--description", "daily",
    )  # fmt: skip
    assert daily.code == 0, daily
    daily_name = daily.out.split("Scheduled job ")[1].split(":")[0]
    assert daily.out.rstrip().endswith(", every 86400 s")
    listed = await cli.run("schedule", "list")
    rows = {line.split()[0]: line for line in listed.out.splitlines()[1:]}
    assert "86400 s" in rows[daily_name]
    assert name not in rows  # a one-off that has run has no run to come
    deleted = await cli.run("schedule", "delete", daily_name)
    assert deleted.code == 0, deleted
    listed = await cli.run("schedule", "list", "--format", "json")
    assert daily_name not in [item["name"] for item in listed.json()["items"]]

    past = await cli.run(
        "schedule", "task", "testmod::echo", "--nodes", "ok-01", "--at", "2020-01-01T00:00:00Z"
    )
    assert past.code == 2
    assert "scheduled_time 2020-01-01T00:00:00Z is in the past" in past.err


def _on_a_terminal(argv: list[str], environ: dict[str, str], then: bytes) -> tuple[int, str]:
    """Run `argv` on a pseudo-terminal; once its live progress shows, type Ctrl+C, and `then`
    once it asks. Its exit code and all it drew."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout and stderr
        os.execve(argv[0], argv, environ)
    drawn, typed = b"", False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    drawn += os.read(fd, 65536)
                except OSError:  # the child ended: its side of the terminal is gone
                    break
            if not typed and b"running 1" in drawn:
                os.write(fd, b"\x03")  # Ctrl+C, as a keyboard sends it
                typed = True
            if typed and b"Stop job" in drawn and then:
                os.write(fd, then)
                then = b""
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), drawn.decode(errors="replace")


async def test_on_a_terminal_the_progress_moves_and_ctrl_c_asks_before_stopping(
    cli: Cli, api: Client
) -> None:
    argv = [PODIUM, "task", "run", "testmod::echo", "--nodes", ",".join(SLOW_NODES)]
    environ = {**cli.environ(), "TERM": "xterm-256color"}
    code, drawn = await asyncio.to_thread(
        _on_a_terminal, [*argv, "--concurrency", "1"], environ, b"y\n"
    )
    assert code == 0, drawn
    frames = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn)  # the screen without its controls
    assert "new 7 · running 1 · finished 0" in frames  # a frame drawn while the job ran
    assert "Stop job" in frames
    assert "Stopping job" in frames
    name = frames.split("Stopping job ")[1].split(".")[0]
    job = await api.get(f"/jobs/{name}")
    assert job["state"] == "stopped"
    assert f"Job {name} stopped" in frames
