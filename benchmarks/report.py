"""Writing `REPORT.md` and `results.json` from the figures of one run."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from benchmarks.profiles import ProfileSummary
from benchmarks.stats import Figure, Row, Spread


@dataclass(frozen=True, slots=True)
class Machine:
    cpus: int
    python: str
    platform: str
    date: str

    @classmethod
    def here(cls, date: str) -> Machine:
        return cls(os.cpu_count() or 0, platform.python_version(), platform.platform(), date)


@dataclass(frozen=True, slots=True)
class Profile:
    title: str
    command: str
    summary: ProfileSummary


def _number(value: float) -> str:
    if math.isnan(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def _spread(spread: Spread) -> str:
    return f"{_number(spread.median)} ({_number(spread.low)}-{_number(spread.high)})"


def _met(row: Row) -> str:
    if row.met is None:
        return ""
    return "**met**" if row.met else "**not met**"


def _figure_table(figure: Figure) -> list[str]:
    lines = [
        "| measure | median (min-max) | unit | ratio, median (min-max) | against | target | |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in figure.rows:
        ratio = _spread(row.ratio) if row.ratio is not None else ""
        lines.append(
            f"| {row.label} | {_spread(row.value)} | {row.unit} | {ratio} | {row.against} "
            f"| {row.target} | {_met(row)} |"
        )
    return lines


def _summary_table(figures: list[Figure]) -> list[str]:
    lines = [
        "| # | measure | median | ratio | target | |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for figure in figures:
        for row in figure.rows:
            if not (row.target or row.ratio is not None or row.summary):
                continue
            ratio = _number(row.ratio.median) if row.ratio is not None else ""
            lines.append(
                f"| {figure.number} | {row.label} | {_number(row.value.median)} {row.unit} "
                f"| {ratio} | {row.target} | {_met(row)} |"
            )
    return lines


def _profile_lines(profile: Profile) -> list[str]:
    summary = profile.summary
    lines = [
        f"### {profile.title}",
        "",
        f"`{profile.command}`: {summary.busy_samples} busy samples of {summary.samples}.",
        "",
        "| function | self | inclusive |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| `{c.function}` | {c.self_share:.1%} | {c.inclusive_share:.1%} |"
        for c in summary.by_self[:8]
    ]
    lines += ["", "Podium's own functions by inclusive share:", ""]
    lines += ["| function | self | inclusive |", "| --- | --- | --- |"]
    lines += [
        f"| `{c.function}` | {c.self_share:.1%} | {c.inclusive_share:.1%} |"
        for c in summary.ours[:10]
    ]
    return [*lines, ""]


def markdown(
    figures: list[Figure],
    machine: Machine,
    invocation: str,
    profiles: list[Profile],
    seconds: float,
    notes: str,
) -> str:
    lines = [
        "# Podium benchmarks",
        "",
        f"Produced by `{invocation}` on {machine.date} in {seconds:.0f} s: {machine.cpus} CPUs, "
        f"Python {machine.python}, {machine.platform}. Every figure is the median of the "
        "repetitions with their min-max; ratios are taken per repetition against a ceiling "
        "measured in the same run.",
        "",
        "## Summary",
        "",
        *_summary_table(figures),
        "",
    ]
    for figure in figures:
        lines += [f"## Figure {figure.number}: {figure.title}", "", *_figure_table(figure), ""]
        lines += [f"- {note}" for note in figure.notes]
        lines += ["", f"Measured in {figure.seconds:.0f} s. Commands:", "", "```"]
        lines += figure.commands
        lines += ["```", ""]
    if profiles:
        lines += ["## Profiles (py-spy, top costs by self time)", ""]
        for profile in profiles:
            lines += _profile_lines(profile)
    if notes:
        lines += [notes.rstrip(), ""]
    return "\n".join(lines)


def _spread_json(spread: Spread | None) -> object:
    if spread is None:
        return None
    return {
        "median": spread.median,
        "min": spread.low,
        "max": spread.high,
        "values": list(spread.values),
    }


def results_json(
    figures: list[Figure], machine: Machine, invocation: str, profiles: list[Profile]
) -> str:
    data = {
        "invocation": invocation,
        "machine": {
            "cpus": machine.cpus,
            "python": machine.python,
            "platform": machine.platform,
            "date": machine.date,
        },
        "figures": [
            {
                "number": figure.number,
                "title": figure.title,
                "seconds": figure.seconds,
                "rows": [
                    {
                        "label": row.label,
                        "unit": row.unit,
                        "value": _spread_json(row.value),
                        "ratio": _spread_json(row.ratio),
                        "against": row.against,
                        "target": row.target,
                        "met": row.met,
                    }
                    for row in figure.rows
                ],
                "commands": figure.commands,
                "notes": figure.notes,
            }
            for figure in figures
        ],
        "profiles": [
            {
                "title": p.title,
                "command": p.command,
                "top": [
                    {"function": c.function, "self": c.self_share, "inclusive": c.inclusive_share}
                    for c in p.summary.by_self
                ],
            }
            for p in profiles
        ],
    }
    return json.dumps(data, indent=2, allow_nan=True)


def write(
    directory: Path,
    figures: list[Figure],
    machine: Machine,
    invocation: str,
    profiles: list[Profile],
    seconds: float,
    suffix: str = "",
) -> tuple[Path, Path]:
    """Write `REPORT<suffix>.md` (with NOTES.md appended) and `results<suffix>.json`."""
    directory.mkdir(parents=True, exist_ok=True)
    notes_file = Path(__file__).parent / "NOTES.md"
    notes = notes_file.read_text() if notes_file.exists() else ""
    report = directory / f"REPORT{suffix}.md"
    results = directory / f"results{suffix}.json"
    report.write_text(markdown(figures, machine, invocation, profiles, seconds, notes))
    results.write_text(results_json(figures, machine, invocation, profiles))
    return report, results
