"""Task output rules, as tables."""

from __future__ import annotations

import json

import pytest

from podium.events.model import NodeState
from podium.executor.outcome import task_outcome

TASK_ERROR = "puppetlabs.tasks/task-error"


@pytest.mark.parametrize(
    ("stdout", "code", "state", "result"),
    [
        (b'{"a": 1}', 0, NodeState.FINISHED, {"a": 1}),
        (b"plain text\n", 0, NodeState.FINISHED, {"_output": "plain text\n"}),
        (b"[1, 2]", 0, NodeState.FINISHED, {"_output": "[1, 2]"}),
        (b'"scalar"', 0, NodeState.FINISHED, {"_output": '"scalar"'}),
        (b"", 0, NodeState.FINISHED, {"_output": ""}),
        (
            b"oops",
            12,
            NodeState.FAILED,
            {
                "_output": "oops",
                "_error": {
                    "kind": TASK_ERROR,
                    "msg": "The task errored with a code 12",
                    "details": {"exitcode": 12},
                },
            },
        ),
        (
            b'{"_error": {"msg": "no such package", "kind": "mymod/error"}}',
            0,
            NodeState.FAILED,
            {"_error": {"msg": "no such package", "kind": "mymod/error", "details": {}}},
        ),
        (
            b'{"_error": {"msg": "defaults"}}',
            1,
            NodeState.FAILED,
            {"_error": {"msg": "defaults", "kind": TASK_ERROR, "details": {}}},
        ),
        (
            b'{"_error": "just a string"}',
            0,
            NodeState.FAILED,
            {
                "_error": {
                    "kind": TASK_ERROR,
                    "msg": "The task returned a malformed _error",
                    "details": {"original_error": "just a string"},
                }
            },
        ),
        (
            b'{"big": 123456789012345678901234567890}',
            0,
            NodeState.FINISHED,
            {"big": 1.2345678901234568e29},
        ),
    ],
)
def test_task_output_becomes_a_state_and_a_result(
    stdout: bytes, code: int, state: NodeState, result: object
) -> None:
    outcome = task_outcome("n1", "mod::t", stdout, code)
    assert (outcome.state, outcome.result) == (state, result)


def test_output_that_is_not_utf8_fails_the_run() -> None:
    outcome = task_outcome("n1", "mod::t", b"\xff\xfe bad", 0)
    assert outcome.state == NodeState.FAILED
    assert outcome.result["_error"]["kind"] == TASK_ERROR
    assert "UTF-8" in outcome.result["_error"]["msg"]


@pytest.mark.parametrize(
    ("stdout", "code", "state", "result"),
    [
        (b'{"a": 1, "b":', 0, NodeState.FINISHED, {"_output": '{"a": 1, "b":', "_truncated": True}),
        ("abcé".encode()[:-1], 0, NodeState.FINISHED, {"_output": "abc", "_truncated": True}),
        ("a€".encode()[:-2], 0, NodeState.FINISHED, {"_output": "a", "_truncated": True}),
        (b"x", 2, NodeState.FAILED, {
            "_output": "x",
            "_truncated": True,
            "_error": {
                "kind": TASK_ERROR,
                "msg": "The task errored with a code 2",
                "details": {"exitcode": 2},
            },
        }),
    ],
)  # fmt: skip
def test_output_cut_at_the_cap_is_kept_whole_characters_and_marked(
    stdout: bytes, code: int, state: NodeState, result: object
) -> None:
    outcome = task_outcome("n1", "mod::t", stdout, code, truncated=True)
    assert (outcome.state, outcome.result) == (state, result)


def test_output_cut_at_the_cap_that_was_never_utf8_still_fails() -> None:
    outcome = task_outcome("n1", "mod::t", b"\xff\xfe" + b"x" * 10, 0, truncated=True)
    assert outcome.state == NodeState.FAILED
    assert "UTF-8" in outcome.result["_error"]["msg"]


HUGE_INTEGER = "1" + "0" * 400  # past any float
LONG_INTEGER = "7" * 5000  # past what Python turns into an int from text by default


@pytest.mark.parametrize(
    ("stdout", "result"),
    [
        (b'{"big": 1e400}', {"big": "1e400"}),
        (b'{"small": -1.5E+999, "fine": 2.5}', {"small": "-1.5E+999", "fine": 2.5}),
        (b'{"n": [' + HUGE_INTEGER.encode() + b"]}", {"n": [HUGE_INTEGER]}),
        (b'{"n": -' + HUGE_INTEGER.encode() + b"}", {"n": "-" + HUGE_INTEGER}),
        (b'{"n": ' + LONG_INTEGER.encode() + b"}", {"n": LONG_INTEGER}),
        (b'{"a": NaN}', {"_output": '{"a": NaN}'}),
        (b'{"a": Infinity}', {"_output": '{"a": Infinity}'}),
        (b'{"a": [-Infinity]}', {"_output": '{"a": [-Infinity]}'}),
    ],
)
def test_numbers_no_float_can_hold_keep_their_text_and_non_json_literals_are_output(
    stdout: bytes, result: object
) -> None:
    outcome = task_outcome("n1", "mod::t", stdout, 0)
    assert (outcome.state, outcome.result) == (NodeState.FINISHED, result)
    json.dumps(outcome.result, allow_nan=False)  # the api can always render it


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_output_nested_too_deep_becomes_output(depth: int) -> None:
    stdout = b'{"a": ' + b"[" * depth + b"]" * depth + b"}"
    outcome = task_outcome("n1", "mod::t", stdout, 0)
    assert (outcome.state, outcome.result) == (NodeState.FINISHED, {"_output": stdout.decode()})
