"""Finding environments and reading their settings.

An `Environments` keeps what it has read: an environment while its `podium.yaml` is unchanged
(its `Stamp`; a missing file counts as a state too, and a file changed within the last
`RACY_NS` is read again), and its tasks in a `TaskCache` shared by all its environments. A
change is seen by the next lookup.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from podium.tasks.cache import Recent, Stamp, TaskCache, file_stamp, settled
from podium.tasks.catalog import Task
from podium.tasks.names import TaskName
from podium.yamlfile import read_yaml

# The names code directories use (`production`, `test-env-1`, a branch's `feature_X`): letters,
# digits, `_` and `-`, not starting with `-`, at most 255 (a file name's limit). Nothing else, so
# a name is one directory inside the environments directory (no `/`, `..`, NUL, leading `.`).
NAME: Final = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_-]{0,254}\Z")
SETTINGS_FILE: Final = "podium.yaml"
BUILTIN_MODULES: Final = Path(__file__).parent.parent / "plans" / "modules"
DEFAULT_AGENT_COMMAND: Final = ("puppet", "agent", "--test", "--detailed-exitcodes")


class InvalidEnvironmentName(ValueError):
    """Raised for a name that is not one directory name of letters, digits, `_` and `-`."""


class BadEnvironment(ValueError):
    """Raised for an environment whose settings file cannot be used."""


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    path: Path
    agent_command: tuple[str, ...] = DEFAULT_AGENT_COMMAND
    task_timeout_s: float | None = None
    task_cache: TaskCache = field(default_factory=TaskCache, compare=False, repr=False)
    _modules: Path = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Made once: a job made from a schedule looks its task up thousands of times a second.
        object.__setattr__(self, "_modules", self.path / "modules")

    @property
    def module_dirs(self) -> list[Path]:
        """The environment's modules, then the built-in ones (Bolt's `bolt_shim`)."""
        return [self._modules, BUILTIN_MODULES]

    def task(self, name: TaskName) -> Task | None:
        """Raises TaskError for a task that exists but is broken."""
        return self.task_cache.find(self.module_dirs, name)

    def tasks(self) -> list[Task]:
        return self.task_cache.list(self.module_dirs)


class _Missing:
    """No environment by that name (remembered like an answer)."""


_MISSING: Final = _Missing()


class Environments:
    """`refresh_s`: how long an answer is given again without looking at the files."""

    def __init__(self, root: Path, refresh_s: float = 0.0) -> None:
        self.root = root
        self._tasks = TaskCache(refresh_s)
        self._loaded: dict[str, tuple[Stamp | None, bool, Environment | BadEnvironment]] = {}
        self._recent: Recent[str, Environment | BadEnvironment | _Missing] = Recent(refresh_s)

    def get(self, name: str) -> Environment | None:
        """The environment, or None if there is none by that name. Raises
        InvalidEnvironmentName, or BadEnvironment for a broken settings file."""
        if not NAME.match(name):
            raise InvalidEnvironmentName(
                f"invalid environment name {name!r}: use letters, digits, '_' and '-' (not first)"
            )
        found = self._recent.get(name) or self._recent.put(name, self._look(name))
        if isinstance(found, BadEnvironment):
            raise BadEnvironment(str(found)) from found
        return None if isinstance(found, _Missing) else found

    def _look(self, name: str) -> Environment | BadEnvironment | _Missing:
        path = self.root / name
        if not path.is_dir():
            return _MISSING
        stamp = file_stamp(path / SETTINGS_FILE)
        kept = self._loaded.get(name)
        if kept is None or not kept[1] or kept[0] != stamp:
            try:
                loaded: Environment | BadEnvironment = _load(name, path, self._tasks)
            except BadEnvironment as exc:
                loaded = exc
            kept = self._loaded[name] = (stamp, settled(stamp), loaded)
        return kept[2]

    def check_root(self) -> None:
        """Raises BadEnvironment when the environments directory cannot be listed."""
        try:
            with os.scandir(self.root):
                pass
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise BadEnvironment(f"{self.root}: cannot read the environments: {reason}") from exc

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and NAME.match(p.name))


def _load(name: str, path: Path, tasks: TaskCache) -> Environment:
    settings_path = path / SETTINGS_FILE
    if not settings_path.is_file():
        return Environment(name, path, task_cache=tasks)
    data = read_yaml(settings_path, BadEnvironment) or {}
    if not isinstance(data, dict):
        raise BadEnvironment(f"{settings_path}: must be a map")
    command = data.get("agent-command", list(DEFAULT_AGENT_COMMAND))
    if isinstance(command, str):
        command = command.split()
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        raise BadEnvironment(f"{settings_path}: `agent-command` must be a list of strings")
    if not Path(command[0]).is_absolute() and "/" in command[0]:
        command[0] = str(path / command[0])  # relative to the environment
    timeout = data.get("task-timeout-s")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise BadEnvironment(f"{settings_path}: `task-timeout-s` must be a positive number")
    seconds = None if timeout is None else float(timeout)
    return Environment(name, path, tuple(command), seconds, task_cache=tasks)
