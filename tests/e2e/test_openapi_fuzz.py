"""Schemathesis against a live `podium serve`, from the server's own OpenAPI document.

Every operation goes through schemathesis' coverage and fuzzing phases and the stateful phase
(sequences along the document's links: a task's job read, stopped and its events followed; a
user made, disabled and given a token ...), with every check schemathesis has: no 500, no answer
outside its schema, no undocumented status or media type, no invalid request accepted, and
(tests/openapi_hooks.py) no request the document allows refused as malformed. The settings
(few examples, a fixed seed) are tests/e2e/schemathesis.toml.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Final

from tests.e2e.test_serve import client, server_process

ROOT: Final = Path(__file__).parents[2]
CONFIG: Final = Path(__file__).parent / "schemathesis.toml"


def sim_inventory(path: Path) -> Path:
    path.write_text("version: 2\nconfig: {transport: sim}\ntargets: [n-01, n-02, n-03]\n")
    return path


async def test_schemathesis_finds_nothing_wrong_with_the_server_or_its_document(
    tmp_path: Path,
) -> None:
    inventory = sim_inventory(tmp_path / "inventory.yaml")
    with server_process(tmp_path / "data", inventory) as server:
        async with client(server) as api:
            command = [
                str(Path(sys.executable).with_name("schemathesis")),
                "--config-file",
                str(CONFIG),
                "--no-color",
                "run",
                f"{server.url}/orchestrator/v1/openapi.json",
                "--header",
                f"X-Authentication: {api.token}",
            ]
            env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.openapi_hooks"}
            ran = await asyncio.to_thread(
                subprocess.run, command, cwd=ROOT, env=env, capture_output=True, text=True
            )
    report = ran.stdout + ran.stderr
    assert ran.returncode == 0, report
    assert re.search(r"Operations:\s+(\d+) selected / \1 total", report), report
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅\s+{phase} \(in", report), report
    covered = re.search(r"API Links:\s+(\d+) covered", report)
    assert covered, report
    assert int(covered[1]) >= 5, report  # sequences followed the links (which, the run decides)
