"""`podium log verify` and `podium log repair`: the embedded log's checks and its one repair, run
on the files of a data dir (`podium.events.logcheck` does the work)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final, TextIO

from podium.settings import Settings

COMMANDS: Final = ("log",)


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], environ: Mapping[str, str]
) -> None:
    """`podium log verify|repair`, their `--data-dir` defaulting to PODIUM_DATA_DIR."""
    described = (
        "check the embedded log (its segments in events.log.d/) and its snapshot, or cut a "
        "damaged log"
    )
    group = commands.add_parser("log", help=described, description=f"{described.capitalize()}.")
    actions = group.add_subparsers(dest="action", required=True)
    data_dir = environ.get("PODIUM_DATA_DIR", str(Settings().data_dir))
    data_help = f"the data dir (env PODIUM_DATA_DIR; default {data_dir})"
    checking = (
        "check every segment of the log and its snapshot, changing nothing: exit 0 good, 1 damaged"
    )
    check = actions.add_parser("verify", help=checking, description=f"{checking.capitalize()}.")
    check.add_argument("--data-dir", type=Path, default=Path(data_dir), help=data_help)
    cutting = (
        "cut the log before a record, keeping a copy of the segments changed or removed "
        "(stop podium first)"
    )
    cut = actions.add_parser("repair", help=cutting, description=f"{cutting.capitalize()}.")
    cut.add_argument("--data-dir", type=Path, default=Path(data_dir), help=data_help)
    cut.add_argument(
        "--truncate-at",
        type=int,
        required=True,
        metavar="RECORD",
        help="the first record to cut (records are numbered from 0; verify names the first bad)",
    )


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """verify: 0 good (a torn last record, which a start cuts, is good), 1 damaged; repair: 0
    done, 1 refused; 2 when the files cannot be read or written."""
    # Imported here: the other commands' start does not pay for the log's code.
    from podium.events.logcheck import RepairRefused, repair, verify

    out, err = out or sys.stdout, err or sys.stderr
    where = f"podium log {args.action}"
    try:
        if args.action == "verify":
            verdict = verify(args.data_dir)
            print("\n".join(verdict.lines), file=out)
            return 1 if verdict.damaged else 0
        print("\n".join(repair(args.data_dir, args.truncate_at)), file=out)
    except RepairRefused as exc:
        print(f"{where}: {exc}; nothing was changed", file=err)
        return 1
    except OSError as exc:
        print(f"{where}: {exc.filename or args.data_dir}: {exc.strerror or exc}", file=err)
        return 2
    return 0
