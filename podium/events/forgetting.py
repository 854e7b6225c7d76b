"""What a process that follows the log without a projection (a `podium scheduler`) does with
what has ended: the jobs and plan jobs the fold ends leave its state, as an archive would take
them, and go nowhere. Its memory then follows live work, and its snapshots carry live state only.

It keeps, like the archive, an ended job of a plan job still going (the plan's next step reads
its results), until that plan job ends.
"""

from __future__ import annotations

from podium.events.model import JOB_TERMINAL, JobFinished, PlanFinished
from podium.events.ports import Record
from podium.events.state import PLAN_TERMINAL, State


class Forgetting:
    """The projector's archive hook for a process without a projection."""

    behind = False  # nothing is written: the fold never waits

    def __init__(self) -> None:
        self._held: dict[str, list[str]] = {}  # plan job -> its ended jobs, kept for its steps

    def start(self, state: State) -> None:
        """Forget what the state to start from holds ended (a snapshot of an earlier version
        carried every job)."""
        for name in [name for name, job in state.jobs.items() if job.state in JOB_TERMINAL]:
            self._forget(state, name)
        ended = [name for name, plan in state.plan_jobs.items() if plan.state in PLAN_TERMINAL]
        for name in ended:
            del state.plan_jobs[name]

    def on_record(self, record: Record, state: State) -> None:
        for event in record.events:
            if isinstance(event, JobFinished):
                self._forget(state, event.job)
            elif isinstance(event, PlanFinished):
                ended = state.plan_jobs.get(event.plan_job)
                if ended is not None and ended.state in PLAN_TERMINAL:
                    del state.plan_jobs[event.plan_job]
        if self._held:
            for plan in [plan for plan in self._held if plan not in state.active_plans]:
                for name in self._held.pop(plan):
                    self._forget(state, name)

    async def drained(self) -> None:
        return

    def _forget(self, state: State, name: str) -> None:
        job = state.jobs.get(name)
        if job is None or job.state not in JOB_TERMINAL:
            return
        plan = job.spec.origin.plan_job
        if plan is not None and plan in state.active_plans:
            self._held.setdefault(plan, []).append(name)
            return
        del state.jobs[name]
