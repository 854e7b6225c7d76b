"""The pure parts of the client commands: SSE decoding, the tally of a job's events, exit codes,
inline task parameters, and where the token comes from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.client.credentials import TokenSources, find_token
from podium.client.display import node_lines, plain_table, result_summary
from podium.client.http import ClientError
from podium.client.sse import SseDecoder, SseEvent
from podium.client.tally import PlanTally, Tally, exit_code, plan_exit_code
from podium.client.task_params import ParamsError, read_params, split_pairs, takes_string, typed
from podium.client.times import seconds_of, start_time

STREAM = (
    b": keep-alive\n\n"
    b'id: 7\nevent: node_running\ndata: {"a": 1}\n\n'
    b"id: 9\r\nevent: job_finished\r\ndata: line one\r\ndata: line two\r\n\r\n"
    b"data: no id of its own\n\n"
)
EVENTS = [
    SseEvent("7", "node_running", '{"a": 1}'),
    SseEvent("9", "job_finished", "line one\nline two"),
    SseEvent("9", "message", "no id of its own"),  # the last id carries on, as WHATWG says
]


def test_sse_events_decode_with_comments_crlf_and_multi_line_data() -> None:
    assert SseDecoder().feed(STREAM) == EVENTS


@given(cuts=st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_sse_events_are_the_same_however_the_bytes_are_cut(cuts: list[int]) -> None:
    decoder, events, start = SseDecoder(), [], 0
    for end in [*sorted(cuts), len(STREAM)]:
        events += decoder.feed(STREAM[start:end])
        start = end
    assert events == EVENTS


def test_an_event_is_not_complete_before_its_blank_line() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b"id: 1\ndata: x\n") == []
    assert decoder.feed(b"\n") == [SseEvent("1", "message", "x")]


def event(event_id: int, kind: str, node: str | None = None, **details: str) -> dict[str, object]:
    return {"id": str(event_id), "type": kind, "details": {"node": node, **details}}


def test_a_tally_counts_nodes_by_state_and_each_event_once() -> None:
    tally = Tally("5", node_count=4)
    history = [
        event(10, "node_running", "a"),
        event(11, "node_running", "b"),
        event(12, "node_finished", "a"),
        event(13, "node_failed", "b"),
        event(14, "job_stopping", state="stopping"),
        event(15, "node_skipped", "c"),
    ]
    for item in history + history[1:4]:  # a replay of three seen already
        tally.apply(item)
    assert tally.counts() == {
        "new": 1,
        "running": 0,
        "finished": 1,
        "failed": 1,
        "errored": 0,
        "skipped": 1,
    }
    assert (tally.events, tally.duplicates, tally.last_id) == (6, 3, 15)
    assert (tally.job_state, tally.ended) == ("stopping", False)
    tally.apply(event(16, "job_finished", state="stopped"))
    assert (tally.job_state, tally.ended) == ("stopped", True)


@pytest.mark.parametrize(
    ("job_state", "nodes", "code"),
    [
        ("finished", {"finished": 3}, 0),
        ("stopped", {"finished": 1, "skipped": 2}, 0),
        ("finished", {"finished": 2, "failed": 1}, 1),
        ("stopped", {"errored": 1, "skipped": 2}, 1),
        ("failed", {"skipped": 3}, 1),
    ],
)
def test_the_exit_code_is_1_when_a_node_failed_or_errored(
    job_state: str, nodes: dict[str, int], code: int
) -> None:
    assert exit_code(job_state, nodes) == code


@pytest.mark.parametrize(
    ("puppet_type", "string"),
    [
        ("String", True),
        ("String[1, 10]", True),
        ("Optional[Enum[fast, 'slow']]", True),
        ("Optional[Pattern[/^\\d+$/]]", True),
        ("Sensitive[String]", True),
        ("Variant[Integer, Enum[all]]", True),
        ("Any", True),
        ("NotUndef", True),
        ("Integer[1, 5]", False),
        ("Optional[Float]", False),
        ("Boolean", False),
        ("Array[String]", False),
        ("Optional[Hash[String, Integer]]", False),
        ("Struct[{path => String}]", False),
    ],
)
def test_inline_values_are_read_as_json_only_for_types_no_string_satisfies(
    puppet_type: str, string: bool
) -> None:
    assert takes_string(puppet_type) is string


def test_inline_parameters_take_the_declared_types() -> None:
    declared = {
        "name": {"type": "String"},
        "count": {"type": "Integer"},
        "tags": {"type": "Array[String]"},
        "ratio": {"type": "Optional[Float]"},
    }
    inline = split_pairs(["name=42", "count=3", 'tags=["a","b"]', "ratio=not a number", "x=1"])
    assert typed(inline, declared) == {
        "name": "42",
        "count": 3,
        "tags": ["a", "b"],
        "ratio": "not a number",  # not JSON: the server's check names the mismatch
        "x": "1",  # undeclared: a string, and the server refuses it if the task declares others
    }
    assert typed({"count": "3"}, None) == {"count": "3"}  # no declarations: anything goes


@pytest.mark.parametrize(
    ("pairs", "message"),
    [(["novalue"], "key=value, not 'novalue'"), (["a=1", "a=2"], "a is given twice")],
)
def test_bad_inline_parameters_say_why(pairs: list[str], message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        split_pairs(pairs)


def test_params_come_as_json_or_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"a": [1]}))
    assert read_params('{"a": [1]}') == read_params(f"@{path}") == {"a": [1]}
    with pytest.raises(ParamsError, match="must hold a JSON object, not list"):
        read_params("[1]")
    with pytest.raises(ParamsError, match="--params is not valid JSON"):
        read_params("{")
    with pytest.raises(ParamsError, match="cannot read the params file"):
        read_params(f"@{tmp_path / 'missing.json'}")


def test_the_token_file_wins_then_podium_token_then_the_puppetlabs_file(tmp_path: Path) -> None:
    given, home = tmp_path / "given", tmp_path / "home-token"
    given.write_text("from-file\n")
    home.write_text("from-home\n")
    assert find_token(TokenSources(given, "from-env", home)) == "from-file"
    assert find_token(TokenSources(None, "from-env", home)) == "from-env"
    assert find_token(TokenSources(None, None, home)) == "from-home"
    assert find_token(TokenSources(None, "  ", home)) == "from-home"
    with pytest.raises(ClientError, match="no token: give --token-file"):
        find_token(TokenSources(None, None, tmp_path / "missing"))
    with pytest.raises(ClientError, match="cannot read the token file"):
        find_token(TokenSources(tmp_path / "missing", "from-env", home))


@pytest.mark.parametrize(
    ("node", "summary"),
    [
        ({"state": "finished", "result": {"_output": "hello\n  world\n"}}, "hello world"),
        ({"state": "finished", "result": {"a": [1, 2]}}, '{"a":[1,2]}'),
        (
            {"state": "failed", "result": {"_error": {"msg": "The task errored with a code 3"}}},
            "The task errored with a code 3",
        ),
        (
            {"state": "errored", "result": {"kind": "x/execution-failure", "msg": "unreachable"}},
            "unreachable",
        ),
        ({"state": "skipped", "result": None, "details": {"message": "stopped"}}, "stopped"),
        (
            {
                "state": "finished",
                "result": {
                    "status": "unchanged",
                    "noop": {"noop": True, "no_noop": False},
                    "noop_pending": True,
                    "metrics": {"total": 119, "changed": 0, "out_of_sync": 2},
                },
            },
            "unchanged (noop, changes pending): 119 resources, out_of_sync 2",
        ),
    ],
)
def test_a_nodes_result_is_summed_up_in_one_line(node: dict[str, object], summary: str) -> None:
    assert result_summary(node) == summary


def test_the_node_table_aligns_its_columns_whatever_the_names() -> None:
    nodes: list[Mapping[str, object]] = [
        {"name": "a", "state": "finished", "duration": 1.25, "result": {"_output": "ok"}},
        {"name": "long-name", "state": "skipped", "duration": None, "details": {"message": "s"}},
    ]
    assert plain_table(node_lines(nodes)) == (
        "node       state     duration  result\n"
        "a          finished     1.2 s  ok\n"
        "long-name  skipped             s"
    )


def test_a_plan_tally_tells_steps_and_messages_and_counts_each_event_once() -> None:
    tally = PlanTally("3")
    history = [
        {"id": "10", "type": "task_start", "details": {"job-id": 7}},
        {"id": "12", "type": "out_message", "details": {"message": "canary said hi"}},
        {"id": "15", "type": "command_start", "details": {"job-id": 8}},
        {"id": "20", "type": "plan_failed", "details": {"plan-id": "3", "result": {}}},
    ]
    told = [tally.apply(event) for event in history + history[1:3]]
    assert told == [
        "task step: job 7",
        "message: canary said hi",
        "command step: job 8",
        None,
        None,
        None,
    ]
    assert (tally.state, tally.jobs, tally.events, tally.duplicates) == (
        "failure",
        ["7", "8"],
        4,
        2,
    )
    assert (plan_exit_code("failure"), plan_exit_code("success")) == (1, 0)


NOW: Final = datetime(2027, 5, 5, 19, 50, 8, 500_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "scheduled"),
    [
        ("+10m", "2027-05-05T20:00:08Z"),
        ("+1d", "2027-05-06T19:50:08Z"),
        ("2027-05-05T19:50:08Z", "2027-05-05T19:50:08Z"),
        ("2027-05-05T21:50:08+02:00", "2027-05-05T19:50:08Z"),
        ("2027-05-05 19:50", "2027-05-05T19:50:00Z"),  # no offset: UTC
    ],
)
def test_a_start_is_from_now_or_an_iso_time_in_utc(given: str, scheduled: str) -> None:
    assert start_time(given, NOW) == scheduled


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("90", 90), ("90s", 90), ("30m", 1800), ("12h", 43_200), ("2w", 1_209_600)],
)
def test_spans_of_time_are_seconds(given: str, seconds: int) -> None:
    assert seconds_of(given) == seconds


@pytest.mark.parametrize("given", ["0", "1y", "-5m", "soon", "+"])
def test_what_is_no_time_says_so(given: str) -> None:
    with pytest.raises(ParamsError, match="is not a"):
        start_time(given, NOW) if not given[0].isdigit() else seconds_of(given)
