"""Figure 10: history in bounded memory (issue 16, items 1 and 2). Per log length: a synthetic
month of ended jobs of 10 to 5,000 nodes (`benchmarks.history_log`), projected into SQLite in a
fresh process (`benchmarks.history project`, as `podium projection rebuild` does), restarted with
the projection present (`benchmarks.history restart`), then served by `podium serve` while a
10,000-node job runs, with reads of old jobs timed over HTTP (`benchmarks.history_serve`).
Against folding the log into memory alone (`benchmarks.cold_start fold`, as before issue 16),
for the lengths that fit in memory.

Generated logs are kept in a cache directory (`PODIUM_BENCH_CACHE`, by default
~/.cache/podium-bench), named by the generator's version and the length, and copied into the run's
work directory: the serving run appends to its copy."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Final

from benchmarks.history_log import VERSION
from benchmarks.plan import Bench
from benchmarks.procs import shown
from benchmarks.stats import Figure, Row, Spread
from podium.events.segments import segments_dir

CACHE: Final = Path(os.environ.get("PODIUM_BENCH_CACHE", Path.home() / ".cache/podium-bench"))
READ_TARGETS: Final = (
    ("job", "GET /jobs/<old id>", 20.0),
    ("page", "GET /jobs?limit=50&offset=N", 50.0),
    ("events", "GET /jobs/<old id>/events?start=N, its last 150 ids", 20.0),
)
MB_TARGET: Final = 600.0


async def _run(module: str, *args: str) -> tuple[dict[str, Any], list[str]]:
    argv = [sys.executable, "-m", module, *args]
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{shown(argv)} failed")
    result: dict[str, Any] = json.loads(out)
    return result, argv


async def _log(size: int, figure: Figure) -> tuple[Path, dict[str, Any]]:
    """The cached log of `size` events (a directory holding `events.log.d`, its segments),
    generated when missing; what it holds."""
    entry = CACHE / f"history-v{VERSION}-{size}"
    about = entry / "about.json"
    if not about.exists():
        partial = CACHE / f"history-v{VERSION}-{size}.partial"
        await asyncio.to_thread(shutil.rmtree, partial, True)
        partial.mkdir(parents=True)
        generated, argv = await _run(
            "benchmarks.history_log", str(partial / "events.log"), str(size)
        )
        (partial / "about.json").write_text(json.dumps(generated))
        await asyncio.to_thread(shutil.rmtree, entry, True)
        partial.rename(entry)
        figure.commands.append(shown(argv))
    held: dict[str, Any] = json.loads(about.read_text())
    return entry, held


def _mb_row(label: str, mb: float) -> Row:
    return Row(label, Spread.of([mb]), "MB", target=f"< {MB_TARGET:g} MB", met=mb < MB_TARGET)


async def figure_10(bench: Bench) -> Figure:
    plan = bench.plan
    figure = Figure(10, "history: ended jobs in SQLite, memory and restart against log length")
    directory = bench.work / "fig10"
    after_restart: list[tuple[str, float]] = []
    for size in plan.history_events:
        cached, generated = await _log(size, figure)
        run = directory / str(size)
        data = run / "data"
        data.mkdir(parents=True, exist_ok=True)
        log = data / "events.log"
        await asyncio.to_thread(shutil.copytree, segments_dir(cached / log.name), segments_dir(log))
        projected, project_argv = await _run("benchmarks.history", "project", str(log), str(data))
        restarted, restart_argv = await _run("benchmarks.history", "restart", str(log), str(data))
        figure.commands += [shown(project_argv), shown(restart_argv)]
        fold_rate = None
        events = f"{generated['events'] / 1e6:.1f}M events"
        if projected["events"] != generated["events"]:
            figure.rows.append(_lost_row(events, generated, projected, log))
            await asyncio.to_thread(shutil.rmtree, run)
            continue
        figure.rows.append(
            Row(
                f"{events}: the log: {generated['node_runs']:,.0f} node runs in "
                f"{generated['jobs']:,.0f} jobs, {generated['bytes'] / 1e6:,.0f} MB",
                Spread.of([generated["seconds"]]),
                "s to generate",
            )
        )
        if size <= plan.history_fold_max:
            folded, fold_argv = await _run("benchmarks.cold_start", "fold", str(log))
            figure.commands.append(shown(fold_argv))
            fold_rate = folded["events"] / folded["seconds"]
            figure.rows += [
                Row(
                    f"{events}: fold alone, into memory (before issue 16)",
                    Spread.of([fold_rate]),
                    "events/s",
                ),
                Row(f"{events}: fold alone, peak RSS", Spread.of([folded["rss_mb"]]), "MB"),
            ]
        served, serve_argv = await _run("benchmarks.history_serve", str(run), str(size))
        figure.commands += [shown(serve_argv), str(served["command"])]
        after_restart.append((events, served["serving_mb"]))
        rate = projected["events_per_s"]
        figure.rows += [
            Row(
                f"{events}: rebuild of the projection from the log (its open included)",
                Spread.of([rate]),
                "events/s",
                None if fold_rate is None else Spread.of([rate / fold_rate]),
                "" if fold_rate is None else "the fold alone, same log, same run",
                ">= 100,000 events/s",
                rate >= 100_000,
            ),
            Row(
                f"{events}: rebuild, events per CPU second of its process (all threads; "
                f"{projected['cpu_s']:.0f} CPU s in {projected['seconds']:.0f} s)",
                Spread.of([projected["events_per_cpu_s"]]),
                "events/CPU s",
            ),
            _mb_row(f"{events}: peak RSS while projecting", projected["peak_mb"]),
            Row(
                f"{events}: of which the file log's open",
                Spread.of([projected["open_peak_mb"]]),
                "MB",
            ),
            Row(
                f"{events}: peak RSS while projecting, after the log's open",
                Spread.of([projected["after_open_peak_mb"]]),
                "MB",
            ),
            Row(f"{events}: projection on disk", Spread.of([projected["db_mb"]]), "MB"),
            Row(
                f"{events}: restart to caught up in process, projection present (log open "
                f"{restarted['log_open_s']:.2f} s, {restarted['folded']:,.0f} events folded)",
                Spread.of([restarted["seconds"]]),
                "s",
            ),
            Row(
                f"{events}: podium serve, start to serving, projection present (10,000-node "
                f"inventory; its log says: projection opened at {served['to_projection_s']:.2f} "
                f"s, tail folded at {served['to_folded_s']:.2f} s, serving at "
                f"{served['to_serving_line_s']:.2f} s)",
                Spread.of([served["serving_s"]]),
                "s",
                target="< 5 s",
                met=served["serving_s"] < 5,
            ),
            _mb_row(f"{events}: podium serve, peak RSS up to serving", served["serving_peak_mb"]),
            Row(
                f"{events}: podium serve, RSS once serving (after the restart)",
                Spread.of([served["serving_mb"]]),
                "MB",
            ),
            _mb_row(
                f"{events}: podium serve, peak RSS while serving the reads and a "
                f"{served['live_nodes']:,.0f}-node job",
                served["serve_peak_mb"],
            ),
            _live_row(events, served),
        ]
        for kind, what, target in READ_TARGETS:
            p99 = served[f"{kind}_p99_ms"]
            figure.rows.append(
                Row(
                    f"{events}, a 10,000-node job running: {what} p99 (p50 "
                    f"{served[f'{kind}_p50_ms']:.1f} ms, {served[f'{kind}_n']:.0f} reads; "
                    f"nothing running, same server after it: p50 "
                    f"{served[f'idle_{kind}_p50_ms']:.1f}, p99 "
                    f"{served[f'idle_{kind}_p99_ms']:.1f} ms)",
                    Spread.of([p99]),
                    "ms",
                    target=f"< {target:g} ms",
                    met=p99 < target,
                )
            )
        figure.rows.append(
            Row(
                f"{events}, a 10,000-node job running: GET /jobs/<old id>/events?start=N, N "
                f"in the middle of the job ({served['middle_items']:,.0f} events on average) "
                f"p99 (p50 {served['middle_p50_ms']:.1f} ms, {served['middle_n']:.0f} reads)",
                Spread.of([served["middle_p99_ms"]]),
                "ms",
            )
        )
        await asyncio.to_thread(shutil.rmtree, run)
    values = [mb for _, mb in after_restart]
    growth = max(values) - min(values)
    points = ", ".join(f"{mb:.1f} MB at {events}" for events, mb in after_restart)
    figure.rows.append(
        Row(
            f"podium serve, RSS once serving after a restart: {points}; largest minus smallest",
            Spread.of([growth]),
            "MB",
            target="< 100 MB",
            met=growth < 100,
        )
    )
    figure.notes += [
        "The logs (benchmarks.history_log): ended task jobs of 10 to 5,000 nodes in turn "
        "(5,000, 10, 40, 100, 10, 250, 1,000, 20, 500, 2,500, 10, 60), over the 29 days before "
        "they were generated; three events per node run (dispatched, started, finished with a "
        "result) in records of 100 to 500 events, as podium serve writes them. Generated logs "
        f"are cached in {CACHE} by generator version and length (the generation time shown is "
        "the cached one's).",
        "RSS is the process's, interpreter included, from /proc (VmHWM for peaks, VmRSS for "
        "now); a phase's peak is told apart from the one before it by resetting the peak "
        "(/proc/PID/clear_refs). One run per length (the logs are long).",
        "podium serve runs with --job-retention-days 3650 (the history is kept whole) and a "
        "10,000-node sim inventory; the live job is demo::echo over those nodes at 1 s per run "
        "with 250 slots. Reads are timed from the request to the answer's last byte, taken in "
        "turn (job, page, events; the middle-of-job events every fourth time), on old jobs of "
        "the first half of the history; pages at offsets spread over all jobs.",
    ]
    if plan.history_fold_max < max(plan.history_events):
        figure.notes.append(
            f"The fold alone is run up to {plan.history_fold_max / 1e6:g}M events: all of "
            "history in memory needs about 0.45 GB per million events."
        )
    return figure


def _lost_row(events: str, generated: dict[str, Any], projected: dict[str, Any], log: Path) -> Row:
    """The file log's open kept fewer events than were written (before the segmented log, one
    `pread` of a single file over 2 GiB read 2 GiB, and the rest was cut off as a torn tail)."""
    return Row(
        f"{events}: the log's open kept {projected['events']:,.0f} of {generated['events']:,.0f} "
        f"events ({generated['bytes']:,.0f} bytes written, {_bytes(log):,.0f} left): not "
        "measured further",
        Spread.of([generated["events"] - projected["events"]]),
        "events lost",
        target="none lost",
        met=False,
    )


def _bytes(log: Path) -> int:
    return sum(file.stat().st_size for file in segments_dir(log).iterdir())


def _live_row(events: str, served: dict[str, Any]) -> Row:
    running = served["live_state_before"] == "running" == served["live_state_after"]
    return Row(
        f"{events}: the live job ran through the reads ({served['window_s']:.1f} s: "
        f"{served['live_state_before']} at the start, {served['live_state_after']} at the end, "
        f"node runs ended {served['live_ended_before']:,.0f} -> "
        f"{served['live_ended_after']:,.0f})",
        Spread.of([served["live_ended_after"] - served["live_ended_before"]]),
        "node runs",
        target="running throughout",
        met=running,
    )
