"""Reading jobs back: lists with pagination, one job with its status history, nodes, report,
events with `start` and `next-events`; and authentication."""

from __future__ import annotations

import pytest

from tests.conftest import Api

ORCH = "puppetlabs.orchestrator"


async def finished_jobs(api: Api, count: int) -> list[str]:
    names = [await api.run_task(["n-01", "n-02"]) for _ in range(count)]
    for name in names:
        await api.wait_job(name)
    return names


async def test_jobs_list_pages_and_sorts(api: Api) -> None:
    await finished_jobs(api, 3)
    status, _ = await api.post(
        "/command/deploy", {"environment": "production", "scope": {"nodes": ["n-03"]}}
    )
    assert status == 202
    everything = await api.ok("/jobs")
    assert [job["name"] for job in everything["items"]] == ["1", "2", "3", "4"]
    assert everything["pagination"] == {
        "limit": None,
        "offset": 0,
        "order": "asc",
        "order_by": "timestamp",
        "total": 4,
        "type": "",
    }
    page = await api.ok("/jobs?limit=2&offset=1&order_by=name&order=desc")
    assert [job["name"] for job in page["items"]] == ["3", "2"]
    assert page["pagination"]["total"] == 4
    tasks = await api.ok("/jobs?type=task")
    assert [job["type"] for job in tasks["items"]] == ["task"] * 3
    assert tasks["pagination"]["type"] == "task"
    deploys = await api.ok("/jobs?type=deploy")
    assert [job["name"] for job in deploys["items"]] == ["4"]
    matching = await api.ok("/jobs?task=echo")
    assert matching["pagination"]["total"] == 3
    none = await api.ok("/jobs?task=nothing-like-this")
    assert none == {"items": [], "pagination": {**none["pagination"], "total": 0}}


async def test_bounds_past_sqlites_integers_read_archived_jobs_as_any_big_bound_does(
    api: Api,
) -> None:
    """Ended jobs are read from the projection (SQLite), whose integers stop at 2**63 - 1:
    schemathesis found GET /jobs?limit=<27 digits> answered 500 there."""
    names = await finished_jobs(api, 2)
    huge = "585301206964275492740399104"
    everything = await api.ok(f"/jobs?limit={huge}&order_by=name")
    assert [job["name"] for job in everything["items"]] == names
    beyond = await api.ok(f"/jobs?limit=5&offset={huge}&order_by=name&order=desc")
    assert beyond["items"] == []
    assert beyond["pagination"]["total"] == 2
    events = await api.ok(f"/jobs/{names[0]}/events?start={huge}")
    assert events["items"] == []


async def test_jobs_filter_on_their_finish_time(api: Api) -> None:
    await finished_jobs(api, 2)
    assert (await api.ok("/jobs?min_finish_timestamp=2000-01-01T00:00:00Z"))["pagination"][
        "total"
    ] == 2
    assert (await api.ok("/jobs?max_finish_timestamp=2000-01-01T00:00:00"))["pagination"][
        "total"
    ] == 0


@pytest.mark.parametrize(
    "query",
    [
        "limit=x",
        "limit=-1",
        "offset=1.5",
        "order=up",
        "order_by=colour",
        "type=plan",
        "type=deploy&task=x",
        "min_finish_timestamp=yesterday",
    ],
)
async def test_bad_list_parameters_are_a_validation_error(api: Api, query: str) -> None:
    status, answer = await api.get(f"/jobs?{query}")
    assert (status, answer["kind"]) == (400, f"{ORCH}/validation-error")


async def test_a_job_shows_its_status_history_oldest_first(api: Api) -> None:
    (name,) = await finished_jobs(api, 1)
    job = await api.ok(f"/jobs/{name}")
    assert [entry["state"] for entry in job["status"]] == ["new", "ready", "running", "finished"]
    assert job["status"][-1]["exit_time"] is None
    assert all(entry["exit_time"] for entry in job["status"][:-1])
    assert job["node_states"] == {"finished": 2}
    assert job["owner"]["login"] == "admin"
    assert job["duration"] is not None
    assert job["finished_timestamp"].endswith("Z")
    for link in ("nodes", "report", "events"):
        assert job[link]["id"].endswith(f"/jobs/{name}/{link}")


@pytest.mark.parametrize("suffix", ["", "/nodes", "/report", "/events"])
async def test_job_paths_refuse_bad_ids_and_unknown_jobs(api: Api, suffix: str) -> None:
    status, answer = await api.get(f"/jobs/abc{suffix}")
    assert (status, answer["kind"]) == (400, f"{ORCH}/validation-error")
    status, answer = await api.get(f"/jobs/42{suffix}")
    assert (status, answer["kind"]) == (404, f"{ORCH}/unknown-job")


async def test_nodes_have_results_timestamps_and_their_latest_event(api: Api) -> None:
    name = await api.run_task(
        ["localhost", "n-01"], task="testmod::envecho", params={"message": "hi"}
    )
    await api.wait_job(name)
    answer = await api.ok(f"/jobs/{name}/nodes")
    items = {item["name"]: item for item in answer["items"]}
    local = items["localhost"]
    assert local["state"] == "finished"
    assert local["transport"] == "local"
    assert local["result"] == {"message": "hi", "task": "testmod::envecho", "noop": ""}
    assert local["details"] == {"message": "Finished task run on localhost"}
    assert isinstance(local["latest-event-id"], int)
    assert items["n-01"]["transport"] == "sim"
    events = await api.ok(f"/jobs/{name}/events")
    last = int(events["items"][-1]["id"])
    assert answer["next-events"]["event"] == str(last + 1)
    assert answer["next-events"]["id"].endswith(f"/jobs/{name}/events?start={last + 1}")
    assert answer["pagination"]["total"] == 2
    only_local = await api.ok(f"/jobs/{name}/nodes?order_by=name&order=desc&limit=1")
    assert [item["name"] for item in only_local["items"]] == ["n-01"]
    assert (await api.ok(f"/jobs/{name}/nodes?state=failed"))["items"] == []


