"""Every JSON example of the command endpoint's spec, posted as printed, gets the spec's answer.

The examples are read at test time from tests/data/spec/command-endpoint.md, a verbatim copy
of the spec (a test keeps the copy equal to the spec where the spec is at hand). The only edits
are to text that is not JSON at all (NOT_JSON). A request example is posted to its section's
endpoint and must get the status and error kind of EXPECTED; a 2xx answer must have the keys
of the section's answer example, with an `id` that is the example's URL naming the answer's
resource (the public URL is the spec's host, so the URLs compare whole).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest

from podium.jsontypes import Json
from tests.conftest import DATA, ENVIRONMENTS, Api, running

SPEC: Final = DATA / "spec" / "command-endpoint.md"
PUBLIC_URL: Final = "https://orchestrator.example.com:8143"  # the host of the spec's answers
ORCH: Final = "puppetlabs.orchestrator"

# Endpoints the spec has examples for that are not built yet. Each answers 404 (`not-found`)
# until the issue that builds it deletes its line here; its examples then get the answers of
# EXPECTED below.
NOT_BUILT_YET: Final[dict[str, str]] = {}

# What the spec prints that is not JSON, and the least edit that makes it JSON: the deploy
# answer misses a comma, and each task_target request misses one between two node names.
NOT_JSON: Final = [
    ("POST /command/deploy", '/jobs/1234"\n', '/jobs/1234",\n'),
    ("POST /command/task_target", '"node1" "node2"', '"node1", "node2"'),
]


@dataclass(frozen=True, slots=True)
class Posted:
    """The spec's answer to a request example: a status, and an error's kind for a 4xx."""

    status: int
    kind: str | None = None
    fields: frozenset[str] = frozenset()  # what a validation error must name


ANSWER: Final = None  # an answer example: the shape of its section's 2xx answers

# Each section's JSON values in the order the spec prints them.
EXPECTED: Final[dict[str, list[Posted | None]]] = {
    "POST /command/deploy": [Posted(202)] * 5 + [ANSWER],
    "POST /command/stop": [Posted(202), ANSWER],
    # Examples 1-4 show scopes (one says "to deploy an application"): they lack `task` and
    # `params`, which the section's table says are required, so as printed they are refused.
    # test_the_task_sections_scopes_work_as_a_tasks_scope runs their scopes in a task.
    "POST /command/task": [Posted(202)]
    + [Posted(400, "validation-error", frozenset({"task", "params"}))] * 4
    + [ANSWER],
    # The second request's `"all_tasks": "true"` is a string: refused (reference §6).
    "POST /command/task_target": [
        Posted(200),
        Posted(400, "validation-error", frozenset({"all_tasks"})),
        ANSWER,
    ],
    # 202 while its scheduled_time (2027-05-05T19:50:08Z) is ahead; `invalid-time` after.
    "POST /command/schedule_task": [Posted(202), ANSWER],
    "POST /command/plan_run": [Posted(202), ANSWER],
}


@dataclass(frozen=True, slots=True)
class Example:
    section: str  # the heading it is printed under, e.g. "POST /command/deploy"
    number: int  # its place among the section's JSON values, from 0
    text: str  # as printed (after NOT_JSON)

    @property
    def value(self) -> Json:
        return json.loads(self.text)

    @property
    def path(self) -> str:
        return self.section.removeprefix("POST ")

    @property
    def id(self) -> str:
        return f"{self.path.removeprefix('/command/')}-{self.number}"


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Each fenced block's text (dedented) with the heading it is under."""
    blocks: list[tuple[str, str]] = []
    section = ""
    block: list[str] | None = None  # the lines of the block being read
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            section = line[3:].strip().replace("\\_", "_")
        elif line.strip().startswith("```"):
            if block is None:
                block = []
            else:
                blocks.append((section, textwrap.dedent("".join(block))))
                block = None
        elif block is not None:
            block.append(line)
    return blocks


