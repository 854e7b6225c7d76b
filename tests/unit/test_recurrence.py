"""When a schedule's runs fall, as pure arithmetic: no clock, the time passed in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.events.recurrence import Due, due, first_after, latest_at_or_before, next_run

DAY = 86_400


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("interval_s", "t", "latest", "after"),
    [
        (None, 99.0, None, 100.0),  # a one-off run before its time
        (None, 100.0, 100.0, None),  # ... at it, and after it nothing follows
        (None, 5000.0, 100.0, None),
        (10, 99.9, None, 100.0),
        (10, 100.0, 100.0, 110.0),
        (10, 109.999, 100.0, 110.0),
        (10, 110.0, 110.0, 120.0),
        (10, 1_000_000.0, 1_000_000.0, 1_000_010.0),
    ],
)
def test_occurrences_fall_at_the_start_plus_whole_intervals(
    interval_s: int | None, t: float, latest: float | None, after: float | None
) -> None:
    assert latest_at_or_before(100.0, interval_s, t) == latest
    assert first_after(100.0, interval_s, t) == after


@pytest.mark.parametrize(
    ("handled", "now", "found"),
    [
        (None, 99.0, None),  # not yet
        (None, 100.0, Due(100.0)),  # on time
        (None, 104.0, Due(100.0)),  # late within the interval: no miss
        (100.0, 109.0, None),  # fired, the next not yet due
        (100.0, 110.5, Due(110.0)),
        (100.0, 145.0, Due(140.0, 3, 110.0, 130.0)),  # away for 3 intervals: fire once
        (None, 135.0, Due(130.0, 3, 100.0, 120.0)),  # never ran at all
        (140.0, 140.0, None),  # an occurrence is handled once
    ],
)
def test_what_is_due_fires_once_and_counts_what_was_missed(
    handled: float | None, now: float, found: Due | None
) -> None:
    assert due(100.0, 10, handled, now) == found


def test_a_one_off_run_is_due_once_however_late() -> None:
    assert due(100.0, None, None, 10_000.0) == Due(100.0)
    assert due(100.0, None, 100.0, 10_000.0) is None
    assert next_run(100.0, None, 100.0) is None


def test_daily_runs_stay_at_the_same_utc_hour_across_daylight_saving_changes() -> None:
    """Schedules are UTC: Europe's clocks moving on 2027-03-28 and 2027-10-31 move nothing."""
    start = ts("2027-03-20T02:00:00")
    t, seen = start - 1, []
    while (t := first_after(start, DAY, t) or 0) < ts("2027-11-05T00:00:00"):
        seen.append(datetime.fromtimestamp(t, UTC))
    assert len(seen) == 230  # every day from March 20 to November 4, none twice, none left out
    assert {(moment.hour, moment.minute, moment.second) for moment in seen} == {(2, 0, 0)}


def test_a_leap_second_is_not_a_second_of_its_own() -> None:
    """POSIX time has no 23:59:60: the day that had one (2016-12-31) is 86,400 s long here."""
    start = ts("2016-12-30T23:59:59")
    assert first_after(start, DAY, start) == ts("2016-12-31T23:59:59")
    assert first_after(start, DAY, ts("2016-12-31T23:59:59")) == ts("2017-01-01T23:59:59")


@given(
    start=st.integers(0, 2**40),
    interval_s=st.integers(1, 10**7),
    handled_k=st.none() | st.integers(0, 1000),
    ahead=st.integers(0, 10**9),
)
def test_the_due_occurrence_is_on_the_grid_and_nothing_after_it_is_due(
    start: int, interval_s: int, handled_k: int | None, ahead: int
) -> None:
    handled = None if handled_k is None else float(start + handled_k * interval_s)
    now = float(start + ahead)
    found = due(float(start), interval_s, handled, now)
    if found is None:
        return
    assert (found.occurrence - start) % interval_s == 0
    assert found.occurrence <= now < found.occurrence + interval_s
    assert handled is None or found.occurrence > handled
    assert due(float(start), interval_s, found.occurrence, now) is None
    first = start if handled is None else handled + interval_s
    assert found.missed == (found.occurrence - first) // interval_s
