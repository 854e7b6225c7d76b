"""Server-Sent Events: a job's event stream and the global one, with resumption."""

from __future__ import annotations

import asyncio
import json

from aiohttp import ClientResponse

from podium.jsontypes import Json
from tests.conftest import Api

STREAM = {"Accept": "text/event-stream"}


async def read_events(response: ClientResponse, count: int | None = None) -> list[Json]:
    """Parse SSE frames until the stream ends (or `count` events arrived)."""
    events: list[Json] = []
    frame: dict[str, str] = {}
    async with asyncio.timeout(20):
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                continue
            if line:
                key, _, value = line.partition(": ")
                frame[key] = value
                continue
            if frame:
                data = json.loads(frame["data"])
                assert frame["id"] == data["id"]
                assert frame["event"] == data["type"]
                events.append(data)
                frame = {}
                if count is not None and len(events) == count:
                    break
    return events


async def stream(api: Api, path: str, **headers: str) -> ClientResponse:
    response = await api.client.get(
        f"/orchestrator/v1{path}", headers={**api.headers, **STREAM, **headers}
    )
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return response


async def test_a_jobs_stream_carries_every_event_and_ends_with_job_finished(api: Api) -> None:
    name = await api.run_task(["slow-1", "n-01", "n-02"], concurrency=2)
    response = await stream(api, f"/jobs/{name}/events")
    await api.wait_node_state(name, "running", 1)
    await api.post("/command/stop", {"job": name, "force": True})
    streamed = await read_events(response)
    polled = (await api.ok(f"/jobs/{name}/events"))["items"]
    assert streamed == polled
    assert streamed[-1]["type"] == "job_finished"


async def test_a_stream_resumes_after_the_last_event_id(api: Api) -> None:
    name = await api.run_task(["n-01", "n-02"])
    await api.wait_job(name)
    everything = await read_events(await stream(api, f"/jobs/{name}/events"))
    assert everything[-1]["type"] == "job_finished"
    rest = await read_events(
        await stream(api, f"/jobs/{name}/events", **{"Last-Event-ID": everything[1]["id"]})
    )
    assert rest == everything[2:]
    from_start = await read_events(await stream(api, f"/jobs/{name}/events?start=999999"))
    assert from_start == []  # an ended job with nothing after `start`: the stream just ends


async def test_the_global_stream_follows_new_events_with_filters(api: Api) -> None:
    first = await api.run_task(["n-01"])
    await api.wait_job(first)
    response = await stream(api, "/events?type=job_finished")
    names = [await api.run_task(["n-02"]) for _ in range(2)]
    events = await read_events(response, count=2)
    assert [e["type"] for e in events] == ["job_finished", "job_finished"]
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids)
    for name in names:
        await api.wait_job(name)
    response.close()
    replay = await read_events(await stream(api, "/events?start=1&job=1"), count=3)
    assert [e["type"] for e in replay] == ["node_running", "node_finished", "job_finished"]


async def test_the_global_events_without_the_stream_header_are_a_json_page(api: Api) -> None:
    name = await api.run_task(["n-01"])
    await api.wait_job(name)
    page = await api.ok("/events")
    polled = (await api.ok(f"/jobs/{name}/events"))["items"]
    assert [{k: v for k, v in e.items() if k != "job"} for e in page["items"]] == polled
    assert {e["job"]["name"] for e in page["items"]} == {name}
    assert int(page["next-events"]["event"]) > int(polled[-1]["id"])
