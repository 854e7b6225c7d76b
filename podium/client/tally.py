"""A job's progress as its event stream tells it, and the exit code its outcome gives: pure.

Each node's state is the one its latest event gave; an event id seen before counts once, so a
stream resumed from `Last-Event-ID` (or replayed) gives the same counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

NODE_STATES: Final = ("new", "running", "finished", "failed", "errored", "skipped")
NODE_TERMINAL: Final = frozenset({"finished", "failed", "errored", "skipped"})
JOB_TERMINAL: Final = frozenset({"finished", "failed", "stopped"})
_NODE_EVENTS: Final = {
    "node_running": "running",
    "node_finished": "finished",
    "node_failed": "failed",
    "node_errored": "errored",
    "node_skipped": "skipped",
}

OK: Final = 0
NODES_FAILED: Final = 1  # some node failed or errored, or the engine gave the job up
NOT_STARTED: Final = 2  # the job could not start, or there was no job to follow
LEFT_RUNNING: Final = 130  # Ctrl+C, and the job was left to go on


@dataclass(slots=True)
class Tally:
    job: str
    node_count: int
    job_state: str = "new"
    last_id: int = 0
    events: int = 0  # events counted, each id once
    duplicates: int = 0  # events given again (ids at or below one counted): never expected
    nodes: dict[str, str] = field(default_factory=dict)

    def apply(self, event: Mapping[str, Any]) -> bool:
        """Count one job event (the API's shape); False for one already counted."""
        event_id = int(event["id"])
        if event_id <= self.last_id:
            self.duplicates += 1
            return False
        self.last_id, self.events = event_id, self.events + 1
        kind, details = event["type"], event.get("details") or {}
        if kind in _NODE_EVENTS:
            node = str(details.get("node"))
            if self.nodes.get(node) not in NODE_TERMINAL:  # the first ending wins
                self.nodes[node] = _NODE_EVENTS[kind]
            if self.job_state in ("new", "ready"):
                self.job_state = "running"
        elif kind == "job_stopping":
            self.job_state = "stopping"
        elif kind == "job_finished":
            self.job_state = str(details.get("state", "finished"))
        return True

    @property
    def ended(self) -> bool:
        return self.job_state in JOB_TERMINAL

    def counts(self) -> dict[str, int]:
        """Nodes by state, every state present; nodes no event has named yet are `new`."""
        counts = dict.fromkeys(NODE_STATES, 0)
        for state in self.nodes.values():
            counts[state] += 1
        counts["new"] = max(self.node_count - len(self.nodes), 0)
        return counts

    def done(self) -> int:
        return sum(1 for state in self.nodes.values() if state in NODE_TERMINAL)


def exit_code(job_state: str, node_states: Mapping[str, int]) -> int:
    """1 when a node failed or errored, or the engine gave the job up; 0 otherwise (a stopped
    job's skipped nodes are no failure), as `puppet task run` exits."""
    if job_state == "failed" or node_states.get("failed", 0) or node_states.get("errored", 0):
        return NODES_FAILED
    return OK


PLAN_ENDS: Final = {"plan_finished": "success", "plan_failed": "failure"}
_STEP_STARTS: Final = frozenset(
    {"task_start", "command_start", "script_start", "upload_start", "wait_start", "apply_start"}
)


@dataclass(slots=True)
class PlanTally:
    """A plan job's progress as its event stream tells it: its state, the jobs its steps
    started, each event counted once."""

    plan_job: str
    state: str = "running"
    last_id: int = 0
    events: int = 0
    duplicates: int = 0
    jobs: list[str] = field(default_factory=list)

    def apply(self, event: Mapping[str, Any]) -> str | None:
        """Count one plan event; the line it is worth telling (a message, a step started),
        or None (for a copy too)."""
        event_id = int(event["id"])
        if event_id <= self.last_id:
            self.duplicates += 1
            return None
        self.last_id, self.events = event_id, self.events + 1
        kind, details = str(event["type"]), event.get("details") or {}
        if kind in _STEP_STARTS:
            self.jobs.append(str(details.get("job-id")))
            return f"{kind.removesuffix('_start')} step: job {details.get('job-id')}"
        if kind == "out_message":
            return f"message: {details.get('message', '')}"
        if kind == "plan_start":
            return f"plan {details.get('plan')} started"
        if kind in PLAN_ENDS:
            self.state = PLAN_ENDS[kind]
        return None


def plan_exit_code(state: str) -> int:
    """0 when the plan succeeded, 1 when it failed (a stopped plan fails too)."""
    return OK if state == "success" else NODES_FAILED
