"""A configured PuppetDB answers `query` scopes (sent unchanged) and node groups (their rules
translated), and holds the facts `GET /inventory/<node>` shows; its failures become the
orchestrator's error kinds. test_puppet runs all of it against a real PuppetDB; here a small
fake one on loopback checks what is sent and stands in for the faults a real one cannot be made
to produce (500s, answers that are not rows, TLS refusals)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from podium.api.errors import PuppetDbError
from podium.api.puppetdb import PuppetDb
from podium.api.settings import PuppetDbSettings
from podium.jsontypes import Json
from podium.node_groups import load_node_groups
from podium.queries import rule_query
from tests.conftest import FLEET, Api, running
from tests.integration.test_api_commands import expect_error, job_count

WEB_01: Final = "web-01.example.com"
GROUPS: Final = load_node_groups(FLEET / "node_groups.yaml")


@dataclass
class FakePuppetDb:
    """Answers POST /pdb/query/v4 as the test says, and keeps every query it was sent."""

    rows: Json = field(default_factory=list)
    status: int = 200
    text: str = ""
    body: bytes | None = None  # answered as it is, whatever the status, when set
    queries: list[Json] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/pdb/query/v4", self.query)
        return app

    async def query(self, request: web.Request) -> web.Response:
        self.queries.append((await request.json())["query"])
        if self.body is not None:
            return web.Response(status=self.status, body=self.body)
        if self.status != 200:
            return web.Response(status=self.status, text=self.text)
        return web.json_response(self.rows)


@pytest.fixture
async def puppetdb() -> AsyncIterator[tuple[FakePuppetDb, str]]:
    fake = FakePuppetDb()
    async with TestServer(fake.app(), host="127.0.0.1") as server:
        yield fake, f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def api(tmp_path: Path, puppetdb: tuple[FakePuppetDb, str]) -> AsyncIterator[Api]:
    fleet = FLEET / "inventory.yaml"
    async with running(tmp_path / "data", inventory=fleet, puppetdb_url=puppetdb[1]) as (_, client):
        yield client


def task(query: Json) -> Json:
    return {"task": "testmod::echo", "params": {}, "scope": {"query": query}}


@pytest.mark.parametrize(
    "query",
    [
        ["from", "nodes", ["~", "certname", "^web-01"]],
        'nodes[certname] { certname ~ "^web-01" }',
        "reports[certname] { status = 'failed' }",  # PuppetDB's entities, not only Podium's
    ],
)
async def test_a_query_goes_to_puppetdb_unchanged_and_its_certnames_are_the_targets(
    api: Api, puppetdb: tuple[FakePuppetDb, str], query: Json
) -> None:
    fake, _ = puppetdb
    fake.rows = [{"certname": WEB_01, "name": "a"}, {"certname": WEB_01}, {"certname": "ghost"}]
    status, answer = await api.post("/command/task", task(query))
    assert status == 202, answer
    assert fake.queries == [query]
    job = await api.wait_job(answer["job"]["name"])
    nodes = (await api.ok(f"/jobs/{job['name']}/nodes"))["items"]
    assert sorted(n["name"] for n in nodes) == ["ghost", WEB_01]
    assert job["node_states"] == {"finished": 2}


async def test_puppetdb_refusing_a_query_is_a_query_error_with_its_message(
    api: Api, puppetdb: tuple[FakePuppetDb, str]
) -> None:
    fake, _ = puppetdb
    fake.status, fake.text = 400, "PQL parse error at line 1, column 7"
    answer = await expect_error(api, "/command/task", task("nodes {"), 400, "query-error")
    assert "PQL parse error at line 1, column 7" in answer["msg"]
    assert await job_count(api) == 0


@pytest.mark.parametrize("status", [500, 503])
async def test_puppetdb_failing_is_a_puppetdb_error(
    api: Api, puppetdb: tuple[FakePuppetDb, str], status: int
) -> None:
    fake, _ = puppetdb
    fake.status, fake.text = status, "database is down"
    body = {"environment": "production", "scope": {"query": "nodes {}"}}
    answer = await expect_error(api, "/command/deploy", body, 400, "puppetdb-error")
    assert f"PuppetDB answered {status}: database is down" == answer["msg"]


@pytest.mark.parametrize(
    ("rows", "kind", "message"),
    [
        ([{"name": "kernel"}], "query-error", "must return certname"),
        ({"certname": "x"}, "puppetdb-error", "not a list of rows"),
        ([], "empty-target", "matches no node"),
    ],
)
async def test_an_answer_that_names_no_certnames_is_refused(
    api: Api, puppetdb: tuple[FakePuppetDb, str], rows: Json, kind: str, message: str
) -> None:
    puppetdb[0].rows = rows
    answer = await expect_error(api, "/command/task", task("facts {}"), 400, kind)
    assert message in answer["msg"]


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (200, b'[{"certname": "caf\xe9"}]', "puppetdb-error", "PuppetDB's answer is not UTF-8"),
        (200, b"[" * 100_000 + b"]" * 100_000, "puppetdb-error", "PuppetDB's answer is not JSON"),
        (400, b"bad query \xff", "query-error", "PuppetDB refused the query: bad query \ufffd"),
        (503, b"down \xff", "puppetdb-error", "PuppetDB answered 503: down \ufffd"),
    ],
)
async def test_an_answer_that_cannot_be_read_is_refused_not_a_server_error(
    api: Api,
    puppetdb: tuple[FakePuppetDb, str],
    status: int,
    body: bytes,
    kind: str,
    message: str,
) -> None:
    puppetdb[0].status, puppetdb[0].body = status, body
    answer = await expect_error(api, "/command/task", task("nodes {}"), 400, kind)
    assert answer["msg"].startswith(message)


async def test_an_answer_larger_than_the_limit_is_a_puppetdb_error(
    puppetdb: tuple[FakePuppetDb, str],
) -> None:
    fake, url = puppetdb
    fake.rows = [{"certname": f"node-{n:04d}"} for n in range(100)]  # about 2.5 KB
    client = PuppetDb(PuppetDbSettings(url, max_answer_bytes=1024))
    session = client.session_context(web.Application())
    await anext(session)
    try:
        with pytest.raises(PuppetDbError, match="larger than 1024 bytes"):
            await client.certnames("nodes {}")
        fake.rows = fake.rows[:10]
        assert len(await client.certnames("nodes {}")) == 10
    finally:
        await anext(session, None)


async def test_an_unreachable_puppetdb_is_a_puppetdb_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with running(tmp_path / "data", puppetdb_url=f"http://127.0.0.1:{port}") as (_, api):
        answer = await expect_error(api, "/command/task", task("nodes {}"), 400, "puppetdb-error")
        assert "could not be reached" in answer["msg"]


async def test_a_node_group_goes_to_puppetdb_as_its_translated_rules(
    api: Api, puppetdb: tuple[FakePuppetDb, str]
) -> None:
    """test_puppet has a real PuppetDB evaluate them; here, what is sent and its failures."""
    fake, _ = puppetdb
    group = "6f1c4f0e-1b1a-4c3e-9d7e-000000000002"  # Web servers, below Linux
    body = {"task": "testmod::echo", "params": {}, "scope": {"node_group": group}}
    fake.rows = [{"certname": "only-in-puppetdb"}]
    status, answer = await api.post("/command/task", body)
    assert status == 202, answer
    rules = GROUPS.get(group)
    assert rules is not None
    assert fake.queries == [rule_query(rules.rule_with_inherited)]
    job = await api.wait_job(answer["job"]["name"])
    nodes = (await api.ok(f"/jobs/{job['name']}/nodes"))["items"]
    assert [node["name"] for node in nodes] == ["only-in-puppetdb"]
    fake.rows = []
    answer = await expect_error(api, "/command/task", body, 400, "empty-target")
    assert answer["msg"] == "Node group Web servers has no nodes in PuppetDB"
    fake.status, fake.text = 503, "database is down"
    await expect_error(api, "/command/task", body, 400, "puppetdb-error")


async def test_a_task_targets_node_groups_are_evaluated_by_puppetdb(
    api: Api, puppetdb: tuple[FakePuppetDb, str]
) -> None:
    """A user allowed a task on a node group's members only: PuppetDB says who they are."""
    fake, _ = puppetdb
    group = "6f1c4f0e-1b1a-4c3e-9d7e-000000000002"
    target = {"display_name": "web", "tasks": ["testmod::echo"], "node_groups": [group]}
    status, answer = await api.post("/command/task_target", target)
    assert status == 200, answer
    task_target = answer["task_target"]["name"]
    runner = await api.as_new_user("runner", [f"tasks:run_with_constraints:{task_target}"])
    fake.rows = [{"certname": "only-in-puppetdb"}]
    body = {"task": "testmod::echo", "params": {}, "scope": {"nodes": ["only-in-puppetdb"]}}
    status, answer = await runner.post("/command/task", body)
    assert status == 202, answer
    rules = GROUPS.get(group)
    assert rules is not None
    assert fake.queries == [rule_query(rules.rule_with_inherited)]
    fake.rows = [{"certname": "someone-else"}]
    status, answer = await runner.post("/command/task", body)
    assert (status, answer["kind"]) == (403, "puppetlabs.orchestrator/not-permitted")


