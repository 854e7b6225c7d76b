"""Which segments of the embedded log may be deleted (`podium.events.retention`): a table."""

from __future__ import annotations

import pytest

from podium.events.retention import Deletion, Retained, deletion, start_base
from podium.events.segments import Base

SEGMENTS = [(0, 100), (100, 200), (200, 300), (300, 350)]  # the last one is appended to
BASES = [Base(120, 5, 1), Base(230, 9, 2), Base(310, 12, 3)]


@pytest.mark.parametrize(
    ("retained", "expected"),
    [
        # Every job from 6 on is kept, a restart needs 250 on: the base at 120 is the start.
        (Retained(6, None, 250), Deletion(120, [0])),
        # Jobs from 10 on and plan jobs from 3 on: the base at 230 passes both.
        (Retained(10, 3, 400), Deletion(230, [0, 100])),
        # The newest base passes too, but the last segment never goes.
        (Retained(None, None, 400), Deletion(310, [0, 100, 200])),
        # The checkpoint (or snapshot) at 200: bases after it cannot be the start.
        (Retained(None, None, 200), Deletion(120, [0])),
        # Job 5 is kept (an old job not pruned, or a live one): the base at 120 named it.
        (Retained(5, None, 400), None),
        # Plan job 1 is kept: no base may be the start.
        (Retained(100, 1, 400), None),
        # Nothing restarts before 100: no base at or before it.
        (Retained(None, None, 100), None),
    ],
)
def test_segments_go_only_when_a_base_before_every_kept_job_and_restart_allows(
    retained: Retained, expected: Deletion | None
) -> None:
    assert deletion(SEGMENTS, BASES, retained) == expected


def test_a_base_inside_the_first_segment_deletes_nothing() -> None:
    assert start_base([Base(50, 1, 0)], Retained(None, None, 400)) == Base(50, 1, 0)
    assert deletion(SEGMENTS, [Base(50, 1, 0)], Retained(None, None, 400)) is None


def test_without_bases_nothing_goes() -> None:
    assert deletion(SEGMENTS, [], Retained(None, None, 10**9)) is None


def test_a_base_at_a_segment_boundary_lets_the_segment_before_it_go() -> None:
    assert deletion(SEGMENTS, [Base(200, 0, 0)], Retained(1, 1, 300)) == Deletion(200, [0, 100])
