"""The fold, event by event (as h11's state tests do), and its laws under Hypothesis."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.events.codec import decode_batch, encode_batch
from podium.events.endings import EXECUTION_FAILURE, execution_failure
from podium.events.fold import fold, fold_all
from podium.events.model import (
    NODE_TERMINAL,
    Component,
    Event,
    ExecutorLost,
    JobFinished,
    JobReady,
    JobState,
    JobStopping,
    JobStopRequested,
    NodeRunDispatched,
    NodeRunFinished,
    NodeRunStarted,
    NodeState,
    Permission,
    PermissionGranted,
    PermissionRevoked,
    RoleCreated,
    TaskTargetCreated,
    TokenIssued,
    TokenRevoked,
    UserAddedToRole,
    UserCreated,
    UserDisabled,
)
from podium.events.state import State
from tests.builders import job_requested, stamp


def run_through(*events: Event) -> State:
    return fold_all(stamp(events))


def test_jobs_are_named_by_counting_requests() -> None:
    state = run_through(
        job_requested(["a"], request_id="r1"),
        job_requested(["b"], request_id="r2"),
        job_requested(["c"], request_id="r3"),
    )
    assert list(state.jobs) == ["1", "2", "3"]
    assert state.requests == {"r1": "1", "r2": "2", "r3": "3"}
    assert state.position == 3


def test_a_copy_of_an_applied_event_changes_nothing_and_takes_no_position() -> None:
    events = stamp([job_requested(["a"], request_id="r1"), JobReady(at=1.0, job="1")])
    state = fold_all(events)
    again = fold_all([*events, events[0], events[1]])
    assert again == state
    assert again.position == 2


def test_each_producer_is_deduplicated_on_its_own() -> None:
    first = stamp([job_requested(["a"], request_id="r1")], origin="api-1")
    second = stamp([job_requested(["b"], request_id="r2")], origin="api-2")
    state = fold_all([*first, *second])
    assert list(state.jobs) == ["1", "2"]
    assert state.marks == {"api-1": 1, "api-2": 1}


def test_a_request_repeated_under_a_new_id_creates_no_second_job() -> None:
    state = run_through(
        job_requested(["a"], request_id="r1"), job_requested(["a"], request_id="r1")
    )
    assert list(state.jobs) == ["1"]


def test_a_node_run_goes_from_new_to_running_to_finished() -> None:
    state = run_through(
        job_requested(["a", "b"], request_id="r1"),
        JobReady(at=1.0, job="1"),
        NodeRunDispatched(at=2.0, job="1", node="a", attempt=1),
        NodeRunStarted(at=3.0, job="1", node="a", attempt=1, executor="x"),
    )
    job = state.jobs["1"]
    assert job.state == JobState.RUNNING
    assert [s.state for s in job.status] == [JobState.NEW, JobState.READY, JobState.RUNNING]
    assert job.counts == {NodeState.NEW: 1, NodeState.RUNNING: 1}
    assert job.inflight == 1
    assert state.inflight == 1
    assert state.running == {"x": {"1/a": None}}
    fold(
        state,
        stamp(
            [
                NodeRunFinished(
                    at=4.0, job="1", node="a", attempt=1, state=NodeState.FINISHED, result={"ok": 1}
                )
            ],
            first_seq=5,
        )[0],
    )
    run = job.nodes["a"]
    assert (run.state, run.started_at, run.finished_at, run.result) == (
        NodeState.FINISHED,
        3.0,
        4.0,
        {"ok": 1},
    )
    assert job.inflight == 0
    assert state.running == {}
    assert [e.type for e in job.events] == ["node_running", "node_finished"]
    assert [e.id for e in job.events] == [4, 5]
    assert run.latest_event == 5


def test_the_first_terminal_status_of_a_node_wins() -> None:
    state = run_through(
        job_requested(["a"], request_id="r1"),
        NodeRunDispatched(at=2.0, job="1", node="a", attempt=1),
        NodeRunFinished(at=3.0, job="1", node="a", attempt=1, state=NodeState.FAILED),
        NodeRunFinished(at=4.0, job="1", node="a", attempt=1, state=NodeState.FINISHED),
    )
    assert state.jobs["1"].nodes["a"].state == NodeState.FAILED
    assert state.jobs["1"].counts == {NodeState.FAILED: 1}
    assert state.position == 4  # a stale status is not a copy: it still has a position


def test_a_start_of_a_superseded_attempt_is_ignored() -> None:
    state = run_through(
        job_requested(["a"], request_id="r1", kind="deploy"),
        NodeRunDispatched(at=2.0, job="1", node="a", attempt=1),
        NodeRunStarted(at=3.0, job="1", node="a", attempt=1, executor="x"),
        ExecutorLost(at=4.0, executor="x"),
        NodeRunDispatched(at=4.0, job="1", node="a", attempt=2),
        NodeRunStarted(at=5.0, job="1", node="a", attempt=1, executor="x"),
    )
    run = state.jobs["1"].nodes["a"]
    assert (run.attempt, run.executor) == (2, None)
    assert state.running == {}
    assert state.jobs["1"].inflight == 1


def test_stop_skips_what_never_started_and_ends_stopped() -> None:
    state = run_through(
        job_requested(["a", "b"], request_id="r1"),
        NodeRunDispatched(at=2.0, job="1", node="a", attempt=1),
        JobStopRequested(at=3.0, job="1"),
        JobStopping(at=3.0, job="1"),
        NodeRunFinished(
            at=3.0, job="1", node="b", attempt=0, state=NodeState.SKIPPED, message="stopped"
        ),
        NodeRunFinished(at=4.0, job="1", node="a", attempt=1, state=NodeState.FINISHED),
        JobFinished(at=4.0, job="1", state=JobState.STOPPED),
        JobStopping(at=5.0, job="1"),
        JobFinished(at=5.0, job="1", state=JobState.FINISHED),
    )
    job = state.jobs["1"]
    assert job.state == JobState.STOPPED
    assert [e.type for e in job.events] == [
        "job_stopping",
        "node_skipped",
        "node_finished",
        "job_finished",
    ]
    assert job.nodes["b"].finished_at is None
    assert job.events[1].detail == {"message": "stopped"}
    assert job.events[-1].detail == {"state": "stopped"}
    assert state.active == {}


def test_a_stop_of_an_ended_job_is_ignored() -> None:
    state = run_through(
        job_requested(["a"], request_id="r1"),
        NodeRunDispatched(at=2.0, job="1", node="a", attempt=1),
        NodeRunFinished(at=3.0, job="1", node="a", attempt=1, state=NodeState.FINISHED),
        JobFinished(at=3.0, job="1", state=JobState.FINISHED),
        JobStopRequested(at=4.0, job="1", force=True),
    )
    job = state.jobs["1"]
    assert (job.stop_requested, job.force, job.state) == (False, False, JobState.FINISHED)


def test_tokens_map_to_users() -> None:
    state = run_through(TokenIssued(at=1.0, token_sha256="abc", user_id="u1", login="admin"))
    assert state.tokens["abc"].user_id == "u1"
    assert state.users["u1"].login == "admin"


def test_only_the_first_first_start_token_counts() -> None:
    """Api replicas starting together on an empty log each append one; the first wins. A
    token issued later, not at a first start, counts as any token does."""
    state = run_through(
        TokenIssued(at=1.0, token_sha256="first", user_id="u1", login="admin", first_start=True),
        TokenIssued(at=1.0, token_sha256="second", user_id="u1", login="admin", first_start=True),
        TokenIssued(at=2.0, token_sha256="later", user_id="u1", login="admin"),
    )
    assert {sha: token.user_id for sha, token in state.tokens.items()} == {
        "first": "u1",
        "later": "u1",
    }


# Hypothesis: any sequence of events over a small world of jobs, nodes and executors.

JOBS = st.sampled_from(["1", "2", "3"])
NODES = st.sampled_from(["a", "b", "c"])
AT = st.floats(min_value=0, max_value=1e6, allow_nan=False)
ENDED = st.sampled_from(
    [NodeState.FINISHED, NodeState.FAILED, NodeState.ERRORED, NodeState.SKIPPED]
)
EXECUTORS = st.sampled_from(["x", "y"])
ATTEMPTS = st.integers(min_value=0, max_value=3)

COMPONENTS = st.sampled_from(
    [
        (),
        (Component("A", ["a"]), Component("B", ["b", "c"], ["A"])),
        (Component("A", ["a"], ["C"]), Component("B", []), Component("C", ["c"], ["B"])),
    ]
)
REFUSED = st.sampled_from([{}, {"c": "in another environment"}])
ROLES = st.sampled_from(["admin", "ops"])
PERMISSIONS = st.sampled_from(
    [Permission("tasks", "run", "*"), Permission("tasks", "run_with_constraints", "1")]
)
RESULTS = st.sampled_from(
    [
        execution_failure("a", "Could not connect to a: Connection refused"),
        execution_failure("b", "The task timed out"),
        {"kind": EXECUTION_FAILURE, "msg": "x", "details": {"node": "c", "reached": True}},
    ]
)  # execution failures that do, and do not, say whether the host was reached

any_event: st.SearchStrategy[Event] = st.one_of(
    st.builds(
        lambda nodes, rid, kind, c, components, refused, transport: job_requested(
            nodes,
            request_id=rid,
            kind=kind,
            concurrency=c,
            components=components,
            refused=refused,
            transport=transport,
        ),
        st.lists(NODES, min_size=1, max_size=3, unique=True),
        st.sampled_from(["r1", "r2", "r3", "r4"]),
        st.sampled_from(["task", "deploy"]),
        st.none() | st.integers(min_value=1, max_value=3),
        COMPONENTS,
        REFUSED,
        st.sampled_from(["sim", "ssh"]),
    ),
    st.builds(JobReady, at=AT, job=JOBS),
    st.builds(NodeRunDispatched, at=AT, job=JOBS, node=NODES, attempt=ATTEMPTS),
    st.builds(NodeRunStarted, at=AT, job=JOBS, node=NODES, attempt=ATTEMPTS, executor=EXECUTORS),
    st.builds(
        NodeRunFinished,
        at=AT,
        job=JOBS,
        node=NODES,
        attempt=ATTEMPTS,
        state=ENDED,
        result=st.none()
        | st.dictionaries(st.text(max_size=3), st.integers(-(2**63), 2**64 - 1), max_size=2)
        | RESULTS,
        message=st.text(max_size=5),
        reached=st.none() | st.booleans(),
    ),
    st.builds(JobStopRequested, at=AT, job=JOBS, force=st.booleans()),
    st.builds(JobStopping, at=AT, job=JOBS),
    st.builds(
        JobFinished,
        at=AT,
        job=JOBS,
        state=st.sampled_from([JobState.FINISHED, JobState.FAILED, JobState.STOPPED]),
    ),
    st.builds(ExecutorLost, at=AT, executor=EXECUTORS),
    st.builds(
        TokenIssued,
        at=AT,
        token_sha256=st.sampled_from(["t1", "t2"]),
        user_id=st.sampled_from(["u1", "u2"]),
        login=st.sampled_from(["a", "b"]),
        expires_at=st.none() | AT,
    ),
    st.builds(TokenRevoked, at=AT, token_sha256=st.sampled_from(["t1", "t2"])),
    st.builds(
        UserCreated,
        at=AT,
        user_id=st.sampled_from(["u1", "u2", "u3"]),
        login=st.sampled_from(["a", "b", "c"]),
    ),
    st.builds(UserDisabled, at=AT, user_id=st.sampled_from(["u1", "u2"])),
    st.builds(RoleCreated, at=AT, name=ROLES),
    st.builds(PermissionGranted, at=AT, role=ROLES, permission=PERMISSIONS),
    st.builds(PermissionRevoked, at=AT, role=ROLES, permission=PERMISSIONS),
    st.builds(UserAddedToRole, at=AT, user_id=st.sampled_from(["u1", "u2"]), role=ROLES),
    st.builds(
        TaskTargetCreated,
        at=AT,
        request_id=st.sampled_from(["r1", "r2"]),
        display_name=st.just("tt"),
        tasks=st.just(["mod::t"]),
        all_tasks=st.booleans(),
        nodes=st.just(["a"]),
        node_groups=st.just([]),
    ),
)


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """Events from one or two producers, interleaved, each producer's seqs in log order."""
    events = draw(st.lists(any_event, max_size=40))
    origins = draw(
        st.lists(st.sampled_from(["p1", "p2"]), min_size=len(events), max_size=len(events))
    )
    seqs = {"p1": 0, "p2": 0}
    stamped = []
    for event, origin in zip(events, origins, strict=True):
        seqs[origin] += 1
        stamped.append(msgspec.structs.replace(event, origin=origin, seq=seqs[origin]))
    return stamped


