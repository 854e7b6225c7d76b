"""Finding tasks in an environment's modules, and choosing the implementation a target can run.

A task is `modules/<module>/tasks/<task>.<ext>` with an optional `<task>.json` beside it; only
files directly in `tasks/` count. With `implementations` in the metadata, those files are the task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from podium.tasks.files import (
    TaskFile,
    TaskFileError,
    check_inside_module,
    executable_file,
    support_files,
)
from podium.tasks.metadata import MetadataError, TaskMetadata, read_metadata
from podium.tasks.names import SEGMENT, TaskName
from podium.tasks.params import Parameter, ParameterDeclarationError, declared_parameters

NOT_EXECUTABLE: Final = frozenset({".json", ".md", ".conf"})
DEFAULT_FEATURES: Final = frozenset({"shell"})


class TaskError(ValueError):
    """Raised for a task that exists but cannot be used (bad metadata, missing executable)."""


@dataclass(frozen=True, slots=True)
class Implementation:
    path: Path
    input_method: str
    files: tuple[str, ...]  # the `files` entries: the top level's, then the implementation's


@dataclass(frozen=True, slots=True)
class _Parsed:
    declared: dict[str, Parameter] | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Task:
    name: TaskName
    tasks_dir: Path
    metadata: TaskMetadata
    executables: tuple[Path, ...]  # every file that can run this task, metadata order first
    module_dirs: tuple[Path, ...] = ()  # where `files` entries are looked up
    _parsed: list[_Parsed] = field(default_factory=list, init=False, compare=False, repr=False)

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

    def install_files(self, implementation: Implementation) -> list[TaskFile]:
        """The support files to copy under `_installdir`, executable excluded. Raises
        TaskError for an entry that is malformed or names nothing."""
        try:
            return support_files(self.module_dirs, implementation.files)
        except TaskFileError as exc:
            raise TaskError(f"task {self.name.full}: {exc}") from exc

    def all_files(self) -> list[TaskFile]:
        """Every executable, then every support file of any implementation, each once."""
        entries = list(self.metadata.files)
        for entry in self.metadata.implementations:
            extra = entry.get("files")
            entries += [f for f in extra if isinstance(f, str)] if isinstance(extra, list) else []
        executables = [executable_file(self.name.module, path) for path in self.executables]
        try:
            return executables + support_files(self.module_dirs, list(dict.fromkeys(entries)))
        except TaskFileError as exc:
            raise TaskError(f"task {self.name.full}: {exc}") from exc

    def parameters(self) -> Mapping[str, Parameter] | None:
        """The declared parameters (None: any are accepted), parsed on the first call and kept
        with the task, which a cache may share between requests. Raises TaskError."""
        if not self._parsed:
            try:
                parsed = _Parsed(declared_parameters(self.metadata.raw.get("parameters")))
            except ParameterDeclarationError as exc:
                parsed = _Parsed(None, f"task {self.name.full}: {exc}")
            self._parsed.append(parsed)
        if self._parsed[0].error is not None:
            raise TaskError(self._parsed[0].error)
        return self._parsed[0].declared

    def _input_method(self, entry: dict[str, object] | None, path: Path) -> str:
        chosen = entry.get("input_method") if entry else None
        if isinstance(chosen, str):
            return chosen
        return self.metadata.input_method or ("powershell" if path.suffix == ".ps1" else "both")


Loader = Callable[[Path, TaskName, tuple[Path, ...]], "Task | None"]
MetadataReader = Callable[[Path], TaskMetadata]


def find_task(
    module_dirs: Sequence[Path], name: TaskName, load: Loader | None = None
) -> Task | None:
    """The task in the first module directory that has the module, read by `load` (a cache's,
    or `load_task`). Raises TaskError."""
    for modules in module_dirs:
        tasks_dir = modules / name.module / "tasks"
        if tasks_dir.is_dir():
            return (load or load_task)(tasks_dir, name, tuple(module_dirs))
    return None


def list_tasks(module_dirs: Sequence[Path], load: Loader | None = None) -> list[Task]:
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
                    task = (load or load_task)(tasks_dir, name, tuple(module_dirs))
                except TaskError:
                    continue
                if task is not None:
                    found[name] = task
    return [found[name] for name in sorted(found, key=lambda n: n.full)]


def load_task(
    tasks_dir: Path,
    name: TaskName,
    module_dirs: tuple[Path, ...],
    read: MetadataReader = read_metadata,
) -> Task | None:
    """The task `name` of this tasks directory, None if it has no such task. Raises TaskError."""
    metadata_path = tasks_dir / f"{name.task}.json"
    try:
        metadata = read(metadata_path) if metadata_path.is_file() else TaskMetadata()
    except MetadataError as exc:
        raise TaskError(str(exc)) from exc
    if metadata.implementations:
        files = _checked(name, tasks_dir, _implementation_files(tasks_dir, name, metadata))
        return Task(name, tasks_dir, metadata, files, module_dirs)
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
        shown = ", ".join(path.name for path in executables)
        raise TaskError(f"task {name.full}: several executables ({shown}) and no implementations")
    return Task(name, tasks_dir, metadata, _checked(name, tasks_dir, executables), module_dirs)


def _checked(name: TaskName, tasks_dir: Path, executables: Sequence[Path]) -> tuple[Path, ...]:
    """The executables, once each is known to be inside the module, symlinks followed."""
    try:
        for path in executables:
            check_inside_module(tasks_dir.parent, path)
    except TaskFileError as exc:
        raise TaskError(f"task {name.full}: {exc}") from exc
    return tuple(executables)


def _implementation_files(
    tasks_dir: Path, name: TaskName, metadata: TaskMetadata
) -> tuple[Path, ...]:
    names = [str(entry.get("name")) for entry in metadata.implementations]
    bad = [n for n in names if "/" in n or "\\" in n or n in (".", "..")]
    if bad:
        raise TaskError(f"task {name.full}: implementation names must be file names: {bad}")
    files = [tasks_dir / n for n in names]
    missing = [path.name for path in files if not path.is_file()]
    if missing:
        raise TaskError(f"task {name.full}: implementation files missing: {missing}")
    return tuple(dict.fromkeys(files))
