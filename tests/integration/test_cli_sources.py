"""What `podium serve` serves with and without `--inventory`, from the flags to the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.cli import settings_from
from podium.engine import Engine
from podium.settings import Settings
from tests.conftest import ENVIRONMENTS, INVENTORY, serving

ALL_NODES = "00000000-0000-4000-8000-000000000000"


def served_settings(data_dir: Path, *flags: str) -> Settings:
    argv = ["serve", "--data-dir", str(data_dir), "--watch-s", "0", "--no-fsync", *flags]
    return settings_from(argv, {})


@pytest.fixture(autouse=True)
def no_podium_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PODIUM_INVENTORY", "PODIUM_NODE_GROUPS", "PODIUM_ENVIRONMENTS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("flags", "groups"),
    [
        (["--inventory", str(INVENTORY), "--environments", str(ENVIRONMENTS)], [ALL_NODES]),
        ([], None),  # the bundled example's groups
    ],
)
async def test_node_groups_follow_the_inventory_they_were_made_for(
    tmp_path: Path, flags: list[str], groups: list[str] | None
) -> None:
    engine = await Engine.start(served_settings(tmp_path / "data", *flags))
    try:
        async with serving(engine) as api:
            listed = [group["id"] for group in (await api.ok("/node_groups"))["items"]]
    finally:
        await engine.close()
    if groups is None:
        assert ALL_NODES in listed
        assert len(listed) > 1
    else:
        assert listed == groups
