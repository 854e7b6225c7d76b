"""Input that once got a 500 or an answer that is not JSON: each is a 400 validation-error that
names the field, and nothing reaches the log."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from podium.engine import Engine
from tests.conftest import Api

TASK = {"task": "testmod::echo", "params": {}, "scope": {"nodes": ["n-01"]}}
HUGE = 2**64
DIGITS = "7" * 4400  # past Python's int() limit of 4,300 digits


async def refused(api: Api, response_status: int, body: Any, field: str) -> None:
    assert response_status == 400, body
    assert body["kind"] == "puppetlabs.orchestrator/validation-error", body
    assert field in body["msg"], body


async def raw(api: Api, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    response = await api.client.request(method, f"/orchestrator/v1{path}", **kwargs)
    text = await response.text()
    return response.status, json.loads(text)  # always JSON, whatever the status


async def test_non_utf8_bytes_in_the_token_header(api: Api) -> None:
    # aiohttp's client insists on str headers; send the raw bytes over a socket instead.
    server = api.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"GET /orchestrator/v1/jobs HTTP/1.1\r\nHost: x\r\nX-Authentication: \xff\xfe\x80\r\n"
        b"Connection: close\r\n\r\n"
    )
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer
    error = json.loads(body)
    assert error["kind"] == "puppetlabs.orchestrator/validation-error"
    assert "X-Authentication" in error["msg"]


@pytest.mark.parametrize("path", [f"/jobs/{DIGITS}", f"/jobs/{DIGITS}/nodes"])
async def test_a_job_id_of_thousands_of_digits(api: Api, path: str) -> None:
    status, body = await raw(api, "GET", path, headers=api.headers)
    await refused(api, status, body, "id")


async def test_a_stop_of_a_job_id_of_thousands_of_digits(api: Api) -> None:
    status, body = await api.post_raw("/command/stop", f'{{"job": "{DIGITS}"}}'.encode())
    await refused(api, status, body, "job")
    status, body = await api.post_raw("/command/stop", f'{{"job": {DIGITS}}}'.encode())
    assert status == 400, body


async def test_a_last_event_id_of_thousands_of_digits(api: Api) -> None:
    job = await api.run_task(["n-01"])
    headers = {**api.headers, "Accept": "text/event-stream", "Last-Event-ID": DIGITS}
    for path in (f"/jobs/{job}/events", "/events"):
        status, body = await raw(api, "GET", path, headers=headers)
        await refused(api, status, body, "Last-Event-ID")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TASK, "concurrency": HUGE}, "concurrency"),
        ({**TASK, "timeout": HUGE}, "timeout"),
        ({**TASK, "userdata": {"a": {"b": [1, HUGE]}}}, "userdata.a.b.1"),
        ({**TASK, "userdata": {"a": -HUGE}}, "userdata.a"),
        ({**TASK, "params": {"n": HUGE}}, "params.n"),
    ],
)
async def test_integers_too_big_for_the_log(
    engine: Engine, api: Api, body: Any, field: str
) -> None:
    jobs = jobs_on_log(engine)
    status, answer = await api.post("/command/task", body)
    await refused(api, status, answer, field)
    assert jobs_on_log(engine) == jobs


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
async def test_numbers_json_cannot_carry(engine: Engine, api: Api, number: str) -> None:
    jobs = jobs_on_log(engine)
    text = json.dumps({**TASK, "userdata": {"x": "PLACEHOLDER"}})
    status, answer = await api.post_raw(
        "/command/task", text.replace('"PLACEHOLDER"', number).encode()
    )
    assert status == 400, answer
    assert answer["kind"] == "puppetlabs.orchestrator/validation-error"
    assert jobs_on_log(engine) == jobs
    assert (await api.ok("/jobs"))["items"] == []  # nothing was served as NaN/Infinity


async def test_a_deploy_with_a_huge_concurrency(api: Api) -> None:
    body = {"environment": "production", "scope": {"nodes": ["n-01"]}, "concurrency": HUGE}
    status, answer = await api.post("/command/deploy", body)
    await refused(api, status, answer, "concurrency")


def jobs_on_log(engine: Engine) -> int:
    return len(engine.projector.state.jobs)
