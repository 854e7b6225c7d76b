"""Events of the old shapes become current ones as they are decoded: the options the api used to
write give back the typed spec, and an old run end's result tells `reached`."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.api.views import options
from podium.events.codec import decode_batch
from podium.events.endings import EXECUTION_FAILURE, execution_failure
from podium.events.jobspec import DeployJob, JobScope, JobSpec, TaskJob
from podium.events.legacy import JobRequestedV1, NodeRunFinishedV1, spec_from_options, upcast
from podium.events.logformat import payloads
from podium.events.model import Event, JobRequested, NodeRunFinished, NodeState, Target
from podium.jsontypes import Json

V1_LOG: Final = Path(__file__).parents[1] / "data" / "logs" / "v1" / "events.log"
REFUSED: Final = "Could not connect to a:22: Connection refused"


def _old_end(state: NodeState, result: Json) -> NodeRunFinishedV1:
    return NodeRunFinishedV1(at=1.0, job="1", node="a", attempt=1, state=state, result=result)


@pytest.mark.parametrize(
    ("state", "result", "reached"),
    [
        (NodeState.FINISHED, {"_output": "hi"}, True),  # any result of the host's own
        (NodeState.FAILED, None, True),
        (NodeState.ERRORED, execution_failure("a", REFUSED, reached=False), False),
        (NodeState.ERRORED, execution_failure("a", REFUSED), None),  # the words say nothing
        (NodeState.ERRORED, execution_failure("a", "timed out", reached=True), True),
        (NodeState.ERRORED, {"kind": EXECUTION_FAILURE, "msg": 3, "details": []}, None),
        (NodeState.SKIPPED, None, None),
    ],
)
def test_an_old_run_end_reached_its_node_as_its_result_said(
    state: NodeState, result: Json, reached: bool | None
) -> None:
    current = upcast(_old_end(state, result))
    assert isinstance(current, NodeRunFinished)
    assert (current.state, current.result, current.reached) == (state, result, reached)


SCOPES = st.sampled_from(
    [
        JobScope(nodes=["a", "b"]),
        JobScope(query=["from", "nodes", ["=", "certname", "a"]]),
        JobScope(query='inventory[certname] { facts.os.family = "RedHat" }'),
        JobScope(node_group="9d0a3a4c-6d47-4d1e-a3f5-3b1f3a7f0003"),
        JobScope(application="Shop[demo]"),
    ]
)
TEXT = st.text(max_size=8)
COMMON = {
    "environment": TEXT,
    "noop": st.booleans(),
    "concurrency": st.none() | st.integers(1, 100),
    "description": st.none() | TEXT,
    "userdata": st.dictionaries(TEXT, st.integers() | TEXT, max_size=2),
}
specs: st.SearchStrategy[JobSpec] = st.one_of(
    st.builds(
        DeployJob,
        scope=SCOPES | st.just(JobScope()),
        no_noop=st.booleans(),
        enforce_environment=st.booleans(),
        debug=st.booleans(),
        trace=st.booleans(),
        evaltrace=st.booleans(),
        target=st.none() | TEXT,
        **COMMON,
    ),
    st.builds(
        TaskJob,
        scope=SCOPES,
        task=TEXT,
        params=st.dictionaries(TEXT, st.integers() | TEXT | st.none(), max_size=3),
        timeout_s=st.none() | st.integers(1, 3600),
        **COMMON,
    ),
)


@given(spec=specs)
def test_the_options_the_api_wrote_give_back_the_spec(spec: JobSpec) -> None:
    written = options(spec)  # no parameter is sensitive here: nothing is hidden
    assert spec_from_options(spec.kind, spec.environment, written, spec.concurrency) == spec


def test_an_old_job_request_becomes_one_with_its_spec() -> None:
    old = JobRequestedV1(
        at=5.0,
        origin="api-1",
        seq=3,
        request_id="r",
        kind="task",
        owner="u",
        environment="production",
        options={"task": "m::t", "params": {"x": 1}, "scope": {"nodes": ["a"]}, "timeout": 9},
        nodes=["a"],
        targets=[Target("sim", {}, ["a"])],
        concurrency=2,
        description="d",
        refused={"a": "elsewhere"},
    )
    assert upcast(old) == JobRequested(
        at=5.0,
        origin="api-1",
        seq=3,
        request_id="r",
        owner="u",
        spec=TaskJob(
            environment="production",
            scope=JobScope(nodes=["a"]),
            concurrency=2,
            task="m::t",
            params={"x": 1},
            timeout_s=9,
        ),
        nodes=["a"],
        targets=[Target("sim", {}, ["a"])],
        refused={"a": "elsewhere"},
    )


def _records(path: Path) -> list[bytes]:
    return [bytes(payload) for payload in payloads(path.read_bytes())]


def test_the_recorded_old_log_decodes_to_current_shapes_only() -> None:
    events: list[Event] = [event for record in _records(V1_LOG) for event in decode_batch(record)]
    assert not [e for e in events if isinstance(e, JobRequestedV1 | NodeRunFinishedV1)]
    kinds = [e.spec.kind for e in events if isinstance(e, JobRequested)]
    assert kinds.count("deploy") == 6
    assert kinds.count("task") == 6
    unreachable = [e for e in events if isinstance(e, NodeRunFinished) and e.node == "ssh-down"]
    assert [e.reached for e in unreachable] == [False]


def test_a_batch_of_neither_shape_fails_loudly() -> None:
    bogus = msgspec.msgpack.encode([["job_requested", 1.0, "", 0, "r"]])
    with pytest.raises(msgspec.ValidationError):
        decode_batch(bogus)
