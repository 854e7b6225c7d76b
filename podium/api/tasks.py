"""GET /tasks and GET /tasks/<module>/<task>: an environment's tasks, as the orchestrator lists
them. Private tasks are left out of the list but can still be read by name."""

from __future__ import annotations

import asyncio

from aiohttp import web

from podium.api.commands import find_environment, find_task
from podium.api.errors import ValidationError
from podium.api.keys import ENVIRONMENTS, base_url
from podium.environments import Environment
from podium.jsontypes import Json
from podium.tasks.catalog import Task, TaskError
from podium.tasks.files import TaskFile, sha256_of
from podium.tasks.names import SEGMENT, TaskName

DEFAULT_ENVIRONMENT = "production"


async def list_tasks(request: web.Request) -> web.Response:
    """GET /tasks?environment=<name>"""
    name = request.query.get("environment") or DEFAULT_ENVIRONMENT
    environment = find_environment(request.app[ENVIRONMENTS], name)
    tasks = await asyncio.to_thread(environment.tasks)
    return web.json_response(task_list(environment, tasks, base_url(request)))


async def get_task(request: web.Request) -> web.Response:
    """GET /tasks/<module>/<task>?environment=<name>; `init` is the module's default task."""
    module, task_name = request.match_info["module"], request.match_info["task"]
    for part in (module, task_name):
        if not SEGMENT.match(part):
            raise ValidationError(
                f"invalid task name {module}::{task_name}: each part must start with a lowercase "
                "letter followed by lowercase letters, digits or '_'",
                task=f"{module}::{task_name}",
            )
    name = request.query.get("environment") or DEFAULT_ENVIRONMENT
    environment = find_environment(request.app[ENVIRONMENTS], name)
    task = find_task(environment, TaskName(module, task_name).full)
    try:
        files = await asyncio.to_thread(_file_entries, task)
    except (TaskError, OSError) as exc:
        raise ValidationError(f"Task {task.name.full} cannot be used: {exc}") from exc
    return web.json_response(task_detail(environment, task, files, base_url(request)))


def task_url(base: str, name: TaskName) -> str:
    return f"{base}/tasks/{name.module}/{name.task}"


def _environment(environment: Environment) -> dict[str, Json]:
    return {"name": environment.name, "code_id": None}


def task_list(environment: Environment, tasks: list[Task], base: str) -> dict[str, Json]:
    return {
        "environment": _environment(environment),
        "items": [
            {"id": task_url(base, task.name), "name": task.name.full}
            for task in tasks
            if not task.metadata.private
        ],
    }


def task_detail(
    environment: Environment, task: Task, files: list[tuple[TaskFile, str, int]], base: str
) -> dict[str, Json]:
    return {
        "id": task_url(base, task.name),
        "name": task.name.full,
        "environment": _environment(environment),
        "metadata": task.metadata.raw,
        "files": [
            {
                "filename": _filename(task, task_file),
                "uri": {
                    "path": f"/{task_file.install_path}",
                    "params": {"environment": environment.name},
                },
                "sha256": digest,
                "size_bytes": size,
            }
            for task_file, digest, size in files
        ],
    }


def _filename(task: Task, task_file: TaskFile) -> str:
    """An executable by its own name; a support file as its `files` entry names it."""
    if task_file.source in task.executables:
        return task_file.source.name
    return str(task_file.install_path)


def _file_entries(task: Task) -> list[tuple[TaskFile, str, int]]:
    return [(f, sha256_of(f.source), f.source.stat().st_size) for f in task.all_files()]
