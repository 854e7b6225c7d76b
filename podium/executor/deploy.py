"""A deploy run, the same on every transport: the agent's command line, and how its exit code and
last run report become the node's state and result. Pure: no processes, no files.

The agent runs with the request's flags (`--noop`, `--no-noop`, `--debug`, `--trace`,
`--evaltrace`, `--environment`), `--job-id` (PuppetDB then files the report under the job) and
`--lastrunreport` pointing into the run's own directory, so the report read back is this run's.
The result is what the orchestrator shows of a Puppet run: `status`, `noop`, `noop_pending`,
`metrics`, `environment`, `configuration_version` and `hash`, plus Podium's `exit_code`,
`transaction_uuid` (the node item's) and, for a failed run, its `failed_resources` and `errors`.

The exit code (`--detailed-exitcodes`: 0 no changes, 2 changes, 1 a failed run, 4 failures,
6 changes and failures; the reference's decision 14) and the report both have a say: a failure
in either fails the node, and the report tells `changed` from `unchanged`. Any other exit code
means the agent did not run as one: the node ends errored. Without a report (an agent that could
not start its run, or a stand-in that writes none) the exit code alone decides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from podium.events.endings import Outcome, errored, failed, finished
from podium.events.jobspec import RunSpec
from podium.executor.report import MAX_MESSAGE_CHARS, RunReport
from podium.jsontypes import Json

DEPLOY_FINISHED: Final = {0: "unchanged", 2: "changed"}
DEPLOY_FAILED: Final = frozenset({1, 4, 6})
DEPLOY_FLAGS: Final = ("noop", "no_noop", "debug", "trace", "evaltrace")
REPORT_FILE: Final = "last_run_report.yaml"
_ANSI: Final = re.compile(r"\x1b\[[0-9;]*m")


def agent_argv(command: Sequence[str], spec: RunSpec, job: str, report_path: str) -> list[str]:
    """The agent command with the request's flags, the job id and the report's path."""
    flags = [f"--{name.replace('_', '-')}" for name in DEPLOY_FLAGS if getattr(spec, name)]
    if spec.environment:
        flags += ["--environment", spec.environment]
    return [*command, *flags, "--job-id", job, "--lastrunreport", report_path]


def deploy_outcome(
    node: str,
    exit_code: int,
    spec: RunSpec,
    report: RunReport | None = None,
    note: str | None = None,
) -> Outcome:
    """`note`: why there is no report, or the agent's last error, for the message."""
    if exit_code not in DEPLOY_FINISHED and exit_code not in DEPLOY_FAILED:
        why = f": {note}" if note else ""
        message = f"The Puppet agent run on {node} ended with exit code {exit_code}{why}"
        return errored(node, message)
    status = DEPLOY_FINISHED.get(exit_code, "failed")
    if report is not None and status != "failed":
        status = report.status  # the report tells changed from unchanged, and may say failed
    result = _result(exit_code, spec, status, report)
    if status == "failed":
        cause = (report.cause if report is not None else None) or note
        return failed(result, f"Puppet run failed on {node}" + (f": {cause}" if cause else ""))
    return finished(result, f"Finished puppet run on {node} - {status}")


def _result(exit_code: int, spec: RunSpec, status: str, report: RunReport | None) -> Json:
    result: dict[str, Json] = {
        "hash": None,
        "noop": {"noop": spec.noop, "no_noop": spec.no_noop},
        "noop_pending": None if report is None else report.noop_pending,
        "status": status,
        "metrics": None if report is None else report.metrics,
        "environment": (report.environment if report is not None else None) or spec.environment,
        "configuration_version": None if report is None else report.configuration_version,
        "transaction_uuid": None if report is None else report.transaction_uuid,
        "exit_code": exit_code,
    }
    if status == "failed" and report is not None:
        result["failed_resources"] = [resource.as_json() for resource in report.failed_resources]
        if report.more_failed_resources:
            result["more_failed_resources"] = report.more_failed_resources
        result["errors"] = list(report.errors)
    return result


def agent_error(output: bytes) -> str | None:
    """The last `Error:` line the agent printed (colours removed), for a run with no report."""
    text = _ANSI.sub("", output.decode("utf-8", errors="replace"))
    errors = [line.strip() for line in text.splitlines() if line.lstrip().startswith("Error:")]
    if not errors:
        return None
    last = errors[-1].removeprefix("Error:").strip()
    return last if len(last) <= MAX_MESSAGE_CHARS else last[: MAX_MESSAGE_CHARS - 1] + "…"
