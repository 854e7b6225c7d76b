"""Podium installs with pip like any Python service: the wheel built from the checkout goes into
a fresh venv with nothing but its own declared dependencies, and `podium serve` started from
another directory runs a task on the bundled example, end to end.

The venv sees no other site-packages, and pip installs into it with `--no-index` from a
wheelhouse: only what the wheel declares is installed, so a dependency missing from
pyproject.toml fails here. The wheelhouse is kept in pytest's cache (filled by `pip download`
the first time, and again when the wheel asks for something it lacks).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Final

import aiohttp
import pytest

from tests.e2e.cluster import Client
from tests.sshd import free_port

ROOT: Final = Path(__file__).resolve().parents[2]
SOURCES: Final = ("pyproject.toml", "README.md", "podium")  # what a build reads
WEB_FILES: Final = ("index.html", "app.js", "app.css", "favicon.svg")
PIP: Final[list[str | Path]] = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def run(command: list[str | Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def build_wheel(work: Path) -> tuple[Path, str]:
    """The wheel of a copy of the checkout (a build writes beside its sources), and what the
    build printed."""
    source = work / "source"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, source / name)
    built = run([*PIP, "wheel", "--no-deps", "-v", "-w", work / "dist", source])
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (work / "dist").glob("podium-*.whl")
    return wheel, built.stdout + built.stderr


def install(wheel: Path, venv: Path, wheelhouse: Path) -> None:
    """Into the venv, the wheel and what it declares, from the wheelhouse alone."""
    command: list[str | Path] = [*PIP, "--python", venv / "bin" / "python", "install"]
    command += ["--no-compile", "-q"]
    command += ["--no-index", "--find-links", wheelhouse, wheel]
    if run(command).returncode != 0:  # the wheelhouse lacks something the wheel needs
        fetched = run([*PIP, "download", "-q", "-d", wheelhouse, wheel])
        assert fetched.returncode == 0, fetched.stderr
        for copy in wheelhouse.glob("podium-*.whl"):
            copy.unlink()
        installed = run(command)
        assert installed.returncode == 0, installed.stderr


@pytest.fixture(scope="module")
def wheel_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def venv(
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
    wheel_build: tuple[Path, str],
) -> Path:
    cache = getattr(pytestconfig, "cache", None)
    wheelhouse = (
        cache.mkdir("wheelhouse") if cache is not None else tmp_path_factory.mktemp("wheelhouse")
    )
    venv = tmp_path_factory.mktemp("venv")
    made = run([sys.executable, "-m", "venv", "--clear", "--without-pip", venv])
    assert made.returncode == 0, made.stderr
    install(wheel_build[0], venv, wheelhouse)
    return venv


def test_the_wheel_holds_the_one_package_and_the_bundled_example(
    wheel_build: tuple[Path, str],
) -> None:
    with zipfile.ZipFile(wheel_build[0]) as wheel:
        names = wheel.namelist()
        agent = wheel.getinfo("podium/examples/environments/production/bin/agent")
    assert {name.split("/")[0] for name in names} == {"podium", "podium-0.1.0.dist-info"}
    for example in ("inventory.yaml", "node_groups.yaml", "environments/production/podium.yaml"):
        assert f"podium/examples/{example}" in names
    assert (agent.external_attr >> 16) & 0o111  # the stand-in agent stays executable
    for web_file in WEB_FILES:
        assert f"podium/api/static/{web_file}" in names


def test_building_the_wheel_warns_of_nothing_deprecated(wheel_build: tuple[Path, str]) -> None:
    assert "Deprecat" not in wheel_build[1], wheel_build[1]


def test_the_venv_has_only_the_wheel_and_its_dependencies(venv: Path) -> None:
    listed = run([venv / "bin" / "python", "-c", "import sys; print(sys.path)"])
    assert str(ROOT) not in listed.stdout
    assert "site-packages" in listed.stdout
    assert sys.prefix not in listed.stdout  # the test venv's packages are not visible


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory with nothing of the checkout in it."""
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    return directory


@pytest.fixture
def served(venv: Path, elsewhere: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`podium serve --data-dir D` from the installed venv, run from `elsewhere` with no PODIUM_*
    or PYTHON* variables."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PODIUM_", "PYTHON", "VIRTUAL_ENV"))
    }
    log = elsewhere.parent / "serve.log"
    command = [str(venv / "bin" / "podium"), "serve", "--data-dir", "D", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=elsewhere, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process, port, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
async def client(
    served: tuple[subprocess.Popen[bytes], int, Path], elsewhere: Path
) -> AsyncIterator[Client]:
    process, port, log = served
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(60):
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    async with session.get(f"{base}/status/v1/simple") as answer:
                        if answer.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
        token = (elsewhere / "D" / "admin.token").read_text().strip()
        yield Client(session, base, token)


async def test_podium_serve_from_the_wheel_runs_a_task_on_the_bundled_example(
    client: Client, served: tuple[subprocess.Popen[bytes], int, Path]
) -> None:
    body = {
        "task": "demo::echo",
        "params": {"message": "from a wheel"},
        "scope": {"nodes": ["localhost", "web-001"]},
    }
    status, answer = await client.post("/command/task", body)
    assert status == 202, answer
    job = await client.wait_job(answer["job"]["name"], timeout_s=60)
    nodes = {
        node["name"]: node for node in (await client.get(f"/jobs/{job['name']}/nodes"))["items"]
    }
    assert {name: node["state"] for name, node in nodes.items()} == {
        "localhost": "finished",
        "web-001": "finished",
    }
    assert nodes["localhost"]["result"]["echo"] == {
        "message": "from a wheel",
        "_task": "demo::echo",
    }
    groups = (await client.get("/node_groups"))["items"]
    assert len(groups) > 1  # the bundled example's groups beside All Nodes
    for path, web_file in [("/", "index.html"), ("/ui/app.js", "app.js")]:  # the web view
        async with client.session.get(f"{client.base}{path}") as answer:
            assert answer.status == 200
            assert await answer.read() == (ROOT / "podium/api/static" / web_file).read_bytes()
    process, _, log = served
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, log.read_text()