async def test_facts_of_a_node_come_from_puppetdb(
    api: Api, puppetdb: tuple[FakePuppetDb, str]
) -> None:
    fake, _ = puppetdb
    fake.rows = [{"facts": {"kernel": "Linux", "role": "db"}}]
    item = await api.ok(f"/inventory/{WEB_01}")
    assert item["facts"] == {"kernel": "Linux", "role": "db"}  # PuppetDB's, not the inventory's
    assert fake.queries == [
        ["from", "inventory", ["extract", ["facts"], ["=", "certname", WEB_01]]]
    ]
    fake.rows = []
    assert (await api.ok("/inventory/ghost"))["facts"] == {}
    fake.status = 500
    status, answer = await api.get(f"/inventory/{WEB_01}")
    assert (status, answer["kind"]) == (400, "puppetlabs.orchestrator/puppetdb-error")


# TLS: PuppetDB's usual set-up, a private CA and client certificates.


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def issue(pki: Path, name: str, usage: str) -> None:
    """A key and a certificate for `name`, signed by the test CA in `pki`."""
    (pki / f"{name}.ext").write_text(
        f"basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage={usage}\n"
        "subjectAltName=IP:127.0.0.1\nsubjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(pki / f"{name}.key"), "-out", str(pki / f"{name}.csr"),
        "-subj", f"/CN={name}",
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", str(pki / f"{name}.csr"), "-CA", str(pki / "ca.crt"),
        "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "1",
        "-out", str(pki / f"{name}.crt"), "-extfile", str(pki / f"{name}.ext"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.fail("the TLS tests need the openssl command to make certificates")
    pki = tmp_path_factory.mktemp("pki")
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"), "-days", "1",
        "-subj", "/CN=Podium test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    issue(pki, "puppetdb", "serverAuth")
    issue(pki, "podium", "clientAuth")
    return pki


async def test_puppetdb_over_tls_takes_the_ca_and_a_client_certificate(
    tmp_path: Path, pki: Path
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "puppetdb.crt"), str(pki / "puppetdb.key"))
    context.verify_mode = ssl.CERT_REQUIRED  # PuppetDB wants the client's certificate
    fake = FakePuppetDb(rows=[{"certname": "lab-01"}])
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    url = f"https://127.0.0.1:{port}"
    try:
        client = {"puppetdb_cert": pki / "podium.crt", "puppetdb_key": pki / "podium.key"}
        ca = pki / "ca.crt"
        async with running(tmp_path / "1", puppetdb_url=url, puppetdb_ca=ca, **client) as (_, api):
            status, answer = await api.post("/command/task", task("nodes {}"))
            assert status == 202, answer
        async with running(tmp_path / "2", puppetdb_url=url, puppetdb_ca=ca) as (_, api):
            await expect_error(api, "/command/task", task("nodes {}"), 400, "puppetdb-error")
        async with running(tmp_path / "3", puppetdb_url=url) as (_, api):  # trusts no CA here
            answer = await expect_error(
                api, "/command/task", task("nodes {}"), 400, "puppetdb-error"
            )
            assert "certificate" in answer["msg"].lower()
    finally:
        await runner.cleanup()
    assert fake.queries == ["nodes {}"]  # only the client with a certificate got through
