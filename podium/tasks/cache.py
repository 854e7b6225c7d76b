"""Tasks already read, kept while their files are unchanged, so that a request does not read and
parse them again.

A task is read again when its tasks directory changes (a file added, removed or renamed) or its
metadata file does, as `os.stat` shows them (`Stamp`: modification time in nanoseconds, size and
inode), so a change is seen by the next lookup. File times come from a coarse clock (a few ms on
Linux): a file rewritten within one tick at the same size keeps its stamp, so what was read
within `RACY_NS` of its files' last change is read again until it has settled. A task that
cannot be used is kept as its error; a name with no task is not kept. Unknown metadata keys are
logged once per version of the file. Safe to share between the event loop and worker threads
(a race only reads a file twice).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Generic, TypeVar

import structlog

from podium.tasks.catalog import Task, TaskError, find_task, list_tasks, load_task
from podium.tasks.metadata import TaskMetadata, read_metadata
from podium.tasks.names import TaskName

log = structlog.get_logger(__name__)
Stamp = tuple[int, int, int]  # st_mtime_ns, st_size, st_ino
RACY_NS: Final = 2_000_000_000


def file_stamp(path: Path) -> Stamp | None:
    """What changes when the file (or directory) at `path` does; None when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """Answers given less than `window_s` ago, given again without looking at the files: the
    price of not stat-ing on every request is that a change shows within `window_s` (as with
    Puppet's `environment_timeout`). A window of 0 looks every time."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._answers: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        kept = self._answers.get(key)
        if kept is None or self._clock() - kept[0] >= self.window_s:
            return None
        return kept[1]

    def put(self, key: K, value: V) -> V:
        if self.window_s > 0:
            self._answers[key] = (self._clock(), value)
        return value


def settled(*stamps: Stamp | None) -> bool:
    """Whether every file is old enough that a change to it would show in its stamp."""
    now = time.time_ns()
    return all(stamp is None or now - stamp[0] >= RACY_NS for stamp in stamps)


@dataclass(frozen=True, slots=True)
class _Entry:
    stamps: tuple[Stamp | None, Stamp | None]  # the tasks directory's, the metadata file's
    settled: bool
    task: Task | None
    error: str | None = None


class TaskCache:
    def __init__(self, refresh_s: float = 0.0) -> None:
        self._found: Recent[tuple[tuple[Path, ...], TaskName], Task | TaskError | None]
        self._found = Recent(refresh_s)
        self._tasks: dict[tuple[Path, TaskName, tuple[Path, ...]], _Entry] = {}
        self._metadata: dict[Path, tuple[Stamp | None, bool, TaskMetadata]] = {}
        self._warned: dict[Path, Stamp | None] = {}

    def find(self, module_dirs: Sequence[Path], name: TaskName) -> Task | None:
        """As `catalog.find_task`. Raises TaskError."""
        key = (tuple(module_dirs), name)
        found = self._found.get(key)
        if found is None:
            try:
                found = find_task(module_dirs, name, self.load)
            except TaskError as exc:
                found = exc
            self._found.put(key, found)
        if isinstance(found, TaskError):
            raise TaskError(str(found)) from found
        return found

    def list(self, module_dirs: Sequence[Path]) -> list[Task]:
        """As `catalog.list_tasks`."""
        return list_tasks(module_dirs, self.load)

    def load(self, tasks_dir: Path, name: TaskName, module_dirs: tuple[Path, ...]) -> Task | None:
        """As `catalog.load_task`, from the cache while the files are unchanged."""
        key = (tasks_dir, name, module_dirs)
        stamps = (file_stamp(tasks_dir), file_stamp(tasks_dir / f"{name.task}.json"))
        entry = self._tasks.get(key)
        if entry is None or not entry.settled or entry.stamps != stamps:
            entry = self._read(key, stamps)
        if entry.error is not None:
            raise TaskError(entry.error)
        return entry.task

    def _read(
        self,
        key: tuple[Path, TaskName, tuple[Path, ...]],
        stamps: tuple[Stamp | None, Stamp | None],
    ) -> _Entry:
        tasks_dir, name, module_dirs = key
        try:
            task = load_task(tasks_dir, name, module_dirs, self._read_metadata)
            entry = _Entry(stamps, settled(*stamps), task)
        except TaskError as exc:
            entry = _Entry(stamps, settled(*stamps), None, str(exc))
        if entry.task is None and entry.error is None:
            self._tasks.pop(key, None)  # any name can be asked for: keep only what exists
        else:
            self._tasks[key] = entry
        return entry

    def _read_metadata(self, path: Path) -> TaskMetadata:
        """Raises MetadataError (not kept: the task's entry keeps the resulting error)."""
        stamp = file_stamp(path)
        kept = self._metadata.get(path)
        if kept is not None and kept[1] and kept[0] == stamp:
            return kept[2]
        metadata = read_metadata(path)
        self._metadata[path] = (stamp, settled(stamp), metadata)
        unknown = metadata.unknown_keys
        if unknown and self._warned.get(path, ()) != stamp:  # once per version of the file
            self._warned[path] = stamp
            log.warning("unknown task metadata keys kept", file=str(path), keys=unknown)
        return metadata
