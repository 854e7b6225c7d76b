"""The items of GET /inventory: sim and local targets are connected; an ssh target is as
connected as the latest of its runs that said whether it reached the host."""

from __future__ import annotations

from podium.api.inventory import inventory_items
from podium.api.sources import Sources
from podium.events.fold import fold_all
from podium.events.model import Event, NodeRunDispatched, NodeRunFinished, NodeState
from podium.events.results import EXECUTION_FAILURE, execution_failure, reached
from podium.events.state import Contact
from podium.inventory import parse_inventory
from podium.node_groups import NodeGroups
from tests.builders import job_requested, stamp

INVENTORY = parse_inventory("""
config: {transport: ssh}
targets: [a, b, c, d, e, never]
groups:
  - name: sims
    targets: [s]
    config: {transport: sim}
""")
REFUSED = "Could not connect to a:22: Connection refused"
TIMED_OUT = "The task mod::t timed out on b after 5 seconds"


def failure(node: str, message: str, reached: bool | None = None) -> dict[str, object]:
    """An execution failure, with the `details.reached` marker when given."""
    return execution_failure(node, message, reached)


def ended(job: str, node: str, state: NodeState, at: float, result: object = None) -> list[Event]:
    return [
        NodeRunDispatched(at=at, job=job, node=node, attempt=1),
        NodeRunFinished(at=at, job=job, node=node, attempt=1, state=state, result=result),
    ]


def test_only_a_failure_to_reach_the_host_counts_as_disconnected() -> None:
    assert reached({"_output": "hi"}) is True  # any result of the host's own
    assert reached(None) is True  # a deploy's or a task's run without output
    assert reached(failure("a", REFUSED, reached=False)) is False
    assert reached(failure("a", REFUSED)) is None  # the words alone say nothing
    assert reached(failure("b", TIMED_OUT, reached=True)) is True
    for says_nothing in (TIMED_OUT, "The executor e1 running this task was lost", "stopped"):
        assert reached(failure("b", says_nothing)) is None
    assert reached({"kind": EXECUTION_FAILURE, "msg": 3, "details": []}) is None


def test_the_fold_keeps_each_ssh_nodes_latest_telling_contact() -> None:
    state = fold_all(
        stamp(
            [
                job_requested(["a", "b", "c", "d", "e"], request_id="r1", transport="ssh"),
                *ended("1", "a", NodeState.ERRORED, 10.0, failure("a", REFUSED, reached=False)),
                *ended("1", "b", NodeState.FINISHED, 11.0),
                *ended("1", "c", NodeState.FAILED, 12.0),
                *ended("1", "d", NodeState.ERRORED, 13.0, failure("d", TIMED_OUT, reached=True)),
                *ended("1", "e", NodeState.ERRORED, 14.0, failure("e", "in another environment")),
                job_requested(["a", "b", "c"], request_id="r2", transport="ssh"),
                *ended("2", "a", NodeState.FAILED, 20.0),  # it ran, so it connected
                *ended("2", "b", NodeState.ERRORED, 21.0, failure("b", TIMED_OUT)),  # no say
                *ended("2", "c", NodeState.ERRORED, 22.0, failure("c", "gone", reached=False)),
                job_requested(["a"], request_id="r3", transport="ssh"),  # still new: no say
                job_requested(["s"], request_id="r4", transport="sim"),
                *ended("4", "s", NodeState.FINISHED, 30.0),  # sim nodes are not tracked
            ]
        )
    )
    assert state.contacts == {
        "a": Contact(True, 20.0),
        "b": Contact(True, 11.0),
        "c": Contact(False, 22.0),
        "d": Contact(True, 13.0),
    }
    sources = Sources(INVENTORY, NodeGroups.default(), 5.0)
    assert inventory_items(["a", "c", "d", "e", "never", "s", "ghost"], sources, state) == [
        {"name": "a", "connected": True, "broker": "ssh://a", "timestamp": "1970-01-01T00:00:20Z"},
        {"name": "c", "connected": False},
        {"name": "d", "connected": True, "broker": "ssh://d", "timestamp": "1970-01-01T00:00:13Z"},
        {"name": "e", "connected": False},
        {"name": "never", "connected": False},
        {"name": "s", "connected": True, "broker": "sim://s", "timestamp": "1970-01-01T00:00:05Z"},
        {"name": "ghost", "connected": False},
    ]