def json_texts(block: str) -> list[str]:
    """The text of each JSON value of a block, one after the other (a block may print two)."""
    decoder, texts, at = json.JSONDecoder(), [], 0
    while block[at:].strip():
        at += len(block[at:]) - len(block[at:].lstrip())
        _, end = decoder.raw_decode(block, at)
        texts.append(block[at:end])
        at = end
    return texts


def spec_examples(text: str) -> list[Example]:
    """Every JSON value the spec prints, after the NOT_JSON edits (each must apply)."""
    blocks = fenced_blocks(text)
    for section, printed, fixed in NOT_JSON:
        found = [i for i, (s, block) in enumerate(blocks) if s == section and printed in block]
        assert found, f"the spec no longer prints {printed!r} under {section}"
        for i in found:
            blocks[i] = (section, blocks[i][1].replace(printed, fixed))
    examples: list[Example] = []
    for section, block in blocks:
        for text in json_texts(block):
            number = sum(1 for e in examples if e.section == section)
            examples.append(Example(section, number, text))
    return examples


def listed(example: Example) -> bool:
    """EXPECTED says what the spec answers to it (when not, the count test fails)."""
    return example.number < len(EXPECTED.get(example.section, []))


EXAMPLES: Final = spec_examples(SPEC.read_text(encoding="utf-8"))
REQUESTS: Final = [e for e in EXAMPLES if listed(e) and EXPECTED[e.section][e.number] is not ANSWER]


def answer_example(section: str) -> Json:
    return next(
        e.value for e in EXAMPLES if e.section == section and EXPECTED[section][e.number] is ANSWER
    )


def expected(example: Example) -> Posted:
    """EXPECTED's answer, a 404 for an endpoint not built yet, `invalid-time` once a scheduled
    time has passed."""
    if example.path in NOT_BUILT_YET:
        return Posted(404, "not-found")
    posted = EXPECTED[example.section][example.number]
    assert posted is not None
    scheduled = example.value.get("scheduled_time")
    if scheduled and datetime.fromisoformat(scheduled) <= datetime.now(UTC):
        return Posted(400, "invalid-time")
    return posted


def check_answer(answer: Json, example: Json) -> None:
    """The example's keys at every level and the same kinds of values; where the example has an
    `id` beside a `name`, the answer's `id` is the example's URL naming the answer's resource."""
    if isinstance(example, dict):
        assert isinstance(answer, dict), (answer, example)
        assert set(answer) == set(example), (answer, example)
        for key, value in example.items():
            if key == "id" and "name" in example:
                assert answer["id"] == f"{value.rsplit('/', 1)[0]}/{answer['name']}"
            else:
                check_answer(answer[key], value)
    else:
        assert type(answer) is type(example), (answer, example)


def spec_environments(root: Path) -> Path:
    """The test environments (`test-env-1` has the spec's `package` task), and in production
    the spec's application instance `Wordpress_app[demo]`."""
    environments = root / "environments"
    shutil.copytree(ENVIRONMENTS, environments, symlinks=True)
    shutil.copy(DATA / "spec" / "applications.yaml", environments / "production")
    return environments


@pytest.fixture
async def spec_api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = {
        "environments": spec_environments(tmp_path),
        "inventory": DATA / "spec" / "inventory.yaml",
        "public_url": PUBLIC_URL,
    }
    async with running(tmp_path / "data", **settings) as (_, api):
        yield api


async def make_jobs_through(api: Api, last: int) -> None:
    """Jobs until the newest is named `last` (a small task each, many at once)."""
    body = {
        "environment": "test-env-1",
        "task": "package",
        "params": {"action": "status"},
        "scope": {"nodes": ["node1.example.com"]},
    }
    made = len((await api.ok("/jobs"))["items"])
    while made < last:
        batch = min(50, last - made)
        answers = await asyncio.gather(*(api.post("/command/task", body) for _ in range(batch)))
        assert all(status == 202 for status, _ in answers), answers
        made += batch


