"""When a schedule starts and how often it runs, as a command line gives them: pure (the time
now comes in as an argument)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

from podium.client.task_params import ParamsError

UNITS_S: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_SPAN: Final = re.compile(r"^(\d+)([smhdw]?)$")


def seconds_of(text: str) -> int:
    """`90`, `90s`, `30m`, `12h`, `1d`, `2w` in seconds. Raises ParamsError."""
    match = _SPAN.match(text.strip())
    if match is None or int(match[1]) == 0:
        raise ParamsError(f"{text!r} is not a span of time: 90, 90s, 30m, 12h, 1d or 2w")
    return int(match[1]) * UNITS_S[match[2] or "s"]


def start_time(text: str, now: datetime) -> str:
    """`+10m` (from now) or an ISO-8601 time (UTC when it names no offset), as the API's
    `scheduled_time`: ISO-8601 in UTC, whole seconds. Raises ParamsError."""
    if text.startswith("+"):
        when = now + timedelta(seconds=seconds_of(text[1:]))
    else:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ParamsError(f"{text!r} is not a time: give +10m, or ISO-8601") from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
