"""When a schedule's runs fall: pure arithmetic on seconds since the epoch, UTC.

A schedule runs at `start`, then (with an interval) at `start + k * interval_s`. Times are POSIX
seconds, so a daylight-saving change moves nothing (schedules are UTC) and a leap second is not
a second of its own. Nothing here reads a clock: the caller passes `now`, which is what lets the
timers be tested over months of occurrences in microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass


def latest_at_or_before(start: float, interval_s: int | None, t: float) -> float | None:
    """The last occurrence at or before `t`; None before `start`."""
    if t < start:
        return None
    if interval_s is None:
        return start
    return start + ((t - start) // interval_s) * interval_s


def first_after(start: float, interval_s: int | None, t: float) -> float | None:
    """The first occurrence strictly after `t`; None when a one-off run is at or before it."""
    if t < start:
        return start
    if interval_s is None:
        return None
    return start + ((t - start) // interval_s + 1) * interval_s


def next_run(start: float, interval_s: int | None, handled: float | None) -> float | None:
    """The first occurrence not handled yet (fired, missed or skipped): it may be overdue."""
    return start if handled is None else first_after(start, interval_s, handled)


@dataclass(frozen=True, slots=True)
class Due:
    """The occurrence to fire now, and those before it that will never run (`missed` of them,
    from `first_missed` to `last_missed`): a scheduler that was away fires once, not once per
    interval it missed."""

    occurrence: float
    missed: int = 0
    first_missed: float | None = None
    last_missed: float | None = None


def due(start: float, interval_s: int | None, handled: float | None, now: float) -> Due | None:
    """What is due at `now` of a schedule whose occurrences up to `handled` are handled."""
    latest = latest_at_or_before(start, interval_s, now)
    if latest is None or (handled is not None and latest <= handled):
        return None
    first = next_run(start, interval_s, handled)
    if first is None or first >= latest or interval_s is None:
        return Due(latest)
    missed = int((latest - first) // interval_s)
    return Due(latest, missed, first, latest - interval_s)
