"""The sim transport's settings and its reproducible draws."""

from __future__ import annotations

from collections import Counter

import pytest

from podium.events.jobspec import RunSpec
from podium.events.model import NodeState
from podium.events.work import WorkItem
from podium.executor.transports.base import RunError
from podium.executor.transports.sim import SimSettings, sim_settings, simulate


def item(node: str, kind: str = "task", job: str = "1") -> WorkItem:
    spec = RunSpec(
        kind="deploy" if kind == "deploy" else "task", environment="production", task="mod::t"
    )
    return WorkItem(job=job, node=node, attempt=1, transport="sim", config={}, spec=spec)


def test_settings_default_to_instant_success() -> None:
    assert sim_settings({}) == SimSettings()


def test_latency_is_fixed_or_a_range() -> None:
    assert sim_settings({"latency-ms": 20}).latency_ms == (20.0, 20.0)
    assert sim_settings({"latency-ms": [50, 20]}).latency_ms == (20.0, 50.0)


@pytest.mark.parametrize(
    "config",
    [
        {"latency-ms": "fast"},
        {"latency-ms": [-1, 5]},
        {"failure-rate": 1.5},
        {"failure-rate": 0.7, "error-rate": 0.7},
        {"seed": "x"},
    ],
)
def test_bad_settings_are_refused_with_a_reason(config: dict[str, object]) -> None:
    with pytest.raises(RunError, match="sim:"):
        sim_settings(config)


def test_the_same_seed_job_and_node_give_the_same_run() -> None:
    settings = SimSettings((10.0, 90.0), 0.3, 0.2, seed=5)
    runs = [simulate(item(f"n{i}"), settings) for i in range(50)]
    assert runs == [simulate(item(f"n{i}"), settings) for i in range(50)]
    assert len({latency for latency, _ in runs}) > 1
    assert all(0.01 <= latency <= 0.09 for latency, _ in runs)


def test_rates_shape_the_outcomes() -> None:
    settings = SimSettings(failure_rate=0.3, error_rate=0.2, seed=1)
    states = Counter(simulate(item(f"n{i}"), settings)[1].state for i in range(2000))
    assert 500 < states[NodeState.FAILED] < 700
    assert 300 < states[NodeState.ERRORED] < 500
    assert states[NodeState.FINISHED] == 2000 - states[NodeState.FAILED] - states[NodeState.ERRORED]


def test_a_failed_deploy_has_a_puppet_like_report() -> None:
    settings = SimSettings(failure_rate=1.0)
    _, outcome = simulate(item("n1", kind="deploy"), settings)
    assert outcome.state == NodeState.FAILED
    assert outcome.result["status"] == "failed"
    assert outcome.result["metrics"]["failed"] >= 1
    assert outcome.result["noop"] == {"noop": False, "no_noop": False}
