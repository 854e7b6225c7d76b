"""Running one child process for a node run: input in, capped output out, and no leftovers.

The child leads its own process group, so a timeout or a cancellation (a forced stop, a shutdown)
kills everything it started, not just the first process. The group also dies with this process,
even by `kill -9`: the leader is a small `sh` launcher that the kernel sends SIGTERM when its
parent dies (`setpriv --pdeathsig`, util-linux's wrapper of prctl(PR_SET_PDEATHSIG)), and which
then kills its whole group; it runs the task as its child and exits with the task's status (a
task killed by signal N exits 128 + N, as a shell reports it). Where `setpriv` is missing (not
Linux), the task runs as the group leader without that guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from podium.executor.transports.base import RunError

_CHUNK: Final = 64 * 1024
_SETPRIV: Final = shutil.which("setpriv")
# Run the task ("$@") as a child with our stdin (dash gives a background job /dev/null, even with
# `<&0`, so it goes through fd 3), and wait for it; on SIGTERM (the parent died) kill the group.
_LAUNCHER: Final = 'exec 3<&0; trap "kill -KILL 0" TERM; "$@" <&3 3<&- & wait $!'


@dataclass(frozen=True, slots=True)
class ProcessResult:
    exit_code: int
    stdout: bytes
    stderr: bytes
    truncated: bool  # stdout went over the cap; the rest was read and dropped


async def run_process(
    argv: Sequence[str],
    *,
    stdin: bytes | None,
    env: Mapping[str, str],
    cwd: Path | None,
    timeout_s: float | None,
    max_output_bytes: int,
) -> ProcessResult:
    """Raises RunError when the process cannot start or runs past `timeout_s`."""
    _check_runnable(argv[0], env, cwd)
    try:
        proc = await asyncio.create_subprocess_exec(
            *_guarded(argv),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        raise RunError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
    try:
        async with asyncio.timeout(timeout_s):
            return await _communicate(proc, stdin, max_output_bytes)
    except TimeoutError:
        await _kill(proc)
        raise RunError(f"the run timed out after {timeout_s:g} seconds") from None
    except BaseException:
        await _kill(proc)
        raise


def _guarded(argv: Sequence[str]) -> list[str]:
    """The command line that runs `argv` under the launcher, so it dies with this process."""
    if _SETPRIV is None:
        return list(argv)
    return [_SETPRIV, "--pdeathsig", "TERM", "--", "/bin/sh", "-c", _LAUNCHER, "podium-run", *argv]


def _check_runnable(program: str, env: Mapping[str, str], cwd: Path | None) -> None:
    """Raises RunError, as exec would fail, for a program that cannot be run: the launcher would
    only say so through an exit code that a task may use too."""
    if "/" in program:
        path = Path(program) if cwd is None or Path(program).is_absolute() else cwd / program
        if not path.is_file():
            raise RunError(f"cannot start {program}: No such file or directory")
        if not os.access(path, os.X_OK):
            raise RunError(f"cannot start {program}: Permission denied")
    elif shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise RunError(f"cannot start {program}: No such file or directory")


async def _communicate(
    proc: asyncio.subprocess.Process, stdin: bytes | None, max_output_bytes: int
) -> ProcessResult:
    assert proc.stdout is not None
    assert proc.stderr is not None

    async def feed() -> None:
        if proc.stdin is None:
            return
        try:
            if stdin:
                proc.stdin.write(stdin)
                await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the process does not read its input; that is its business
        finally:
            proc.stdin.close()

    (_, (stdout, truncated), (stderr, _)) = await asyncio.gather(
        feed(),
        read_capped(proc.stdout, max_output_bytes),
        read_capped(proc.stderr, max_output_bytes),
    )
    exit_code = await proc.wait()
    return ProcessResult(exit_code, stdout, stderr, truncated)


class Readable(Protocol):
    async def read(self, n: int) -> bytes: ...


async def read_capped(stream: Readable, cap: int) -> tuple[bytes, bool]:
    """Everything up to `cap` bytes, and whether there was more; the rest is read and dropped,
    so the writer never blocks on a full pipe."""
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(_CHUNK):
        room = cap - len(kept)
        if len(chunk) > room:
            truncated = True
            chunk = chunk[: max(room, 0)]
        kept += chunk
    return bytes(kept), truncated


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the whole process group and reap the leader; safe to call more than once."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await asyncio.shield(proc.wait())


def interpreter_for(path: Path) -> list[str]:
    """The command that runs `path` as POSIX would, even without its executable bit: through
    its shebang (interpreter plus at most one argument, as the kernel splits it), or `sh`."""
    if os.access(path, os.X_OK):
        return [str(path)]
    with path.open("rb") as file:
        first = file.readline(512)
    if first.startswith(b"#!"):
        line = first[2:].decode("utf-8", "replace").strip()
        interpreter, _, argument = line.partition(" ")
        return [interpreter, *([argument.strip()] if argument.strip() else []), str(path)]
    return ["/bin/sh", str(path)]
