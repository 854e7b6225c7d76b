"""CPU time of processes from /proc/<pid>/stat (user + system, every thread of the process), and
the RabbitMQ broker's processes (`beam.smp`), so that a figure can divide CPU by work done.

Linux only; the kernel counts in clock ticks (usually 100 a second), so a window should hold
many of them for the figure to mean something.
"""

from __future__ import annotations

import asyncio
import os
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

_TICK_S: Final = 1.0 / os.sysconf("SC_CLK_TCK")
BROKER: Final = "beam.smp"


def cpu_s(pid: int) -> float:
    """User + system CPU seconds `pid` has used so far (its threads included, not children).
    Raises ProcessLookupError when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError as exc:
        raise ProcessLookupError(pid) from exc
    fields = text[text.rindex(")") + 2 :].split()  # field 3 (state) on; the name may hold spaces
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # fields 14 and 15: utime, stime


def pids_named(command: str) -> list[int]:
    """Processes whose command name (/proc/<pid>/comm) is `command`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == command:
                found.append(int(entry.name))
        except OSError:  # it ended meanwhile
            continue
    return found


def broker_pids() -> list[int]:
    """The RabbitMQ server's `beam.smp`: not the short-lived one that each `rabbitmqctl` runs
    (another session's, or the peers' of figure 11), which would end within a window."""
    found = []
    for pid in pids_named(BROKER):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:  # it ended meanwhile
            continue
        if any(argv[i : i + 3] == [b"-s", b"rabbit", b"boot"] for i in range(len(argv))):
            found.append(pid)
    return found


@dataclass
class CpuTrace:
    """Readings of the same pids every `interval_s`, taken by `sample` (a task of the caller's),
    so that the CPU used up to a moment known only afterwards (an event's `at` on the log) can
    be read back: `used(start, end)` interpolates between the readings around each end."""

    pids: list[int]
    interval_s: float = 0.01
    readings: list[tuple[float, float]] = field(default_factory=list)  # time.time(), CPU s

    def read(self) -> None:
        self.readings.append((time.time(), sum(cpu_s(pid) for pid in self.pids)))

    async def sample(self) -> None:
        while True:
            self.read()
            await asyncio.sleep(self.interval_s)

    def at(self, moment: float) -> float:
        """The CPU seconds used by `moment`, between the readings around it."""
        times = [t for t, _ in self.readings]
        index = bisect_right(times, moment)
        if index == 0:
            raise ValueError(f"no reading before {moment}")
        if index == len(times):
            raise ValueError(f"no reading after {moment}")
        (t0, c0), (t1, c1) = self.readings[index - 1], self.readings[index]
        return c0 + (c1 - c0) * (moment - t0) / (t1 - t0) if t1 > t0 else c1

    def used(self, start: float, end: float) -> float:
        return self.at(end) - self.at(start)
