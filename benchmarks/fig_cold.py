"""Figure 6: cold start, folding a log of 1,000,000 events, against msgspec decoding the same
records alone; each measurement in a fresh process (`benchmarks.cold_start`), the ceiling run
just before the fold in each repetition."""

from __future__ import annotations

import asyncio
import json
import sys

from benchmarks.plan import Bench
from benchmarks.procs import shown
from benchmarks.stats import Figure, Row, Spread, ratios


async def _run(*args: str) -> tuple[dict[str, float], list[str]]:
    argv = [sys.executable, "-m", "benchmarks.cold_start", *args]
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{shown(argv)} failed")
    result: dict[str, float] = json.loads(out)
    return result, argv


async def figure_6(bench: Bench) -> Figure:
    plan = bench.plan
    figure = Figure(6, f"cold start: folding a log of {plan.cold_events:,} events")
    directory = bench.work / "fig6"
    directory.mkdir(parents=True, exist_ok=True)
    log = str(directory / "events.log")
    generated, argv = await _run("generate", log, str(plan.cold_events))
    figure.commands.append(shown(argv))
    events = generated["events"]
    folds, decodes = [], []
    for _ in range(plan.reps):
        decoded, decode_argv = await _run("decode", log)
        folded, fold_argv = await _run("fold", log)
        assert folded["events"] == decoded["events"] == events, (folded, decoded)
        decodes.append(decoded)
        folds.append(folded)
    figure.commands += [shown(decode_argv), shown(fold_argv)]
    fold_rate = [events / f["seconds"] for f in folds]
    decode_rate = [events / d["seconds"] for d in decodes]
    rss = Spread.of([f["rss_mb"] for f in folds])
    figure.rows += [
        Row("msgspec decode alone (ceiling): events/s", Spread.of(decode_rate), "events/s"),
        Row(
            "open, check and fold (as podium serve starts): events/s",
            Spread.of(fold_rate),
            "events/s",
            ratios(fold_rate, decode_rate),
            "msgspec decode of the same records, same run",
            "reported",
        ),
        Row("fold: seconds", Spread.of([f["seconds"] for f in folds]), "s"),
        Row("fold: peak resident memory", rss, "MB", target="< 600 MB", met=rss.high < 600),
    ]
    figure.notes.append(
        "The fold's ratio to decoding alone is reported without a target: the target of a "
        "cold start is now figure 10's (restart time independent of the history's length)."
    )
    figure.notes.append(
        f"The log: {events:,.0f} events in {generated['bytes'] / 1e6:.0f} MB, task jobs of 100 "
        "sim nodes (JobRequested, JobReady, then per node dispatched, started and finished with a "
        "result, then JobFinished), in the batches the producers would append. Memory is the "
        "process's peak RSS (ru_maxrss), interpreter included."
    )
    return figure
