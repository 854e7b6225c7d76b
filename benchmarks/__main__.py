"""`python -m benchmarks [--quick] [--only 1,2] [--no-profile]`: run the figures, write the report.

The full run writes `benchmarks/REPORT.md` and `benchmarks/results.json`; `--quick` runs a reduced
version and writes `REPORT-quick.md` and `results-quick.json`. Work files go to a temporary
directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.fig_cold import figure_6
from benchmarks.fig_delivery import figure_5
from benchmarks.fig_fleet import figure_2, figure_4, figure_8
from benchmarks.fig_history import figure_10
from benchmarks.fig_http import figure_1
from benchmarks.fig_jobs import figure_3
from benchmarks.fig_peers import figure_11
from benchmarks.fig_scale import figure_7
from benchmarks.fig_schedules import figure_9
from benchmarks.plan import FULL, QUICK, Bench
from benchmarks.report import Machine, Profile, write
from benchmarks.stats import Figure
from podium.logs import configure_logging

HERE = Path(__file__).resolve().parent
FigureRun = Callable[[Bench], Awaitable[Figure]]
FIGURES: dict[int, FigureRun] = {
    1: figure_1,
    2: figure_2,
    3: figure_3,
    4: figure_4,
    5: figure_5,
    6: figure_6,
    7: figure_7,
    8: figure_8,
    9: figure_9,
    10: figure_10,
    11: figure_11,
}


async def _run(
    bench: Bench, numbers: list[int], profile: bool
) -> tuple[list[Figure], list[Profile]]:
    figures = []
    for number in numbers:
        started = time.monotonic()
        print(f"figure {number}...", flush=True)
        load_before = os.getloadavg()[0]
        try:
            figure = await FIGURES[number](bench)
        except Exception:  # the other figures still run, and the report says this one failed
            traceback.print_exc()
            figure = Figure(number, "failed: see the run's output for the traceback")
        figure.seconds = time.monotonic() - started
        figure.notes.append(
            f"Load average (1 minute) of the machine: {load_before:.2f} when the figure began, "
            f"{os.getloadavg()[0]:.2f} when it ended (2 cores, shared with other sessions)."
        )
        print(f"figure {number} took {figure.seconds:.0f} s", flush=True)
        figures.append(figure)
    profiles: list[Profile] = []
    if profile:
        from benchmarks.profiling import profiles_of

        profiles = await profiles_of(bench)
    return figures, profiles


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the reduced run (make bench-quick)")
    parser.add_argument("--only", default="", help="figure numbers, e.g. 1,2 (default: all)")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profiles")
    parser.add_argument(
        "--profiles-only", action="store_true", help="only the profiles (no figures)"
    )
    parser.add_argument("--out", type=Path, default=HERE, help="where the report goes")
    parser.add_argument("--reps", type=int, default=0, help="repetitions (default: the plan's)")
    args = parser.parse_args()
    numbers = [int(n) for n in args.only.split(",") if n] or sorted(FIGURES)
    if args.profiles_only:
        numbers = []
    plan = QUICK if args.quick else FULL
    if args.reps:
        plan = replace(plan, reps=args.reps)
    invocation = shlex.join(["python", "-m", "benchmarks", *sys.argv[1:]])
    configure_logging("warning")  # the harness's own broker connections say little
    started = time.monotonic()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as work:
        bench = Bench(plan, Path(work), invocation)
        profile = plan.profile and not args.no_profile
        figures, profiles = asyncio.run(_run(bench, numbers, profile))
    seconds = time.monotonic() - started
    report, results = write(
        args.out,
        figures,
        Machine.here(date),
        invocation,
        profiles,
        seconds,
        suffix="-quick" if args.quick else "",
    )
    print(f"wrote {report} and {results} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
