"""How a run's raw output becomes a node state and result: pure functions, no processes.

Task output follows the task specification's rules. A number in a task's JSON that no float
can hold (`1e400`, an integer of 400 digits) is kept as its text, a JSON string, since the log
and the api carry only finite numbers; `NaN` and `Infinity` are not JSON, so output holding them
is `_output`. A deploy's outcome is `podium.executor.deploy`'s.
"""

from __future__ import annotations

import json
import math
from typing import Final

from podium.events.endings import Outcome, failed, finished
from podium.jsontypes import Json

TASK_ERROR: Final = "puppetlabs.tasks/task-error"
TRUNCATED: Final = "_truncated"  # Podium's mark on a result whose output went over the cap


def task_outcome(
    node: str, task: str, stdout: bytes, exit_code: int, *, truncated: bool = False
) -> Outcome:
    """Apply the task spec's output rules (UTF-8, JSON object or `_output`, `_error`).

    Output cut at the cap (`truncated`) cannot be a whole JSON object: it becomes `_output`,
    cut at a character boundary, with `_truncated: true` beside it."""
    if truncated:
        stdout = _whole_characters(stdout)
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError:
        error = _task_error("The task output was not valid UTF-8", {"exitcode": exit_code})
        return failed({"_error": error}, f"Failed task run on {node}")
    result = {"_output": text, TRUNCATED: True} if truncated else _parse_result(text)
    if "_error" in result:
        result["_error"] = _checked_error(result["_error"])
    elif exit_code != 0:
        result["_error"] = _task_error(
            f"The task errored with a code {exit_code}", {"exitcode": exit_code}
        )
    if "_error" in result:
        return failed(result, f"Failed task run on {node}: {task}")
    return finished(result, f"Finished task run on {node}")


def _whole_characters(data: bytes) -> bytes:
    """Drop a UTF-8 sequence the cap cut in two, so the kept part still decodes."""
    for cut in range(4):
        kept = data[: len(data) - cut]
        try:
            kept.decode("utf-8")
        except UnicodeDecodeError:
            continue
        return kept
    return data


def _parse_result(text: str) -> dict[str, Json]:
    """The JSON object the task printed, else `_output`. `NaN` and `Infinity` are not JSON, and
    output nested deeper than the parser can follow is not a result either."""
    try:
        parsed = json.loads(
            text, parse_int=_json_int, parse_float=_json_float, parse_constant=_not_json
        )
    except (ValueError, RecursionError):
        return {"_output": text}
    return parsed if isinstance(parsed, dict) else {"_output": text}


def _json_int(text: str) -> int | float | str:
    """JSON allows any integer; the log (msgpack) holds 64 bits, so larger ones become floats,
    and ones no float can hold keep their text."""
    try:
        value = int(text)
    except ValueError:  # more digits than Python converts from text
        return text
    if -(2**63) <= value < 2**64:
        return value
    try:
        return float(value)
    except OverflowError:
        return text


def _json_float(text: str) -> float | str:
    """A number past a float's range keeps its text: as inf it would leave the api's JSON."""
    value = float(text)
    return value if math.isfinite(value) else text


def _not_json(literal: str) -> None:
    raise ValueError(f"{literal} is not JSON")


def _checked_error(error: Json) -> dict[str, Json]:
    """A task's own `_error` must be an object with `msg`; anything else is replaced."""
    if isinstance(error, dict) and isinstance(error.get("msg"), str):
        checked = dict(error)
        checked.setdefault("kind", TASK_ERROR)
        checked.setdefault("details", {})
        return checked
    return _task_error("The task returned a malformed _error", {"original_error": error})


def _task_error(msg: str, details: dict[str, Json]) -> dict[str, Json]:
    return {"kind": TASK_ERROR, "msg": msg, "details": details}
