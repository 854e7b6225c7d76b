"""Running one child process for a node run: input in, capped output out, and no leftovers.

The child leads its own process group, so a timeout or a cancellation (a forced stop, a shutdown)
kills everything it started, not just the first process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from podium.executor.transports.base import RunError

_CHUNK: Final = 64 * 1024


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
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
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
