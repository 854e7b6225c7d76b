"""`podium user|role|token` as an operator runs them: real subprocesses against a running
server's admin endpoints, checked by what the server then does with the token they made."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from podium.cli import build_parser
from podium.client import admin
from tests.conftest import Api, running

RBAC: Final = "puppetlabs.rbac"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


@dataclass
class Server:
    api: Api
    url: str
    token_file: Path

    def argv(self, args: tuple[str, ...], token_file: Path | None) -> list[str]:
        where = ["--url", self.url, "--token-file", str(token_file or self.token_file)]
        return [args[0], *where, *args[1:]]

    async def podium(self, *args: str, token_file: Path | None = None) -> Ran:
        """The command through the real parser and HTTP, in a thread of this process (a
        process of its own costs seconds of imports each)."""
        parsed = build_parser({}).parse_args(self.argv(args, token_file))
        out, err = io.StringIO(), io.StringIO()
        code = await asyncio.to_thread(admin.run, parsed, out, err)
        return Ran(code, out.getvalue(), err.getvalue())

    async def podium_process(self, *args: str) -> Ran:
        """The command as an operator runs it: `podium ...` in a process of its own."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "podium.cli",
            *self.argv(args, None),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode is not None
        return Ran(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with running(tmp_path / "data") as (engine, api):
        assert engine.api.token_path is not None
        url = str(api.client.make_url("")).rstrip("/")
        yield Server(api, url, engine.api.token_path)


async def test_an_operator_makes_a_user_who_can_run_tasks_and_then_disables_it(
    server: Server, tmp_path: Path
) -> None:
    steps = [
        ("user", "add", "ann", "--display-name", "Ann"),
        ("role", "add", "runners", "--description", "run any task"),
        ("role", "grant", "runners", "tasks:run:*"),
        ("role", "assign", "runners", "ann"),
    ]
    for step in steps:
        ran = await (server.podium_process if step[0] == "user" else server.podium)(*step)
        assert ran.code == 0, ran
    said = (await server.podium("role", "list")).out
    assert "runners\ttasks:run:*\tann" in said
    issued = await server.podium_process("token", "issue", "--user", "ann", "--lifetime", "2h")
    assert issued.code == 0, issued
    assert "issued to ann" in issued.err
    ann = Api(server.api.client, issued.out.strip())
    name = await ann.run_task(["n-01"])
    assert (await server.api.ok(f"/jobs/{name}"))["owner"]["login"] == "ann"

    assert (await server.podium("user", "disable", "ann")).code == 0
    status, answer = await ann.get("/jobs")
    assert (status, answer["kind"]) == (401, f"{RBAC}/user-revoked"), answer
    assert "ann\tdisabled\trunners" in (await server.podium("user", "list")).out


async def test_a_revoked_token_stops_working_at_once(server: Server) -> None:
    issued = await server.podium("token", "issue", "--user", "admin", "--label", "ci")
    token_id = issued.err.split()[1]
    holder = Api(server.api.client, issued.out.strip())
    assert (await holder.get("/jobs"))[0] == 200
    ran = await server.podium("token", "revoke", token_id)
    assert (ran.code, ran.err.strip()) == (0, f"token {token_id} of admin revoked")
    status, answer = await holder.get("/jobs")
    assert (status, answer["kind"]) == (401, f"{RBAC}/token-revoked"), answer
    listed = (await server.podium("token", "list")).out
    assert any(line.startswith(f"{token_id}\tadmin\trevoked\tci") for line in listed.splitlines())


async def test_refusals_print_the_servers_kind_and_exit_1(server: Server, tmp_path: Path) -> None:
    ran = await server.podium("role", "grant", "nobody", "tasks:run:*")
    assert (ran.code, ran.out) == (1, "")
    assert f"404 {RBAC}/not-found: No role named nobody" in ran.err
    assert (await server.podium("user", "add", "bob")).code == 0
    again = await server.podium("user", "add", "bob")
    assert again.code == 1
    assert f"409 {RBAC}/conflict" in again.err
    bad = await server.podium("token", "issue", "--user", "bob", "--lifetime", "soon")
    assert bad.code == 1
    assert "lifetime" in bad.err
    stranger = tmp_path / "stranger.token"
    stranger.write_text("nope\n")
    refused = await server.podium("user", "list", token_file=stranger)
    assert refused.code == 1
    assert f"401 {RBAC}/user-unauthenticated" in refused.err


async def test_no_token_file_or_no_server_exits_2(server: Server, tmp_path: Path) -> None:
    missing = await server.podium("user", "list", token_file=tmp_path / "absent")
    assert missing.code == 2
    assert "cannot read the token file" in missing.err
    away = Server(server.api, "http://127.0.0.1:9", server.token_file)
    ran = await away.podium("user", "list")
    assert ran.code == 2
    assert "cannot reach http://127.0.0.1:9" in ran.err
