"""Replaying the log through an event gives exactly the live fold's state just after it."""

from __future__ import annotations

from itertools import pairwise

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.events.fold import fold
from podium.events.model import Event
from podium.events.ports import Record
from podium.events.replay import fold_through
from podium.events.state import State
from tests.unit.test_fold import histories


def _records(history: list[Event], cuts: list[int]) -> list[list[Event]]:
    """The history as the log holds it: batches cut where `cuts` say."""
    bounds = [0, *sorted({cut % (len(history) + 1) for cut in cuts}), len(history)]
    return [history[start:end] for start, end in pairwise(bounds)]


class _Observed:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, _state: State, event: Event, record: Record) -> None:
        assert event in record.events
        self.events.append(event)


@settings(max_examples=50, deadline=None)
@given(history=histories(), cuts=st.lists(st.integers(0, 100), max_size=6), data=st.data())
def test_a_replay_through_an_event_is_the_live_state_just_after_it(
    history: list[Event], cuts: list[int], data: st.DataObject
) -> None:
    copies = data.draw(st.lists(st.sampled_from(history), max_size=5)) if history else []
    history = history + copies  # copies an append retried: the fold drops them
    live, after = State(), {0: msgspec.msgpack.encode(State())}
    seen: list[Event] = []
    for event in history:
        position = live.position
        fold(live, event)
        if live.position != position:
            seen.append(event)
            after[live.position] = msgspec.msgpack.encode(live)
    for through, expected in after.items():
        replayed, observed = State(), _Observed()
        if through:
            for offset, batch in enumerate(_records(history, cuts)):
                if fold_through(replayed, Record(offset, batch), through, observed):
                    break
        assert msgspec.msgpack.encode(replayed) == expected
        assert observed.events == seen[:through]