async def test_events_page_on_their_ids_and_end_with_job_finished(api: Api) -> None:
    name = await api.run_task(["n-01", "n-02", "n-03"])
    await api.wait_job(name)
    answer = await api.ok(f"/jobs/{name}/events")
    items = answer["items"]
    ids = [int(item["id"]) for item in items]
    assert ids == sorted(ids)
    assert [item["type"] for item in items].count("node_running") == 3
    assert [item["type"] for item in items].count("node_finished") == 3
    assert items[-1]["type"] == "job_finished"
    assert items[-1]["details"] == {"state": "finished"}
    assert items[-1]["message"] == f"Job {name} finished"
    running = next(item for item in items if item["type"] == "node_running")
    assert running["details"]["detail"] == {"noop": False}
    assert answer["next-events"]["event"] == str(ids[-1] + 1)

    later = await api.ok(f"/jobs/{name}/events?start={ids[2]}")
    assert [int(item["id"]) for item in later["items"]] == ids[2:]  # start is inclusive
    after = await api.ok(f"/jobs/{name}/events?start={ids[-1] + 1}")
    assert after["items"] == []
    assert after["next-events"]["event"] == str(ids[-1] + 1)
    status, bad = await api.get(f"/jobs/{name}/events?start=0")
    assert (status, bad["kind"]) == (400, f"{ORCH}/validation-error")


async def test_the_report_lists_each_node_with_its_events(api: Api) -> None:
    name = await api.run_task(["n-01", "n-02"])
    await api.wait_job(name)
    report = await api.ok(f"/jobs/{name}/report")
    assert [item["node"] for item in report["items"]] == ["n-01", "n-02"]
    for item in report["items"]:
        assert item["state"] == "finished"
        assert [event["type"] for event in item["events"]] == ["node_running", "node_finished"]
        assert all(event["details"]["node"] == item["node"] for event in item["events"])


async def test_every_endpoint_but_status_needs_a_valid_token(api: Api) -> None:
    for headers in ({}, {"X-Authentication": "wrong"}):
        for method, path in (
            ("GET", "/orchestrator/v1/jobs"),
            ("POST", "/orchestrator/v1/command/stop"),
            ("GET", "/orchestrator/v1/nowhere"),
        ):
            response = await api.client.request(method, path, headers=headers, json={"job": "1"})
            answer = await response.json()
            assert (response.status, answer["kind"]) == (
                401,
                "puppetlabs.rbac/user-unauthenticated",
            )
    response = await api.client.get("/status/v1/simple")
    assert (response.status, await response.text()) == (200, "running")
    response = await api.client.get("/status/v1/services")
    assert (await response.json())["orchestrator-service"]["state"] == "running"


async def test_unknown_paths_and_methods_answer_in_the_error_format(api: Api) -> None:
    status, answer = await api.get("/nowhere")
    assert (status, answer["kind"]) == (404, f"{ORCH}/not-found")
    response = await api.client.delete("/orchestrator/v1/jobs", headers=api.headers)
    assert response.status == 405
    assert (await response.json())["kind"] == f"{ORCH}/method-not-allowed"


async def test_the_root_links_the_commands(api: Api) -> None:
    root = await api.ok("")
    assert {c["name"] for c in root["commands"]} >= {"deploy", "task", "stop"}


async def test_metrics_count_jobs_nodes_and_answers_in_the_prometheus_format(api: Api) -> None:
    name = await api.run_task(["n-01", "n-02"])
    await api.wait_job(name)
    await api.get("/jobs/99")
    response = await api.client.get("/metrics", headers=api.headers)
    assert response.status == 200
    text = await response.text()
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert samples['podium_jobs{state="finished"}'] == "1"
    assert samples['podium_jobs{state="running"}'] == "0"
    assert samples["podium_runs_in_flight"] == "0"
    assert int(samples["podium_log_position"]) > 0
    key = (
        'podium_http_responses_total{method="GET",route="/orchestrator/v1/jobs/{id}",status="404"}'
    )
    assert samples[key] == "1"
    anonymous = await api.client.get("/metrics")
    assert anonymous.status == 401


async def test_environments_are_listed_and_read_one_by_one(api: Api) -> None:
    base = "http://" + api.client.host + f":{api.client.port}/orchestrator/v1"
    listed = await api.ok("/environments")
    assert {"name": "test-env-1", "id": f"{base}/environments/test-env-1"} in listed["items"]
    assert [item["name"] for item in listed["items"]] == ["production", "test-env-1"]
    assert await api.ok("/environments/production") == {
        "name": "production",
        "id": f"{base}/environments/production",
    }
    for name, status, kind in (
        ("nowhere", 404, "unknown-environment"),
        (".x", 400, "validation-error"),
    ):
        got, answer = await api.get(f"/environments/{name}")
        assert (got, answer["kind"]) == (status, f"{ORCH}/{kind}")
