"""Looking at this machine's processes, to check that a run left none behind."""

from __future__ import annotations

from pathlib import Path


def processes_running(argv: list[str]) -> list[int]:
    """Live (not zombie) processes whose command line is exactly `argv`."""
    wanted = "\0".join(argv).encode() + b"\0"
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "cmdline").read_bytes() != wanted:
                continue
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # it ended while we looked
        if state != "Z":
            found.append(int(proc.name))
    return found
