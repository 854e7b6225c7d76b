"""A log and a snapshot written by the version before the typed job spec (tests/data/logs/v1,
recorded by `tests/data/logs/record.py`) still fold, through today's reader, to the answers that
version gave: every key it answered, with the same value."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Final

import pytest

from podium.jsontypes import Json
from podium.settings import EXAMPLES
from tests.conftest import DATA, running
from tests.data.logs.record import PUBLIC_URL, environments_for, inventory_for

V1: Final = DATA / "logs" / "v1"


def assert_answers_as_before(now: Json, before: Json, where: str = "") -> None:
    """`now` says all that `before` said; keys added since are allowed."""
    if isinstance(before, dict):
        assert isinstance(now, dict), where
        for key, value in before.items():
            assert key in now, f"{where}.{key} is missing"
            assert_answers_as_before(now[key], value, f"{where}.{key}")
    elif isinstance(before, list):
        assert isinstance(now, list), where
        assert len(now) == len(before), where
        for index, (item_now, item_before) in enumerate(zip(now, before, strict=True)):
            assert_answers_as_before(item_now, item_before, f"{where}[{index}]")
    else:
        assert now == before, where


@pytest.mark.parametrize(
    "kept",
    [("events.log",), ("events.log", "snapshot.bin")],
    ids=["folded from the log", "started from the snapshot"],
)
async def test_an_old_log_answers_as_it_did(tmp_path: Path, kept: tuple[str, ...]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in (*kept, "admin.token"):
        shutil.copy(V1 / name, data / name)
    before = json.loads((V1 / "answers.json").read_text())
    settings = {
        "public_url": PUBLIC_URL,
        "environments": environments_for(tmp_path),
        "inventory": inventory_for(tmp_path, closed_port=1),
        "node_groups": EXAMPLES / "node_groups.yaml",
    }
    async with running(data, **settings) as (_, api):
        for path, answer in before.items():
            assert_answers_as_before(await api.ok(path), answer, path)
