"""Finding tasks in an environment's modules, and choosing the implementation a target can run.

A task is `modules/<module>/tasks/<task>.<ext>` with an optional `<task>.json` beside it; only
files directly in `tasks/` count. With `implementations` in the metadata, those files are the task.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from libs.tasks.metadata import MetadataError, TaskMetadata, read_metadata
from libs.tasks.names import SEGMENT, TaskName

NOT_EXECUTABLE: Final = frozenset({".json", ".md", ".conf"})
DEFAULT_FEATURES: Final = frozenset({"shell"})


class TaskError(ValueError):
    """Raised for a task that exists but cannot be used (bad metadata, missing executable)."""


@dataclass(frozen=True, slots=True)
class Implementation:
    path: Path
    input_method: str
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Task:
    name: TaskName
    tasks_dir: Path
    metadata: TaskMetadata
    executables: tuple[Path, ...]  # every file that can run this task, metadata order first

    def implementation(self, features: Iterable[str]) -> Implementation | None:
        """The first implementation whose requirements the target meets (task spec order)."""
        have = DEFAULT_FEATURES | frozenset(features)
        top_files = tuple(self.metadata.files)
        entries = self.metadata.implementations
        if not entries:
            path = self.executables[0]
            return Implementation(path, self._input_method(None, path), top_files)
        for entry in entries:
            required = entry.get("requirements") or []
            if isinstance(required, list) and set(required) <= have:
                path = self.tasks_dir / str(entry.get("name"))
                extra = entry.get("files") or []
                files = top_files + tuple(f for f in extra if isinstance(f, str))
                return Implementation(path, self._input_method(entry, path), files)
        return None

    def _input_method(self, entry: dict[str, object] | None, path: Path) -> str:
        chosen = entry.get("input_method") if entry else None
        if isinstance(chosen, str):
            return chosen
        return self.metadata.input_method or ("powershell" if path.suffix == ".ps1" else "both")


def find_task(module_dirs: Sequence[Path], name: TaskName) -> Task | None:
    """The task in the first module directory that has the module. Raises TaskError."""
    for modules in module_dirs:
        tasks_dir = modules / name.module / "tasks"
        if tasks_dir.is_dir():
            return _load(tasks_dir, name)
    return None


def list_tasks(module_dirs: Sequence[Path]) -> list[Task]:
    """Every usable task, sorted by name; a task with broken metadata is left out."""
    found: dict[TaskName, Task] = {}
    for modules in module_dirs:
        for tasks_dir in sorted(modules.glob("*/tasks")):
            module = tasks_dir.parent.name
            if not SEGMENT.match(module) or not tasks_dir.is_dir():
                continue
            for stem in sorted({path.stem for path in tasks_dir.iterdir() if path.is_file()}):
                name = TaskName(module, stem)
                if name in found or not SEGMENT.match(stem):
                    continue
                try:
                    task = _load(tasks_dir, name)
                except TaskError:
                    continue
                if task is not None:
                    found[name] = task
    return [found[name] for name in sorted(found, key=lambda n: n.full)]


def _load(tasks_dir: Path, name: TaskName) -> Task | None:
    metadata_path = tasks_dir / f"{name.task}.json"
    try:
        metadata = read_metadata(metadata_path) if metadata_path.is_file() else TaskMetadata()
    except MetadataError as exc:
        raise TaskError(str(exc)) from exc
    if metadata.implementations:
        files = [tasks_dir / str(entry.get("name")) for entry in metadata.implementations]
        missing = [path.name for path in files if not path.is_file()]
        if missing:
            raise TaskError(f"task {name.full}: implementation files missing: {missing}")
        return Task(name, tasks_dir, metadata, tuple(files))
    executables = [
        path
        for path in sorted(tasks_dir.glob(f"{name.task}.*"))
        if path.stem == name.task and path.suffix not in NOT_EXECUTABLE and path.is_file()
    ]
    if not executables:
        if metadata_path.is_file():
            raise TaskError(f"task {name.full}: {metadata_path.name} names no executable")
        return None
    if len(executables) > 1:
        names = ", ".join(path.name for path in executables)
        raise TaskError(f"task {name.full}: several executables ({names}) and no implementations")
    return Task(name, tasks_dir, metadata, tuple(executables))