async def post_verbatim(api: Api, example: Example) -> tuple[int, Json]:
    """The example's text as the spec prints it (after NOT_JSON)."""
    return await api.post_raw(example.path, example.text.encode())


def test_the_spec_prints_the_examples_this_test_expects() -> None:
    """A new or removed example fails here, so that none is left out unnoticed."""
    counted = {section: 0 for section in EXPECTED}
    for example in EXAMPLES:
        counted[example.section] = counted.get(example.section, 0) + 1
    assert counted == {section: len(values) for section, values in EXPECTED.items()}


@pytest.mark.parametrize("example", REQUESTS, ids=[e.id for e in REQUESTS])
async def test_each_request_example_gets_the_spec_answer(spec_api: Api, example: Example) -> None:
    if example.section == "POST /command/stop":
        await make_jobs_through(spec_api, int(example.value["job"]))  # the job it stops
    status, answer = await post_verbatim(spec_api, example)
    want = expected(example)
    assert status == want.status, answer
    if want.kind is not None:
        assert set(answer) == {"kind", "msg", "details"}, answer
        assert answer["kind"] == f"{ORCH}/{want.kind}", answer
        named = {error["field"] for error in answer["details"].get("errors", [])}
        assert want.fields <= named, answer
    else:
        check_answer(answer, answer_example(example.section))
        await check_job_ran(spec_api, example, answer)


async def check_job_ran(api: Api, example: Example, answer: Json) -> None:
    """A command's job ends with every node finished (the nodes are simulated); a stop answers
    for the job it names."""
    if example.section == "POST /command/stop":
        assert answer["job"]["name"] == example.value["job"]
    elif example.section in ("POST /command/deploy", "POST /command/task"):
        job = await api.wait_job(answer["job"]["name"])
        assert (job["state"], job["node_states"]) == ("finished", {"finished": job["node_count"]})
    elif example.section == "POST /command/plan_run":  # the `canary` plan: commands on its nodes
        async with asyncio.timeout(20):
            while (plan := await api.ok(f"/plan_jobs/{answer['name']}"))["state"] in (
                "pending",
                "running",
            ):
                await asyncio.sleep(0.05)
        assert plan["state"] == "success", plan["result"]
        assert [r["target"] for r in plan["result"]] == example.value["params"]["nodes"]


@pytest.mark.parametrize("number", [1, 2, 3, 4])
async def test_the_task_sections_scopes_work_as_a_tasks_scope(spec_api: Api, number: int) -> None:
    """The scopes printed under POST /command/task, in the section's own task request: an
    application scope is refused (the section's scope table has none), the others run."""
    task = next(e for e in EXAMPLES if e.section == "POST /command/task" and e.number == 0)
    scope = next(e for e in EXAMPLES if e.section == "POST /command/task" and e.number == number)
    body = {**task.value, "scope": scope.value["scope"]}
    status, answer = await spec_api.post("/command/task", body)
    if "application" in scope.value["scope"]:
        assert (status, answer["kind"]) == (400, f"{ORCH}/validation-error"), answer
        assert "Application scopes are not allowed" in answer["msg"]
    else:
        assert status == 202, answer
        check_answer(answer, answer_example("POST /command/task"))
        await check_job_ran(spec_api, task, answer)


def test_the_copy_of_the_spec_is_the_spec() -> None:
    """The spec lives beside the repository (../shared/spec/); where it is at hand, the copy the
    examples are read from must be the same text."""
    here = Path(__file__).resolve()
    found = [
        parent / "shared" / "spec" / SPEC.name
        for parent in here.parents
        if (parent / "shared" / "spec" / SPEC.name).is_file()
    ]
    if not found:
        pytest.skip("the spec (shared/spec/command-endpoint.md) is not beside this checkout")
    assert SPEC.read_bytes() == found[0].read_bytes()
