"""The web view in a real browser (Debian's chromium, driven by Playwright) against a real
`podium serve`: sign in, a 300-node job appearing and moving live, nodes filtered, searched and
opened, errors shown, jobs stopped with the buttons, and a job page that resumes its stream
when the server restarts. A screenshot of the job page is saved under the test's output."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from podium.jsontypes import Json
from tests.browser import open_browser, signed_in
from tests.e2e.cluster import Client
from tests.e2e.test_serve import Server, client, server_process

pytestmark = pytest.mark.asyncio(loop_scope="module")  # one server and one browser for all
FLEET: Final = [f"n{i:03d}" for i in range(300)]
SLOW: Final = [f"slow{i}" for i in range(6)]
HUNG: Final = ["hung0", "hung1"]
NODE_STATES: Final = ("new", "running", "finished", "failed", "errored", "skipped")
# How long the page may take to show what the server did, on a busy machine (ms).
expect.set_options(timeout=30_000)


RECORD_ENDED: Final = """
window.ended = [];  // each different number of ended nodes that a job page's legend showed
new MutationObserver(() => {
    const n = state => Number(
        document.querySelector(`#counts [data-state=${state}] .n`)?.textContent || 0);
    const ended = n('finished') + n('failed') + n('errored');
    if (document.getElementById('counts') && ended !== window.ended.at(-1)) {
        window.ended.push(ended);
    }
}).observe(document, {childList: true, subtree: true});
"""


def write_inventory(path: Path) -> Path:
    """300 sim nodes that take a few seconds in all (some fail, some error), 6 slow ones, and
    2 that never end by themselves."""
    path.write_text(
        "version: 2\nconfig:\n  transport: sim\ngroups:\n"
        f"  - name: fleet\n    targets: [{', '.join(FLEET)}]\n"
        "    config:\n"
        "      sim: {latency-ms: [200, 600], failure-rate: 0.05, error-rate: 0.02, seed: 3}\n"
        f"  - name: slow\n    targets: [{', '.join(SLOW)}]\n"
        "    config:\n      sim: {latency-ms: 1500}\n"
        f"  - name: hung\n    targets: [{', '.join(HUNG)}]\n"
        "    config:\n      sim: {latency-ms: 600000}\n"
    )
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Server, Client]]:
    work = tmp_path_factory.mktemp("web")
    with server_process(work / "data", write_inventory(work / "inventory.yaml")) as server:
        async with client(server) as connected:
            yield server, connected


@pytest.fixture
def api(served: tuple[Server, Client]) -> Client:
    return served[1]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with open_browser() as opened:
        yield opened


async def expect_counts(page: Page, counts: Json) -> None:
    """Until the job page's legend shows these node counts (the job's state may show a moment
    before its last node events do)."""
    assert isinstance(counts, dict)
    for state in NODE_STATES:
        shown = page.locator(f'#counts [data-state="{state}"] .n')
        await expect(shown).to_have_text(str(counts.get(state, 0)))


async def states_shown(page: Page) -> dict[str, str]:
    rows = await page.eval_on_selector_all(
        "#nodes tr.node", "rows => rows.map(r => [r.dataset.node, r.dataset.state])"
    )
    return dict(rows)


async def test_a_job_appears_moves_and_finishes_live_with_its_errors_shown(
    api: Client, browser: Browser, tmp_path: Path
) -> None:
    page = await browser.new_page()
    await page.goto(f"{api.base}/")
    await page.fill("#token", "not-a-token")
    await page.click("#sign-in button[type=submit]")
    await expect(page.locator("#sign-in-error")).to_have_text(
        "The token in X-Authentication is not valid"
    )
    await page.close()

    lister, page = await asyncio.gather(
        signed_in(browser, f"{api.base}/", api.token),
        signed_in(browser, f"{api.base}/", api.token, init_script=RECORD_ENDED),
    )
    urls: list[str] = []
    for each in (lister, page):
        each.on("request", lambda request: urls.append(request.url))
        await each.evaluate("window.sameDocument = true")  # gone if the page reloads

    job = await api.task(FLEET, concurrency=40)
    await page.goto(f"{api.base}/#/jobs/{job}")  # the same document: only the hash changes
    row = lister.locator(f'#jobs tr[data-job="{job}"]')
    await expect(row).to_contain_text("testmod::echo")  # the list's stream
    done = await api.wait_job(job)
    await expect(row.locator(".badge")).to_have_attribute("data-state", str(done["state"]))
    listed = await row.locator(".count").evaluate_all(
        "counts => counts.map(c => [c.dataset.state, Number(c.querySelector('.n').textContent)])"
    )
    assert dict(listed) == done["node_states"]  # the list's counts, from the same answer
    await row.get_by_role("link").click()
    await expect(lister.locator("#job-state")).to_have_attribute("data-state", str(done["state"]))
    await expect(page.locator("#job-state")).to_have_attribute("data-state", str(done["state"]))
    node_states = done["node_states"]
    assert isinstance(node_states, dict)
    await expect_counts(page, node_states)
    for each in (lister, page):
        assert await each.evaluate("window.sameDocument") is True
    ended: list[int] = await page.evaluate("window.ended")
    assert ended == sorted(ended), ended
    assert ended[-1] == 300, ended
    assert len(ended) >= 3, ended  # it moved on the page: at least one count between
    nodes = (await api.get(f"/jobs/{job}/nodes"))["items"]
    assert await states_shown(page) == {n["name"]: n["state"] for n in nodes}
    await page.screenshot(path=tmp_path / "job-page.png")  # the viewport: quicker

    # Errors: each failed and errored node says why; the filter shows those nodes alone.
    assert node_states.get("failed"), node_states
    assert node_states.get("errored"), node_states
    await page.select_option("#node-filter", "failed")
    failed_rows = page.locator("#nodes tr.node")
    await expect(failed_rows).to_have_count(int(node_states["failed"]))
    await expect(failed_rows.locator("td.result").first).to_have_text(
        "The task errored with a code 1"
    )
    await page.click('#counts [data-state="errored"]')  # the legend picks a state too
    errored = page.locator('#nodes tr.node[data-state="errored"]')
    await expect(errored).to_have_count(int(node_states["errored"]))
    name = await errored.first.get_attribute("data-node")
    await expect(errored.first.locator("td.result")).to_have_text(
        f"Simulated connection failure to {name}"
    )

    # Search by name, and a node's whole result.
    await page.select_option("#node-filter", "")
    await page.fill("#node-search", "n29")
    rows = page.locator("#nodes tr.node")
    await expect(rows).to_have_count(10)
    finished = page.locator('#nodes tr.node[data-state="finished"]').first
    name = await finished.get_attribute("data-node")
    await finished.click()
    await expect(page.locator(f'tr.detail[data-detail-of="{name}"] pre')).to_contain_text(
        f'"_output": "testmod::echo ran on {name} (simulated)\\n"'
    )

    # An API error in its own words, and no token in any URL the page asked for.
    await page.goto(f"{api.base}/#/jobs/999")
    await expect(page.locator("#job-error")).to_have_text("No job named 999")
    await expect(page.locator("#notice")).to_contain_text("puppetlabs.orchestrator/unknown-job")
    assert urls
    assert not [url for url in urls if api.token in url]
    assert await page.evaluate("localStorage.length") == 0  # the session's storage only


async def jobs_page(page: Page, api: Client, job: str) -> None:
    await page.goto(f"{api.base}/#/jobs/{job}")
    await expect(page.locator("#job-state")).to_be_visible()


async def test_the_stop_buttons_stop_a_job_and_kill_its_runs(api: Client, browser: Browser) -> None:
    page = await signed_in(browser, f"{api.base}/", api.token)

    slow = await api.task(SLOW, concurrency=2)
    await jobs_page(page, api, slow)
    await expect(page.locator('#nodes tr[data-state="running"]')).to_have_count(2)
    await page.click("#stop")
    await expect(page.locator("#job-state")).to_have_attribute("data-state", "stopped")
    stopped = (await api.get(f"/jobs/{slow}"))["node_states"]
    assert isinstance(stopped, dict)
    assert stopped["skipped"] >= 2, stopped  # 2 (a wave) by 1.5 s, unless the page was slow
    await expect_counts(page, stopped)
    await expect(page.locator("#stop")).to_be_disabled()

    hung = await api.task(HUNG)
    await jobs_page(page, api, hung)
    await expect(page.locator('#nodes tr[data-state="running"]')).to_have_count(2)
    await page.click("#force-stop")
    await expect(page.locator("#job-state")).to_have_attribute("data-state", "stopped")
    killed = page.locator('#nodes tr[data-state="errored"] td.result')
    await expect(killed).to_have_count(2)
    await expect(killed.first).to_contain_text("forced stop")
    answer: Json = await api.get(f"/jobs/{hung}")
    assert isinstance(answer, dict)
    assert answer["node_states"] == {"errored": 2}


async def test_a_job_page_resumes_its_stream_after_the_server_restarts(
    served: tuple[Server, Client], browser: Browser
) -> None:
    server, api = served
    page = await signed_in(browser, f"{api.base}/", api.token)
    job = await api.task(SLOW, concurrency=2)
    await jobs_page(page, api, job)
    await expect(page.locator('#nodes tr[data-state="running"]')).to_have_count(2)
    await page.evaluate("window.sameDocument = true")

    server.kill()
    await expect(page.locator("#notice")).to_contain_text("The server cannot be reached")
    async with aiohttp.ClientSession() as session:
        server.start()
        await server.wait_ready(session)
        done = await Client(session, api.base, api.token).wait_job(job)
        events = (await Client(session, api.base, api.token).get(f"/jobs/{job}/events"))["items"]
    await expect_counts(page, done["node_states"])  # the runs the kill cut off end errored
    await expect(page.locator("#notice")).to_be_hidden()
    assert await page.evaluate("window.sameDocument") is True
    shown = await page.eval_on_selector_all("#events li", "items => items.map(i => i.dataset.id)")
    assert sorted(shown, key=int) == [event["id"] for event in events]  # none missed, none twice


async def test_the_page_and_its_files_need_no_token_and_load_nothing_from_elsewhere(
    served: tuple[Server, Client],
) -> None:
    server, api = served
    assert f"Web view: {api.base}/\n" in server.log.read_text()  # where podium serve says it is
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{api.base}/") as response:
            assert response.status == 200
            assert response.content_type == "text/html"
            policy = response.headers["Content-Security-Policy"]
            page = await response.text()
        assert "default-src 'none'" in policy
        assert "connect-src 'self'" in policy
        assert "http" not in page  # every file it loads is this server's
        for name, kind in [("app.js", "text/javascript"), ("app.css", "text/css")]:
            async with session.get(f"{api.base}/ui/{name}") as response:
                assert (response.status, response.content_type) == (200, kind)
        async with session.get(f"{api.base}/ui/index.html") as response:
            assert response.status == 404
            assert (await response.json())["kind"] == "puppetlabs.orchestrator/not-found"
        async with session.get(f"{api.base}/orchestrator/v1/jobs") as response:
            assert response.status == 401  # the data still needs the token
