"""`podium events export --since N --format jsonl`, and the SSE /events stream resumed with
Last-Event-ID: a forwarder that resumes after the last id it shipped gets every event once."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from podium.cli import build_parser, token_sources
from podium.client import commands as client_commands
from podium.engine import Engine
from podium.jsontypes import Json
from podium.options import build_client_settings
from tests.conftest import Api, running
from tests.integration.test_streams import read_events, stream


async def export(engine: Engine, api: Api, *args: str) -> tuple[list[Json], str]:
    """The command through the real parser and HTTP: its lines, parsed, and its stderr."""
    assert engine.api.token_path is not None
    url = str(api.client.make_url("")).rstrip("/")
    where = ["--url", url, "--token-file", str(engine.api.token_path)]
    parsed = build_parser({}).parse_args(["events", "export", *where, *args])
    settings = build_client_settings(vars(parsed))
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(
        client_commands.run, parsed, settings, token_sources(settings.token_file, {}), out, err
    )
    assert code == 0, err.getvalue()
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


async def every_event(api: Api) -> list[Json]:
    """Every job's events, as each job's own list has them, in id order, naming the job."""
    events = []
    for job in (await api.ok("/jobs"))["items"]:
        for event in (await api.ok(f"/jobs/{job['name']}/events"))["items"]:
            events.append({**event, "job": {"id": job["id"], "name": job["name"]}})
    return sorted(events, key=lambda event: int(event["id"]))


async def run_jobs(api: Api, count: int) -> None:
    for _ in range(count):
        await api.wait_job(await api.run_task(["n-01", "n-02", "n-03"]))


async def test_an_export_resumed_since_the_last_id_misses_nothing_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    async with running(tmp_path / "data") as (engine, api):
        await run_jobs(api, 3)
        first, said = await export(engine, api, "--since", "0", "--format", "jsonl")
        assert first == await every_event(api)
        assert (
            said.strip() == f"{len(first)} events exported; resume with --since {first[-1]['id']}"
        )
        await run_jobs(api, 2)
        rest, _ = await export(engine, api, "--since", first[-1]["id"], "--page-size", "4")
        assert rest
        assert first + rest == await every_event(api)  # no gap, no duplicate, in id order
        none, said = await export(engine, api, "--since", rest[-1]["id"])
        assert (none, said.strip()) == ([], "0 events exported")
        paged, _ = await export(engine, api, "--page-size", "1")
        assert paged == first + rest
        finished, _ = await export(engine, api, "--type", "job_finished", "--job", "2")
        assert [(e["type"], e["job"]["name"]) for e in finished] == [("job_finished", "2")]


async def test_a_page_ends_where_the_log_was_and_says_where_the_next_begins(api: Api) -> None:
    await run_jobs(api, 2)
    everything = await every_event(api)
    page = await api.ok("/events?start=1&limit=3")
    assert page["items"] == everything[:3]
    assert page["next-events"]["event"] == str(int(everything[2]["id"]) + 1)
    tail = await api.ok(f"/events?start={page['next-events']['event']}")
    assert page["items"] + tail["items"] == everything
    assert int(tail["next-events"]["event"]) > int(everything[-1]["id"])
    for query in ("start=0", "start=x", "limit=0", "limit=-1"):
        status, answer = await api.get(f"/events?{query}")
        assert (status, answer["kind"]) == (400, "puppetlabs.orchestrator/validation-error")


async def test_the_sse_stream_resumed_with_last_event_id_misses_nothing(api: Api) -> None:
    await run_jobs(api, 2)
    before = await every_event(api)
    response = await stream(api, "/events", **{"Last-Event-ID": "0"})
    seen = await read_events(response, count=len(before) - 2)  # stops part-way
    response.close()
    await run_jobs(api, 2)
    after = await every_event(api)
    resumed = await stream(api, "/events", **{"Last-Event-ID": seen[-1]["id"]})
    seen += await read_events(resumed, count=len(after) - len(seen))
    resumed.close()
    assert seen == after
