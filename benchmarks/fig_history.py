"""Figure 10: history in bounded memory. Logs of ended jobs of growing length, each projected
into SQLite in a fresh process (`benchmarks.history project`, as `podium projection rebuild`
does), then restarted with the projection present (`benchmarks.history restart`); against
folding the smallest log into memory alone (`benchmarks.cold_start fold`, as before issue 16)."""

from __future__ import annotations

import asyncio
import json
import sys

from benchmarks.plan import Bench
from benchmarks.procs import shown
from benchmarks.stats import Figure, Row, Spread


async def _run(module: str, *args: str) -> tuple[dict[str, float], list[str]]:
    argv = [sys.executable, "-m", module, *args]
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{shown(argv)} failed")
    result: dict[str, float] = json.loads(out)
    return result, argv


async def figure_10(bench: Bench) -> Figure:
    plan = bench.plan
    figure = Figure(10, "history: ended jobs in SQLite, memory and restart against log length")
    directory = bench.work / "fig10"
    directory.mkdir(parents=True, exist_ok=True)
    ends: list[float] = []
    for size in plan.history_events:
        log = str(directory / f"{size}.log")
        generated, argv = await _run("benchmarks.cold_start", "generate", log, str(size))
        figure.commands.append(shown(argv))
        projected, project_argv = await _run(
            "benchmarks.history", "project", log, str(directory / str(size))
        )
        restarted, restart_argv = await _run(
            "benchmarks.history", "restart", log, str(directory / str(size))
        )
        folded, fold_argv = await _run("benchmarks.cold_start", "fold", log)
        figure.commands += [shown(project_argv), shown(restart_argv), shown(fold_argv)]
        fold_rate = folded["events"] / folded["seconds"]
        events = f"{generated['events'] / 1e6:.1f}M events"
        ends.append(restarted["end_mb"])
        figure.rows += [
            Row(
                f"{events}: fold alone, into memory (the ceiling; before issue 16)",
                Spread.of([fold_rate]),
                "events/s",
            ),
            Row(
                f"{events}: rebuild of the projection from the log, events/s",
                Spread.of([projected["events_per_s"]]),
                "events/s",
                Spread.of([projected["events_per_s"] / fold_rate]),
                "the fold alone, same log, same run",
                ">= 100,000 events/s",
                projected["events_per_s"] >= 100_000,
            ),
            Row(f"{events}: fold alone, peak RSS", Spread.of([folded["rss_mb"]]), "MB"),
            Row(f"{events}: peak RSS while projecting", Spread.of([projected["peak_mb"]]), "MB"),
            Row(f"{events}: RSS after projecting", Spread.of([projected["end_mb"]]), "MB"),
            Row(f"{events}: projection on disk", Spread.of([projected["db_mb"]]), "MB"),
            Row(
                f"{events}: restart to caught up, projection present",
                Spread.of([restarted["seconds"]]),
                "s",
                target="< 5 s",
                met=restarted["seconds"] < 5,
            ),
            Row(
                f"{events}: of which opening the file log (reads and checks all of it)",
                Spread.of([restarted["log_open_s"]]),
                "s",
            ),
            Row(f"{events}: RSS after the restart", Spread.of([restarted["end_mb"]]), "MB"),
            Row(f"{events}: peak RSS of the restart", Spread.of([restarted["peak_mb"]]), "MB"),
        ]
    largest = plan.history_events[-1]
    reads, reads_argv = await _run(
        "benchmarks.history",
        "reads",
        str(directory / f"{largest}.log"),
        str(directory / str(largest)),
    )
    figure.commands.append(shown(reads_argv))
    for kind, what, target in (
        ("job", "GET /jobs/<old id>", 20.0),
        ("page", "GET /jobs?limit=50&offset=N", 50.0),
        ("events", "GET /jobs/<old id>/events?start=N", 20.0),
    ):
        figure.rows.append(
            Row(
                f"{largest / 1e6:.1f}M events, nothing running: {what} p99 (p50 "
                f"{reads[f'{kind}_p50_ms']:.1f} ms)",
                Spread.of([reads[f"{kind}_p99_ms"]]),
                "ms",
                target=f"< {target:g} ms",
                met=reads[f"{kind}_p99_ms"] < target,
            )
        )
    growth = max(ends) - min(ends)
    figure.rows += [
        Row(
            "RSS after restart: largest log minus smallest",
            Spread.of([growth]),
            "MB",
            target="< 100 MB",
            met=growth < 100,
        ),
    ]
    figure.notes.append(
        "The logs: task jobs of 100 sim nodes, every one ended (benchmarks.cold_start). RSS is "
        "the process's, interpreter included: peak is ru_maxrss, 'after' is /proc/self/statm. "
        "Each run is one fresh process; one repetition per size (the logs are long). Peak RSS "
        "while projecting and restarting includes the file log's open, which reads the whole "
        "file into memory to check it (the log's format is issue 9's)."
    )
    return figure
