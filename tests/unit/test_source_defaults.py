"""The bundled example is one whole: its inventory, node groups and environments are the
defaults only when no inventory is given."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podium.cli import settings_from
from podium.settings import EXAMPLE, PUPPET_ENVIRONMENTS, SourcePaths

MINE = Path("/srv/fleet/inventory.yaml")


@pytest.fixture(autouse=True)
def no_podium_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PODIUM_INVENTORY", "PODIUM_NODE_GROUPS", "PODIUM_ENVIRONMENTS"):
        monkeypatch.delenv(name, raising=False)


def settings(*argv: str) -> SourcePaths:
    return settings_from(list(argv), os.environ).sources


@pytest.mark.parametrize("role", ["serve", "api"])
def test_without_an_inventory_everything_comes_from_the_bundled_example(role: str) -> None:
    got = settings(role, "--amqp-url", "amqp://x/") if role == "api" else settings(role)
    assert (got.inventory, got.node_groups, got.environments) == (
        EXAMPLE.inventory,
        EXAMPLE.node_groups,
        EXAMPLE.environments,
    )
    assert got.node_groups is not None
    assert all(path.exists() for path in (got.inventory, got.node_groups, got.environments))


def test_with_an_inventory_there_are_no_node_groups_and_puppets_environments() -> None:
    got = settings("serve", "--inventory", str(MINE))
    assert (got.inventory, got.node_groups, got.environments) == (MINE, None, PUPPET_ENVIRONMENTS)


def test_what_is_given_is_taken_whatever_else_is_given() -> None:
    groups, code = Path("/srv/fleet/groups.yaml"), Path("/srv/code")
    got = settings("serve", "--inventory", str(MINE), "--node-groups", str(groups))
    assert (got.node_groups, got.environments) == (groups, PUPPET_ENVIRONMENTS)
    got = settings("serve", "--environments", str(code))
    assert (got.inventory, got.node_groups, got.environments) == (
        EXAMPLE.inventory,
        EXAMPLE.node_groups,
        code,
    )


def test_an_inventory_from_the_environment_counts_as_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PODIUM_INVENTORY", str(MINE))
    got = settings("serve")
    assert (got.inventory, got.node_groups, got.environments) == (MINE, None, PUPPET_ENVIRONMENTS)


def test_an_executor_without_environments_runs_the_bundled_examples() -> None:
    """An executor reads no inventory: give it the api's --environments."""
    assert settings("executor", "--amqp-url", "amqp://x/").environments == EXAMPLE.environments
