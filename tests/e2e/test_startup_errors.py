"""`podium serve` as a real subprocess that cannot start: it says why in one line on stderr (a
YAML error keeps its line and caret), exits 2, and never hangs or prints a traceback."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.events import logformat
from podium.events.filelog import FileEventLog
from podium.events.model import JobReady
from podium.events.snapshots import FileSnapshots, Snapshot
from podium.events.state import State
from podium.settings import PUPPET_ENVIRONMENTS
from tests.conftest import DATA, ENVIRONMENTS, INVENTORY
from tests.sshd import free_port

V1 = DATA / "logs" / "v1"


def serve(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """Run `podium serve` to its end; a hang fails the test through the timeout."""
    command = [sys.executable, "-m", "podium.cli", "serve", "--data-dir", str(tmp_path / "d")]
    defaults = {
        "--port": str(free_port()),
        "--inventory": str(INVENTORY),
        "--environments": str(ENVIRONMENTS),
        "--log-level": "warning",
    }
    for flag, value in defaults.items():
        if flag not in flags:
            command += [flag, value]
    return subprocess.run(
        [*command, *flags], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The error `podium serve` printed, after checking it exited 2 without a traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "Podium is serving" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("podium serve: ")]
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("podium serve: ")


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_port_in_use_is_one_line_and_exit_2_not_a_hang(tmp_path: Path, taken_port: int) -> None:
    error = refused(serve(tmp_path, "--port", str(taken_port)))
    assert error == (
        f"cannot listen on 127.0.0.1:{taken_port}: address in use (use --port or PODIUM_PORT)"
    )


@pytest.mark.parametrize("flag", ["--inventory", "--node-groups", "--environments"])
def test_a_missing_source_path_is_named_in_one_line(tmp_path: Path, flag: str) -> None:
    missing = tmp_path / "nowhere"
    error = refused(serve(tmp_path, flag, str(missing)))
    assert str(missing) in error
    assert "No such file or directory" in error


def test_an_unreadable_environments_path_is_refused(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    error = refused(serve(tmp_path, "--environments", str(not_a_directory)))
    assert error == (
        f"{not_a_directory}: cannot read the environments: Not a directory "
        "(use --environments or PODIUM_ENVIRONMENTS)"
    )


def test_an_inventory_without_environments_looks_for_puppets_and_says_so(
    tmp_path: Path,
) -> None:
    """With an inventory of one's own, the environments default to Puppet's, not the example's
    (where this machine has none, it is refused saying where it looked)."""
    if PUPPET_ENVIRONMENTS.exists():
        pytest.skip(f"{PUPPET_ENVIRONMENTS} exists on this machine: it would be served")
    command = [sys.executable, "-m", "podium.cli", "serve", "--data-dir", str(tmp_path / "d")]
    command += ["--port", str(free_port()), "--inventory", str(INVENTORY)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert refused(result) == (
        f"{PUPPET_ENVIRONMENTS}: cannot read the environments: No such file or directory "
        "(use --environments or PODIUM_ENVIRONMENTS)"
    )


@pytest.mark.parametrize("flag", ["--inventory", "--node-groups"])
def test_broken_yaml_shows_its_line_and_caret_without_a_traceback(
    tmp_path: Path, flag: str
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups:\n  - name: a\n    targets: [a, b\n  oops: ]\n")
    result = serve(tmp_path, flag, str(broken))
    assert refused(result).startswith(f"{broken}: not valid YAML")
    assert "line 4, column 7" in result.stderr
    assert "      ^" in result.stderr  # the caret under the column


def test_a_data_dir_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    error = refused(serve(tmp_path, "--data-dir", str(blocker / "data")))
    assert str(blocker / "data") in error


def test_a_damaged_log_is_one_line_naming_the_record_and_the_byte(tmp_path: Path) -> None:
    """One flipped bit in the length of a record in the middle of the log: refused, not cut."""
    data = tmp_path / "d"
    data.mkdir()
    log = data / "events.log"
    shutil.copy(V1 / "events.log", log)
    starts = list(logformat.scan(log.read_bytes()).starts)
    middle = starts[len(starts) // 2]
    with log.open("r+b") as file:
        file.seek(middle)
        file.write(bytes([file.read(1)[0] ^ 0x80]))
    damaged = log.read_bytes()
    error = refused(serve(tmp_path))
    assert error.startswith(f"{log}: record {len(starts) // 2} at byte {middle} ")
    assert log.read_bytes() == damaged
    assert sorted(p.name for p in data.iterdir()) == ["events.log", "events.log.d"]


def test_a_snapshot_ahead_of_the_log_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()

    async def write() -> None:
        log = await FileEventLog.open(data / "events.log")
        await log.append([JobReady(at=1.0, job="1", origin="t", seq=1)])
        await FileSnapshots(data / "snapshot.bin").save(Snapshot(5, State(), log.chain_hash()))
        await log.close()

    asyncio.run(write())
    before = {p.name: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    error = refused(serve(tmp_path))
    assert error.startswith(
        f"{data / 'snapshot.bin'}: covers records up to 4, but {data / 'events.log'} ends after"
    )
    assert "after record 0" in error
    assert {p.name: p.read_bytes() for p in data.rglob("*") if p.is_file()} == before


def test_a_log_another_process_has_open_is_one_line(tmp_path: Path) -> None:
    """Two processes appending to one file would interleave their records."""
    data = tmp_path / "d"

    async def held() -> FileEventLog:
        return await FileEventLog.open(data / "events.log")

    log = asyncio.run(held())
    try:
        error = refused(serve(tmp_path))
    finally:
        asyncio.run(log.close())
    assert error == f"{data / 'events.log'} is in use by another podium process"


def test_damage_inside_a_sealed_segment_met_by_the_fold_is_one_line(tmp_path: Path) -> None:
    """Open trusts a sealed segment by its index; the fold of a start without a projection
    reads it, and the damage stops the start in one line, the files left as they are."""
    data = tmp_path / "d"

    async def write() -> None:
        log = await FileEventLog.open(data / "events.log", segment_bytes=600)
        for n in range(1, 31):
            await log.append([JobReady(at=1.0, job=str(n), origin="t", seq=n)])
        await log.close()

    asyncio.run(write())
    sealed = sorted((data / "events.log.d").glob("*.seg"))[1]
    with sealed.open("r+b") as file:
        file.seek(logformat.SEGMENT_HEADER.size + logformat.HEADER.size + 2)
        file.write(bytes([file.read(1)[0] ^ 0x80]))
    damaged = sealed.read_bytes()
    error = refused(serve(tmp_path, "--log-segment-bytes", "600"))
    assert error.startswith(f"{sealed}: record ")
    assert "fails its checksum on reading" in error
    assert sealed.read_bytes() == damaged
