"""Profiles of a running process with py-spy, summarised as the costs that dominate.

`py-spy record --format raw` writes collapsed stacks (`frame;frame;... count`). The summary
gives, per function, its self share (samples where it is the innermost frame) and its
inclusive share (samples where it is anywhere on the stack), ignoring idle samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_OURS: Final = ("(podium/", "/podium/")
_ROOTS: Final = ("serve (podium/serve.py)", "main (podium/cli.py)", "<module> (podium")
_IDLE: Final = ("select (selectors.py", "_run_once (asyncio/base_events.py", "epoll")


@dataclass(frozen=True, slots=True)
class Cost:
    function: str
    self_share: float
    inclusive_share: float


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    samples: int
    busy_samples: int
    by_self: list[Cost]
    by_inclusive: list[Cost]
    ours: list[Cost]  # Podium's own functions (libs, services, podium) by inclusive share


def _frame_name(frame: str) -> str:
    """`func (path/to/file.py:123)` -> `func (file.py)`: lines vary, functions do not."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(path.split("/")[-2:])
    return f"{name} ({short})"


def summarise(raw: str, top: int = 12) -> ProfileSummary:
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    ours: set[str] = set()
    total = busy = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f for f in stack.split(";") if f.strip() and not f.startswith("process ")]
        if not frames or any(marker in frames[-1] for marker in _IDLE):
            continue
        busy += count
        names = [_frame_name(f) for f in frames]
        ours.update(n for f, n in zip(frames, names, strict=True) if any(m in f for m in _OURS))
        own[names[-1]] += count
        for name in set(names):
            anywhere[name] += count
    scale = max(busy, 1)
    by_self = [Cost(name, n / scale, anywhere[name] / scale) for name, n in own.most_common(top)]
    by_inclusive = [
        Cost(name, own[name] / scale, n / scale) for name, n in anywhere.most_common(top * 4)
    ]
    mine = [
        Cost(name, own[name] / scale, n / scale)
        for name, n in anywhere.most_common()
        if name in ours and not name.startswith(_ROOTS)
    ]
    return ProfileSummary(total, busy, by_self, by_inclusive, mine[:top])


def py_spy() -> str | None:
    """The py-spy executable beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


async def record(pid: int, duration_s: float, output: Path) -> bool:
    """Sample `pid` for `duration_s` into `output` (raw format). False if py-spy is missing or
    cannot attach (it needs ptrace rights)."""
    executable = py_spy()
    if executable is None:
        return False
    process = await asyncio.create_subprocess_exec(
        executable,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(duration_s))),
        "--format",
        "raw",
        "--rate",
        "200",
        "--nonblocking",
        "--output",
        str(output),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await process.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    return process.returncode == 0 and output.exists()


def main() -> None:
    summary = summarise(Path(sys.argv[1]).read_text())
    print(f"samples {summary.samples}, busy {summary.busy_samples}")
    print("-- self")
    for cost in summary.by_self:
        print(f"{cost.self_share:6.1%} {cost.inclusive_share:6.1%}  {cost.function}")
    print("-- inclusive")
    for cost in summary.by_inclusive:
        print(f"{cost.self_share:6.1%} {cost.inclusive_share:6.1%}  {cost.function}")


if __name__ == "__main__":
    main()
