"""The items of GET /inventory: sim and local targets are connected; an ssh target is as
connected as its latest ended run says."""

from __future__ import annotations

from libs.events.fold import fold_all
from libs.events.model import Event, NodeRunDispatched, NodeRunFinished, NodeState
from libs.events.results import execution_failure
from libs.inventory import parse_inventory
from libs.node_groups import NodeGroups
from services.api.inventory import inventory_items, last_contacts
from services.api.sources import Sources
from tests.builders import job_requested, stamp

INVENTORY = parse_inventory("""
config: {transport: ssh}
targets: [a, b, c, never]
groups:
  - name: sims
    targets: [s]
    config: {transport: sim}
""")


def ended(job: str, node: str, state: NodeState, at: float, result: object = None) -> list[Event]:
    return [
        NodeRunDispatched(at=at, job=job, node=node, attempt=1),
        NodeRunFinished(at=at, job=job, node=node, attempt=1, state=state, result=result),
    ]


def test_an_ssh_target_is_as_connected_as_its_latest_ended_run() -> None:
    state = fold_all(
        stamp(
            [
                job_requested(["a", "b", "c"], request_id="r1", transport="ssh"),
                *ended("1", "a", NodeState.ERRORED, 10.0, execution_failure("a", "unreachable")),
                *ended("1", "b", NodeState.FINISHED, 11.0),
                *ended("1", "c", NodeState.FAILED, 12.0),
                job_requested(["a", "b"], request_id="r2", transport="ssh"),
                *ended("2", "a", NodeState.FAILED, 20.0),  # it ran, so it connected
                *ended("2", "b", NodeState.ERRORED, 21.0, execution_failure("b", "refused")),
                job_requested(["c"], request_id="r3", transport="ssh"),  # still new: no say
            ]
        )
    )
    assert last_contacts(state, {"a", "b", "c", "never"}) == {
        "a": (True, 20.0),
        "b": (False, 21.0),
        "c": (True, 12.0),
    }
    sources = Sources(INVENTORY, NodeGroups.default(), 5.0)
    assert inventory_items(["a", "b", "never", "s", "ghost"], sources, state) == [
        {"name": "a", "connected": True, "broker": "ssh://a", "timestamp": "1970-01-01T00:00:20Z"},
        {"name": "b", "connected": False},
        {"name": "never", "connected": False},
        {"name": "s", "connected": True, "broker": "sim://s", "timestamp": "1970-01-01T00:00:05Z"},
        {"name": "ghost", "connected": False},
    ]
