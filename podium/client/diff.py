"""`podium job diff A B` as text: how two jobs' runs differ, node by node, in a table."""

from __future__ import annotations

from typing import Final

from podium.client.http import JsonObject

WHAT: Final = {
    "differ": "differs: {fields}",
    "only_a": "only in job {a}",
    "only_b": "only in job {b}",
}


def diff_table(answer: JsonObject) -> str:
    """A heading with the counts, then one row per node that differs or that one job lacks."""
    a, b = answer["a"]["name"], answer["b"]["name"]
    counts = answer["counts"]
    heading = (
        f"job {a} vs job {b} ({answer['type']}): {counts['differ']} differ, "
        f"{counts['only_a']} only in {a}, {counts['only_b']} only in {b}, {counts['same']} same"
    )
    rows = [("NODE", f"JOB {a}", f"JOB {b}", "DIFFERENCE")]
    for item in answer["items"]:
        what = WHAT[item["difference"]].format(fields=", ".join(item["fields"]), a=a, b=b)
        rows.append((item["node"], _outcome(item["a"]), _outcome(item["b"]), what))
    if len(rows) == 1:
        return heading
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[3]])
        for row in rows
    ]
    return "\n".join([heading, "", *(line.rstrip() for line in lines)])


def _outcome(side: JsonObject | None) -> str:
    """`failed`, or a deploy's `finished/changed`; `-` for a job that did not run the node."""
    if side is None:
        return "-"
    status = side.get("status")
    return f"{side['state']}/{status}" if status else str(side["state"])
