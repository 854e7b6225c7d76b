"""Environments and tasks are read once and kept while their files are unchanged; any change to
a task's files, its metadata or the environment's settings is seen by the next lookup."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from podium.environments import BadEnvironment, Environment, Environments
from podium.tasks.cache import Recent
from podium.tasks.catalog import TaskError
from podium.tasks.names import TaskName
from podium.tasks.types import parse_type

ECHO = TaskName("pkg", "echo")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    tasks = tmp_path / "production" / "modules" / "pkg" / "tasks"
    write(tasks / "echo.sh", "#!/bin/sh\ncat\n")
    write(tasks / "echo.json", json.dumps({"parameters": {"n": {"type": "Integer[1, 5]"}}}))
    return tmp_path


def production(environments: Environments) -> Environment:
    environment = environments.get("production")
    assert environment is not None
    return environment


def settle(root: Path) -> None:
    """Date every file and directory under `root` back a minute: files changed just now are
    read again on every lookup (their times come from a coarse clock)."""
    past = time.time() - 60
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past))


def test_an_unchanged_environment_and_task_are_read_once(root: Path) -> None:
    write(root / "production" / "podium.yaml", "task-timeout-s: 5\n")
    settle(root)
    environments = Environments(root)
    first = production(environments)
    task = first.task(ECHO)
    assert task is not None
    assert production(environments) is first
    assert first.task(ECHO) is task
    assert task.parameters() is task.parameters()  # parsed once


def test_files_changed_just_now_are_read_again_even_if_their_stamp_is_the_same(
    root: Path,
) -> None:
    environments = Environments(root)
    metadata = root / "production" / "modules" / "pkg" / "tasks" / "echo.json"
    first = production(environments).task(ECHO)
    assert first is not None
    times = metadata.stat()
    metadata.write_text(json.dumps({"parameters": {"m": {"type": "Integer[1, 5]"}}}))
    os.utime(metadata, ns=(times.st_atime_ns, times.st_mtime_ns))  # as within one clock tick
    second = production(environments).task(ECHO)
    assert second is not None
    assert list(second.parameters() or {}) == ["m"]


def test_a_changed_settings_file_is_seen_by_the_next_lookup(root: Path) -> None:
    environments = Environments(root)
    assert production(environments).task_timeout_s is None
    write(root / "production" / "podium.yaml", "task-timeout-s: 5\n")
    assert production(environments).task_timeout_s == 5.0
    write(root / "production" / "podium.yaml", "task-timeout-s: -1\n")
    for _ in range(2):  # a broken file stays an error while it is unchanged
        with pytest.raises(BadEnvironment, match="must be a positive number"):
            environments.get("production")
    (root / "production" / "podium.yaml").unlink()
    assert production(environments).task_timeout_s is None


def test_changed_metadata_is_seen_by_the_next_lookup(root: Path) -> None:
    environment = production(Environments(root))
    task = environment.task(ECHO)
    assert task is not None
    assert list(task.parameters() or {}) == ["n"]
    metadata = root / "production" / "modules" / "pkg" / "tasks" / "echo.json"
    metadata.write_text(json.dumps({"parameters": {"n": {}, "m": {}}}))
    changed = environment.task(ECHO)
    assert changed is not None
    assert sorted(changed.parameters() or {}) == ["m", "n"]
    metadata.write_text(json.dumps({"parameters": {"n": {"type": "Nope"}}}))
    broken = environment.task(ECHO)
    assert broken is not None
    with pytest.raises(TaskError, match="unknown type Nope"):
        broken.parameters()


def own_tasks(environment: Environment) -> list[str]:
    """The environment's tasks but the built-in bolt_shim ones every environment has."""
    return [t.name.full for t in environment.tasks() if t.name.module != "bolt_shim"]


def test_added_and_removed_task_files_are_seen_by_the_next_lookup(root: Path) -> None:
    environment = production(Environments(root))
    tasks = root / "production" / "modules" / "pkg" / "tasks"
    assert own_tasks(environment) == ["pkg::echo"]
    assert environment.task(TaskName("pkg", "new")) is None
    write(tasks / "new.sh", "#!/bin/sh\n")
    assert environment.task(TaskName("pkg", "new")) is not None
    write(tasks / "echo.py", "print('{}')\n")  # a second executable without implementations
    with pytest.raises(TaskError, match="several executables"):
        environment.task(ECHO)
    assert own_tasks(environment) == ["pkg::new"]
    (tasks / "echo.py").unlink()
    (tasks / "new.sh").unlink()
    assert own_tasks(environment) == ["pkg::echo"]


def test_unknown_metadata_keys_are_logged_once_per_version_of_the_file(root: Path) -> None:
    environment = production(Environments(root))
    metadata = root / "production" / "modules" / "pkg" / "tasks" / "echo.json"
    with capture_logs() as logged:
        metadata.write_text(json.dumps({"x-one": 1}))
        for _ in range(3):
            environment.task(ECHO)
            environment.tasks()
        write(metadata.parent / "other.sh", "#!/bin/sh\n")  # the directory changes, not the file
        environment.task(ECHO)
        metadata.write_text(json.dumps({"x-two": "another size"}))
        environment.task(ECHO)
    warned = [entry["keys"] for entry in logged if entry["log_level"] == "warning"]
    assert warned == [["x-one"], ["x-two"]]


def test_a_type_expression_is_parsed_once() -> None:
    assert parse_type("Array[Integer[1, 5], 2]") is parse_type("Array[Integer[1, 5], 2]")


def test_recent_answers_are_given_again_until_their_window_passes() -> None:
    now = [100.0]
    recent: Recent[str, int] = Recent(1.0, clock=lambda: now[0])
    assert recent.get("a") is None
    assert recent.put("a", 1) == 1
    now[0] = 100.9
    assert recent.get("a") == 1
    now[0] = 101.0
    assert recent.get("a") is None
    looks_every_time: Recent[str, int] = Recent(0.0)
    looks_every_time.put("a", 1)
    assert looks_every_time.get("a") is None


def test_within_the_refresh_window_files_are_not_looked_at_again(tmp_path: Path) -> None:
    root = tmp_path / "environments"
    tasks = root / "production" / "modules" / "pkg" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "init.sh").write_text("#!/bin/sh\n")
    patient, eager = Environments(root, refresh_s=3600), Environments(root, refresh_s=0)
    for environments in (patient, eager):
        production = environments.get("production")
        assert production is not None
        assert production.task(TaskName("pkg", "init")) is not None
        assert environments.get("staging") is None
    (tasks / "init.sh").unlink()
    (root / "staging").mkdir()
    patient_production = patient.get("production")
    assert patient_production is not None
    assert patient_production.task(TaskName("pkg", "init")) is not None  # as read before
    assert patient.get("staging") is None  # looked for before it existed: still not there
    eager_production = eager.get("production")
    assert eager_production is not None
    assert eager_production.task(TaskName("pkg", "init")) is None
    assert eager.get("staging") is not None
