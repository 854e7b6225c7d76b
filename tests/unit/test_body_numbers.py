"""Numbers a request body may hold: the quick check that passes nearly every body agrees with
the walk that names the first field the log cannot carry."""

from __future__ import annotations

import gc
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.api.bodies import TaskCommand, _first_unstorable_number, _plainly_storable, parse_body
from podium.api.errors import ValidationError
from podium.heap import freeze_startup

numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1e400", "-1e400"]),  # parsed as infinities
)
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.text(max_size=5), numbers),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


def _body(params: dict[str, object]) -> bytes:
    text = json.dumps({"task": "demo::echo", "params": params, "scope": {"nodes": ["a"]}})
    return text.replace('"1e400"', "1e400").replace('"-1e400"', "-1e400").encode()


@given(params=st.dictionaries(st.text(max_size=5), values, max_size=4))
def test_a_body_passes_the_quick_check_only_when_the_walk_finds_nothing(
    params: dict[str, object],
) -> None:
    try:
        command = TaskCommand.model_validate_json(_body(params))
    except ValueError:
        return  # not a body the check ever sees
    found = _first_unstorable_number(command)
    if _plainly_storable(command):
        assert found is None
    if found is None:
        parse_body(TaskCommand, _body(params))
    else:
        with pytest.raises(ValidationError, match=f"Invalid request: {re.escape(found[0])}: "):
            parse_body(TaskCommand, _body(params))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"n": 2**64}, "params.n"),
        ({"a": [1, {"b": -(2**63) - 1}]}, "params.a.1.b"),
        ({"x": "1e400"}, "params.x"),
    ],
)
def test_an_unstorable_number_is_named_by_its_path(params: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_body(TaskCommand, _body(params))
    assert caught.value.details["errors"][0]["field"] == field


def test_objects_made_before_the_freeze_are_out_of_the_collectors_reach() -> None:
    made = [[index] for index in range(100)]
    try:
        assert freeze_startup() >= len(made)
        tracked = {id(value) for value in gc.get_objects()}
        assert not any(id(value) in tracked for value in made)
    finally:
        gc.unfreeze()
