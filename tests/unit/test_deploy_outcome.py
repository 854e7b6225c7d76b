"""A deploy run's outcome: the agent's exit code and its last run report, read from reports a
real agent wrote (tests/data/reports: a run that changed a file, one with nothing to do, a noop
run with pending changes, one whose resource failed, one whose catalog did not compile)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from podium.events.jobspec import RunSpec
from podium.events.model import NodeState
from podium.executor.deploy import agent_argv, agent_error, deploy_outcome
from podium.executor.report import (
    MAX_FAILED_RESOURCES,
    MAX_MESSAGE_CHARS,
    ReportError,
    RunReport,
    parse_report,
)

REPORTS: Final = Path(__file__).parents[1] / "data" / "reports"
SPEC: Final = RunSpec(kind="deploy", environment="production")


def report(name: str) -> RunReport:
    return parse_report((REPORTS / f"{name}.yaml").read_bytes())


@pytest.mark.parametrize(
    ("code", "state", "status"),
    [
        (0, NodeState.FINISHED, "unchanged"),
        (2, NodeState.FINISHED, "changed"),
        (4, NodeState.FAILED, "failed"),
        (6, NodeState.FAILED, "failed"),
        (1, NodeState.FAILED, "failed"),
        (3, NodeState.ERRORED, None),
        (127, NodeState.ERRORED, None),
    ],
)
def test_without_a_report_the_exit_code_decides(
    code: int, state: NodeState, status: str | None
) -> None:
    spec = RunSpec(kind="deploy", environment="production", noop=True)
    outcome = deploy_outcome("n1", code, spec)
    assert outcome.state == state
    if status is None:
        assert outcome.result["kind"] == "puppetlabs.orchestrator/execution-failure"
        assert outcome.result["details"] == {"node": "n1"}
    else:
        assert outcome.result["status"] == status
        assert outcome.result["noop"] == {"noop": True, "no_noop": False}
        assert outcome.result["environment"] == "production"
        assert outcome.result["metrics"] is None


def test_a_run_that_changed_a_file_shows_the_reports_fields() -> None:
    changed = report("changed")
    outcome = deploy_outcome("node-t1", 2, SPEC, changed)
    assert outcome.state == NodeState.FINISHED
    assert outcome.message == "Finished puppet run on node-t1 - changed"
    assert outcome.result == {
        "hash": None,
        "noop": {"noop": False, "no_noop": False},
        "noop_pending": False,
        "status": "changed",
        "metrics": {
            "total": 9,
            "changed": 2,
            "failed": 0,
            "skipped": 0,
            "restarted": 0,
            "failed_to_restart": 0,
            "scheduled": 0,
            "out_of_sync": 2,
            "corrective_change": 0,
        },
        "environment": "t1",
        "configuration_version": changed.configuration_version,
        "transaction_uuid": changed.transaction_uuid,
        "exit_code": 2,
    }
    assert changed.configuration_version is not None
    assert changed.configuration_version.isdigit()  # a number in the YAML, text in the result
    assert len(changed.transaction_uuid or "") == 36


def test_a_noop_run_counts_its_pending_changes_and_changes_nothing() -> None:
    noop = report("noop")
    outcome = deploy_outcome(
        "node-t1", 0, RunSpec(kind="deploy", environment="t1", noop=True), noop
    )
    assert outcome.state == NodeState.FINISHED
    assert outcome.result["status"] == "unchanged"
    assert outcome.result["noop_pending"] is True
    assert outcome.result["metrics"]["out_of_sync"] == 2
    assert outcome.result["metrics"]["changed"] == 0
    assert noop.noop is True


def test_a_failed_resource_fails_the_node_naming_it_and_its_message() -> None:
    outcome = deploy_outcome("node-t1", 4, SPEC, report("failed"))
    assert outcome.state == NodeState.FAILED
    resources = outcome.result["failed_resources"]
    assert resources == [
        {
            "resource": "File[/tmp/pp2/nowhere/t3]",
            "messages": [
                "change from 'absent' to 'directory' failed: Cannot create /tmp/pp2/nowhere/t3; "
                "parent directory /tmp/pp2/nowhere does not exist"
            ],
        }
    ]
    assert outcome.message == (
        "Puppet run failed on node-t1: File[/tmp/pp2/nowhere/t3]: " + resources[0]["messages"][0]
    )
    assert outcome.result["metrics"]["failed"] == 1
    assert not any(
        "Facter" in error or "/proc/1/environ" in error for error in outcome.result["errors"]
    )


def test_a_catalog_that_does_not_compile_fails_the_node_with_the_compilers_message() -> None:
    outcome = deploy_outcome("node-t1", 1, SPEC, report("compile"))
    assert outcome.state == NodeState.FAILED
    assert outcome.result["status"] == "failed"
    assert outcome.result["metrics"]["total"] == 0  # no catalog was applied
    assert outcome.result["failed_resources"] == []
    assert outcome.message.startswith(
        "Puppet run failed on node-t1: Could not retrieve catalog from remote server: "
        "Error 500 on SERVER: Server Error: Evaluation Error: Unknown function: 'foo'."
    )


def test_a_failure_in_the_report_wins_over_a_clean_exit_code() -> None:
    outcome = deploy_outcome("node-t1", 0, SPEC, report("failed"))
    assert outcome.state == NodeState.FAILED


def test_the_report_tells_changed_from_unchanged_when_the_exit_code_cannot() -> None:
    """An agent command without --detailed-exitcodes exits 0 for a run that changed things."""
    assert deploy_outcome("node-t1", 0, SPEC, report("changed")).result["status"] == "changed"
    assert deploy_outcome("node-t1", 0, SPEC, report("unchanged")).result["status"] == "unchanged"


def test_failures_are_bounded_in_number_and_size() -> None:
    statuses = "\n".join(
        f"  File[/f{n}]:\n    failed: true\n    events:\n"
        f"    - status: failure\n      message: '{'x' * 5000}'\n"
        for n in range(MAX_FAILED_RESOURCES + 5)
    )
    head = "--- !ruby/object:Puppet::Transaction::Report\nstatus: failed\n"
    text = f"{head}resource_statuses:\n{statuses}"
    parsed = parse_report(text.encode())
    assert len(parsed.failed_resources) == MAX_FAILED_RESOURCES
    assert parsed.more_failed_resources == 5
    assert all(len(r.messages[0]) == MAX_MESSAGE_CHARS for r in parsed.failed_resources)
    outcome = deploy_outcome("n1", 4, SPEC, parsed)
    assert outcome.result["more_failed_resources"] == 5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"status: [unclosed", "not YAML"),
        (b"- a list\n", "no run status"),
        (b"status: exploded\n", "no run status"),
        (b"status: \xc3\x28 invalid UTF-8", "not YAML"),
    ],
)
def test_a_report_that_cannot_be_read_is_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(ReportError, match=message):
        parse_report(data)


def test_without_a_report_the_agents_last_error_says_why() -> None:
    output = b"\x1b[1;31mError: Could not run: connection refused\x1b[0m\n"
    assert agent_error(output) == "Could not run: connection refused"
    outcome = deploy_outcome("n1", 1, SPEC, None, agent_error(output))
    assert outcome.message == "Puppet run failed on n1: Could not run: connection refused"


def test_the_agent_gets_the_flags_the_job_id_and_the_reports_path() -> None:
    spec = RunSpec(kind="deploy", environment="dev", noop=True, evaltrace=True)
    assert agent_argv(["puppet", "agent", "--test"], spec, "17", "/run/r.yaml") == [
        "puppet", "agent", "--test", "--noop", "--evaltrace", "--environment", "dev",
        "--job-id", "17", "--lastrunreport", "/run/r.yaml",
    ]  # fmt: skip
