"""The items of GET /inventory: sim and local targets are connected; an ssh target is as
connected as the latest of its runs that said whether it reached the host."""

from __future__ import annotations

from podium.api.inventory import inventory_items
from podium.api.sources import Sources
from podium.events.endings import Outcome, errored, failed, finished, run_ended
from podium.events.fold import fold_all
from podium.events.model import Event, NodeRunDispatched
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


def ended(job: str, node: str, at: float, outcome: Outcome) -> list[Event]:
    return [
        NodeRunDispatched(at=at, job=job, node=node, attempt=1),
        run_ended(job, node, 1, at, outcome),
    ]


def failure(node: str, message: str, reached: bool | None = None) -> Outcome:
    return errored(node, message, reached)


def test_the_fold_keeps_each_ssh_nodes_latest_telling_contact() -> None:
    state = fold_all(
        stamp(
            [
                job_requested(["a", "b", "c", "d", "e"], request_id="r1", transport="ssh"),
                *ended("1", "a", 10.0, failure("a", REFUSED, reached=False)),
                *ended("1", "b", 11.0, finished(None, "")),
                *ended("1", "c", 12.0, failed(None, "")),
                *ended("1", "d", 13.0, failure("d", TIMED_OUT, reached=True)),
                *ended("1", "e", 14.0, failure("e", "in another environment")),
                job_requested(["a", "b", "c"], request_id="r2", transport="ssh"),
                *ended("2", "a", 20.0, failed(None, "")),  # it ran, so it connected
                *ended("2", "b", 21.0, failure("b", TIMED_OUT)),  # no say
                *ended("2", "c", 22.0, failure("c", "gone", reached=False)),
                job_requested(["a"], request_id="r3", transport="ssh"),  # still new: no say
                job_requested(["s"], request_id="r4", transport="sim"),
                *ended("4", "s", 30.0, finished(None, "")),  # sim nodes are not tracked
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
