"""GET /jobs/<a>/diff/<b> over real HTTP, checked against what each job's nodes say, and
`podium job diff` printing it through the real parser and HTTP."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from podium.cli import build_parser, token_sources
from podium.client import commands as client_commands
from podium.jsontypes import Json
from podium.options import build_client_settings
from tests.conftest import Api, running

FLAKY = ["n-01", "flaky-1", "flaky-2", "flaky-3", "flaky-4"]
ORCH = "puppetlabs.orchestrator"


async def outcomes(api: Api, name: str, *keys: str) -> dict[str, dict[str, Json]]:
    """Each node's state and outcome as GET /jobs/<id>/nodes shows them."""
    items = (await api.ok(f"/jobs/{name}/nodes"))["items"]
    shown: dict[str, dict[str, Json]] = {}
    for item in items:
        result = item["result"] if isinstance(item["result"], dict) else {}
        picked = {key: result.get(key) for key in keys} if keys else {"result": item["result"]}
        shown[item["name"]] = {"state": item["state"], **picked}
    return shown


def expected_items(
    a: dict[str, dict[str, Json]], b: dict[str, dict[str, Json]]
) -> list[tuple[str, str, list[str]]]:
    items = []
    for node in sorted(a.keys() | b.keys()):
        if node not in b:
            items.append((node, "only_a", list(a[node])))
        elif node not in a:
            items.append((node, "only_b", list(b[node])))
        elif differing := [key for key in a[node] if a[node][key] != b[node][key]]:
            items.append((node, "differ", differing))
    return items


async def test_two_task_runs_differ_where_their_nodes_states_or_results_do(api: Api) -> None:
    a = await api.run_task(FLAKY)
    b = await api.run_task([*FLAKY[1:], "n-02"])
    await api.wait_job(a)
    await api.wait_job(b)
    diff = await api.ok(f"/jobs/{a}/diff/{b}")
    left, right = await outcomes(api, a), await outcomes(api, b)
    expected = expected_items(left, right)
    assert [(i["node"], i["difference"], i["fields"]) for i in diff["items"]] == expected
    assert any(difference == "differ" for _, difference, _ in expected)  # the sim differs
    for item in diff["items"]:
        assert item["a"] == left.get(item["node"])
        assert item["b"] == right.get(item["node"])
    differ = sum(1 for _, difference, _ in expected if difference == "differ")
    assert diff["counts"] == {
        "same": len(set(left) & set(right)) - differ,
        "differ": differ,
        "only_a": 1,
        "only_b": 1,
    }
    assert (diff["a"]["name"], diff["b"]["name"], diff["type"]) == (a, b, "task")
    assert diff["a"]["id"].endswith(f"/orchestrator/v1/jobs/{a}")
    same = await api.ok(f"/jobs/{a}/diff/{a}")
    assert (same["items"], same["counts"]["same"]) == ([], len(FLAKY))


async def test_two_deploys_differ_by_state_status_and_metrics(api: Api) -> None:
    names = []
    for _ in range(2):
        body = {"environment": "production", "scope": {"nodes": FLAKY}}
        status, answer = await api.post("/command/deploy", body)
        assert status == 202, answer
        names.append(answer["job"]["name"])
    for name in names:
        await api.wait_job(name)
    diff = await api.ok(f"/jobs/{names[0]}/diff/{names[1]}")
    left = await outcomes(api, names[0], "status", "metrics")
    right = await outcomes(api, names[1], "status", "metrics")
    expected = expected_items(left, right)
    assert expected  # seeded per job: the simulated Puppet runs change different amounts
    assert [(i["node"], i["difference"], i["fields"]) for i in diff["items"]] == expected
    assert diff["type"] == "deploy"


async def test_a_diff_of_unknown_mixed_or_hidden_jobs_is_refused(api: Api) -> None:
    task = await api.run_task(["n-01"])
    status, answer = await api.post(
        "/command/deploy", {"environment": "production", "scope": {"nodes": ["n-01"]}}
    )
    deploy = answer["job"]["name"]
    cases = [
        (f"/jobs/{task}/diff/999", 404, "unknown-job"),
        (f"/jobs/999/diff/{task}", 404, "unknown-job"),
        (f"/jobs/{task}/diff/x", 400, "validation-error"),
        (f"/jobs/0/diff/{task}", 400, "validation-error"),
        (f"/jobs/{task}/diff/{deploy}", 400, "validation-error"),
    ]
    for path, status, kind in cases:
        got, answer = await api.get(path)
        assert (got, answer["kind"], set(answer)) == (
            status,
            f"{ORCH}/{kind}",
            {"kind", "msg", "details"},
        ), path
    stranger = await api.as_new_user("stranger", ["tasks:run:*"])
    own = await stranger.run_task(["n-01"])
    got, answer = await stranger.get(f"/jobs/{own}/diff/{task}")
    assert (got, answer["kind"]) == (403, f"{ORCH}/not-permitted")


async def podium_job_diff(api: Api, token_file: Path, a: str, b: str) -> tuple[int, str, str]:
    """`podium job diff A B` through the real parser and HTTP, in a thread of this process."""
    url = str(api.client.make_url("")).rstrip("/")
    argv = ["job", "diff", "--url", url, "--token-file", str(token_file), a, b]
    parsed = build_parser({}).parse_args(argv)
    settings = build_client_settings(vars(parsed))
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(
        client_commands.run, parsed, settings, token_sources(settings.token_file, {}), out, err
    )
    return code, out.getvalue(), err.getvalue()


async def test_podium_job_diff_prints_the_difference_as_a_table(tmp_path: Path) -> None:
    async with running(tmp_path / "data") as (engine, api):
        a = await api.run_task(FLAKY)
        b = await api.run_task([*FLAKY[1:], "n-02"])
        await api.wait_job(a)
        await api.wait_job(b)
        diff = await api.ok(f"/jobs/{a}/diff/{b}")
        token_file = engine.api.token_path
        assert token_file is not None
        code, out, err = await podium_job_diff(api, token_file, a, b)
        assert (code, err) == (0, "")
        lines = out.splitlines()
        counts = diff["counts"]
        assert lines[0] == (
            f"job {a} vs job {b} (task): {counts['differ']} differ, 1 only in {a}, "
            f"1 only in {b}, {counts['same']} same"
        )
        assert lines[2].split() == ["NODE", "JOB", a, "JOB", b, "DIFFERENCE"]
        rows = [line.split(None, 3) for line in lines[3:]]
        assert [row[0] for row in rows] == [item["node"] for item in diff["items"]]
        assert rows[-2][1:] == ["finished", "-", f"only in job {a}"]  # n-01
        assert rows[-1][1:] == ["-", "finished", f"only in job {b}"]  # n-02
        code, out, err = await podium_job_diff(api, token_file, a, "999")
        assert (code, out) == (2, "")
        assert err == "podium job diff: No job named 999\n"
