"""A process's resident memory from /proc: now (VmRSS), its peak (VmHWM), and resetting that
peak to now (`/proc/<pid>/clear_refs` 5), so that the peak of one phase is told apart from the
peaks before it (the file log's open, say)."""

from __future__ import annotations

from pathlib import Path


def _status_mb(pid: int | str, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise LookupError(f"/proc/{pid}/status has no {field}")


def now_mb(pid: int | str = "self") -> float:
    return _status_mb(pid, "VmRSS")


def peak_mb(pid: int | str = "self") -> float:
    """The peak since the process started or since the last `reset_peak`."""
    return _status_mb(pid, "VmHWM")


def reset_peak(pid: int | str = "self") -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")
