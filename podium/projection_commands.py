"""`podium projection rebuild`: the api's projection of ended jobs built afresh from the
embedded log of a data dir (`podium.history.rebuild` does the work), with a progress bar on a
terminal."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final, TextIO

from podium.settings import Settings

COMMANDS: Final = ("projection",)


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], environ: Mapping[str, str]
) -> None:
    """`podium projection rebuild`, its `--data-dir` defaulting to PODIUM_DATA_DIR."""
    described = "the api's projection of ended jobs: rebuild it from the embedded log"
    group = commands.add_parser(
        "projection", help=described, description=f"{described.capitalize()}."
    )
    actions = group.add_subparsers(dest="action", required=True)
    data_dir = environ.get("PODIUM_DATA_DIR", str(Settings().data_dir))
    building = (
        "build the projection afresh from the log (from its start, or from the base snapshot "
        "kept when old segments were deleted; stop podium first)"
    )
    rebuild = actions.add_parser("rebuild", help=building, description=f"{building.capitalize()}.")
    rebuild.add_argument(
        "--data-dir",
        type=Path,
        default=Path(data_dir),
        help=f"the data dir (env PODIUM_DATA_DIR; default {data_dir})",
    )


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """0 rebuilt; 2 when there is no log, or it cannot be read."""
    # Imported here: the other commands' start does not pay for the projection's code.
    from podium.events.filelog import LOG_FILE, FileEventLog, log_exists
    from podium.events.ports import PortError
    from podium.events.snapshots import start_of
    from podium.history.rebuild import Rebuilt, rebuild
    from podium.history.store import PROJECTION_FILE, ProjectionBusy, claim
    from podium.logs import configure_logging

    out, err = out or sys.stdout, err or sys.stderr
    data_dir: Path = args.data_dir
    if not log_exists(data_dir / LOG_FILE):
        print(f"podium projection: no log in {data_dir} ({LOG_FILE})", file=err)
        return 2
    on_terminal = err.isatty()
    shown = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - shown[0] >= 0.2 or done >= total:
            shown[0] = now
            percent = 100 * done // max(total, 1)
            print(f"\rrebuilding: {percent:3d}% ({done:,}/{total:,} records)", end="", file=err)

    async def rebuilt() -> Rebuilt:
        log = await FileEventLog.open(data_dir / LOG_FILE, fsync=False)
        try:
            start = await start_of(log)  # the base snapshot kept when old segments went
            path = data_dir / PROJECTION_FILE
            return await rebuild(log, path, progress if on_terminal else None, start)
        finally:
            await log.close()

    configure_logging("warning")
    try:
        _, lock = claim(data_dir, first_only=True)
    except ProjectionBusy:
        print(
            f"podium projection rebuild: a running podium holds {data_dir / PROJECTION_FILE}",
            file=err,
        )
        return 2
    try:
        done = asyncio.run(rebuilt())
    except (OSError, PortError) as exc:
        print(f"podium projection rebuild: {exc}", file=err)
        return 2
    finally:
        os.close(lock)
    if on_terminal:
        print(file=err)
    rate = done.events / done.seconds if done.seconds else 0.0
    print(
        f"rebuilt {data_dir / PROJECTION_FILE}: {done.events:,} events, {done.jobs:,} jobs "
        f"in {done.seconds:.1f} s ({rate:,.0f} events/s)",
        file=out,
    )
    return 0