@settings(max_examples=300, deadline=None)
@given(history=histories())
def test_folding_a_history_twice_gives_the_state_of_folding_it_once(history: list[Event]) -> None:
    assert fold_all(history + history) == fold_all(history)


@settings(max_examples=300, deadline=None)
@given(history=histories(), data=st.data())
def test_folding_duplicates_anywhere_changes_nothing(
    history: list[Event], data: st.DataObject
) -> None:
    with_copies: list[Event] = []
    for index, event in enumerate(history):
        with_copies.append(event)
        if index and data.draw(st.booleans()):  # repeat an earlier event right here
            with_copies.append(history[data.draw(st.integers(0, index))])
    assert fold_all(with_copies) == fold_all(history)


@settings(max_examples=200, deadline=None)
@given(history=histories())
def test_the_log_encoding_folds_to_the_same_state(history: list[Event]) -> None:
    assert fold_all(decode_batch(encode_batch(history))) == fold_all(history)


@settings(max_examples=200, deadline=None)
@given(history=histories())
def test_a_snapshot_round_trip_keeps_the_state(history: list[Event]) -> None:
    state = fold_all(history)
    restored = msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=State)
    assert restored == state


@settings(max_examples=200, deadline=None)
@given(history=histories())
def test_counts_always_match_the_node_states(history: list[Event]) -> None:
    state = fold_all(history)
    inflight = 0
    for job in state.jobs.values():
        tally: dict[NodeState, int] = {}
        for run in job.nodes.values():
            tally[run.state] = tally.get(run.state, 0) + 1
        assert job.counts == tally
        live = job.state not in (JobState.FINISHED, JobState.FAILED, JobState.STOPPED)
        assert job.inflight == live * sum(
            1
            for run in job.nodes.values()
            if run.dispatched and run.state in (NodeState.NEW, NodeState.RUNNING)
        )
        inflight += job.inflight
        for component in job.components.values():
            ended = [job.nodes[n].state in NODE_TERMINAL for n in component.nodes]
            assert component.unfinished == ended.count(False)
        assert [e.id for e in job.events] == sorted(e.id for e in job.events)
    assert state.inflight == inflight
