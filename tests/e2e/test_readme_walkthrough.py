"""The README's walkthrough, run as a reader runs it: its shell block, command by command,
against a real `podium serve` on the bundled example, started the way the quick start says.

Each `curl` records the status it got; every command must succeed except the one the README
shows failing (the parameter check). Streams that go on until the reader stops them are cut
after a few seconds, as Ctrl-C would. The command line's transcript is run again, command by
command, and must print what the README shows, durations and times aside.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.sshd import free_port

README: Final = Path(__file__).resolve().parents[2] / "README.md"
STREAM_S: Final = 4  # how long a reader watches a stream that does not end by itself

# Each curl of the walkthrough appends its status to $STATUSES.
RECORDER: Final = f"""
curl() {{
  command curl --max-time {STREAM_S} -o /dev/null -w '%{{http_code}}\\n' "$@" >> "$STATUSES"
  return 0
}}
"""


def walkthrough() -> str:
    """The shell block of the README's "Walkthrough with curl" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Walkthrough with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """`podium serve` as the quick start runs it (here on a free port), in its own directory."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PODIUM_")}
    command = [sys.executable, "-m", "podium.cli", "serve", "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "Podium is serving" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield tmp_path, port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_every_command_of_the_walkthrough_works(served: tuple[Path, int]) -> None:
    directory, port = served
    script = walkthrough().replace("127.0.0.1:8143", f"127.0.0.1:{port}")
    statuses = directory / "statuses"
    env = {**os.environ, "STATUSES": str(statuses)}
    run = subprocess.run(
        ["bash", "-c", RECORDER + script],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr
    got = statuses.read_text().split()
    refused = [i for i, status in enumerate(got) if status not in ("200", "202")]
    # The one command the README shows failing: parameters that do not match their types.
    commands = _curls(script)
    assert len(commands) == len(got)
    (config_check,) = [i for i, command in enumerate(commands) if "config_check" in command]
    assert refused == [config_check], (got, run.stderr)
    assert got[config_check] == "400"


def _curls(script: str) -> list[str]:
    """Each curl command with the lines that continue it, in order."""
    commands: list[str] = []
    for line in script.splitlines():
        if line.startswith("curl "):
            commands.append(line)
        elif commands and line and not line.startswith(("#", "export ")):
            commands[-1] += "\n" + line
    return commands


def _section_block(heading: str) -> str:
    """The first shell block of the README's section `heading`."""
    section = README.read_text(encoding="utf-8").split(f"## {heading}\n", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def _get_jobs(port: int, token: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/orchestrator/v1/jobs", headers={"X-Authentication": token}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, ""
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())["kind"]


def test_the_users_roles_and_tokens_commands_do_what_the_readme_says(
    served: tuple[Path, int],
) -> None:
    """Each command of the README's identity block, as printed (the token id `revoke` takes is
    the one `issue` printed): each exits 0, and the token works until it is revoked."""
    directory, port = served
    env = {**os.environ, "PODIUM_URL": f"http://127.0.0.1:{port}"}
    commands = [
        part.strip()
        for line in _section_block("Users, roles, tokens and permissions").splitlines()
        for part in line.split("#", 1)[0].split(";")
        if part.strip()
    ]
    assert commands[0].startswith("podium user add")
    assert len(commands) == 11
    token = token_id = ""
    for command in commands:
        argv = shlex.split(command.replace("3f9a1c0b7d2e", token_id or "3f9a1c0b7d2e"))
        assert argv[0] == "podium", command
        run = subprocess.run(
            [sys.executable, "-m", "podium.cli", *argv[1:]],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, (command, run.stderr)
        if argv[1:3] == ["token", "issue"]:
            token = run.stdout.strip()
            token_id = re.search(r"token (\S+) issued to ann", run.stderr).group(1)  # type: ignore[union-attr]
            assert _get_jobs(port, token) == (200, "")
        if argv[1:3] == ["token", "list"]:
            assert token_id in run.stdout
            assert token not in run.stdout
    assert _get_jobs(port, token) == (401, "puppetlabs.rbac/token-revoked")


TIMES: Final = (
    (re.compile(r"\d+\.\d s\b"), "N s"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "TIME"),
    (re.compile(r'"host":"[^"]*"'), '"host":"HOST"'),  # the localhost task reports its host
    (re.compile(r" {2,}"), "  "),  # columns as wide as what is in them
)
STOPPED_ELSEWHERE: Final = re.compile(r"# and, once it runs, podium job stop (\d+)$")


def cli_transcript() -> list[tuple[str, str]]:
    """The commands of the README's command-line transcript, each with what it printed."""
    section = README.read_text(encoding="utf-8").split("## The command line", 1)[1]
    match = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert match is not None
    steps: list[tuple[str, str]] = []
    for line in match.group(1).splitlines(keepends=True):
        if line.startswith("$ "):
            steps.append((line[2:].rstrip("\n"), ""))
        else:
            command, printed = steps[-1]
            steps[-1] = (command, printed + line)
    return steps


def _without_times(text: str) -> str:
    for pattern, replacement in TIMES:
        text = pattern.sub(replacement, text)
    return text


def test_the_readme_cli_transcript_is_what_the_commands_print(
    served: tuple[Path, int],
) -> None:
    directory, port = served
    bin_dir = str(Path(sys.executable).parent)  # the installed `podium`
    env = {key: value for key, value in os.environ.items() if not key.startswith("PODIUM_")}
    env |= {"COLUMNS": "100", "PATH": f"{bin_dir}:{env.get('PATH', '')}"}
    exports, steps = "", cli_transcript()
    assert [printed.splitlines()[-1] for _, printed in steps].count("# exit code 2") == 1
    for command, printed in steps:
        command = command.replace("127.0.0.1:18143", f"127.0.0.1:{port}")
        if command.startswith("export "):
            exports += command + "\n"
        script = f'{exports}{{ {command}\n}} 2>&1; echo "# exit code $?"'  # past a # comment
        process = subprocess.Popen(
            ["bash", "-c", script], cwd=directory, env=env, stdout=subprocess.PIPE, text=True
        )
        stop = STOPPED_ELSEWHERE.search(command)
        if stop is not None:  # stopped from elsewhere once a node runs, as the README says
            _stop_once_running(directory, port, stop.group(1))
        out, _ = process.communicate(timeout=120)
        got = "\n".join(line.rstrip() for line in out.splitlines()) + "\n"
        assert _without_times(got) == _without_times(printed), command


def _stop_once_running(directory: Path, port: int, job: str) -> None:
    token = (directory / "data" / "admin.token").read_text().strip()
    url = f"http://127.0.0.1:{port}/orchestrator/v1"
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, f"job {job} never ran a node"
        try:
            request = urllib.request.Request(
                f"{url}/jobs/{job}", headers={"X-Authentication": token}
            )
            with urllib.request.urlopen(request, timeout=5) as answer:
                if (json.load(answer)["node_states"] or {}).get("running"):
                    break
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # 404: not made yet
                raise
        time.sleep(0.1)
    bin_dir = Path(sys.executable).parent
    stopped = subprocess.run(
        [str(bin_dir / "podium"), "job", "stop", job, "--url", f"http://127.0.0.1:{port}"],
        env={**os.environ, "PODIUM_TOKEN": token},
        capture_output=True,
        timeout=60,
    )
    assert stopped.returncode == 0, stopped.stderr
