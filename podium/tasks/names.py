"""Task and module names: `module::task`, with `module` alone meaning `module::init`."""

from __future__ import annotations

import functools
import re
from typing import Final, NamedTuple

SEGMENT: Final = re.compile(r"\A[a-z][a-z0-9_]*\Z")
INIT: Final = "init"


class InvalidTaskName(ValueError):
    """Raised for a name that is not `module` or `module::task` with valid segments."""


class TaskName(NamedTuple):
    module: str
    task: str

    @property
    def full(self) -> str:
        """The canonical name: `module` for the init task, else `module::task`."""
        return self.module if self.task == INIT else f"{self.module}::{self.task}"


@functools.lru_cache(maxsize=4096)
def parse_task_name(name: str) -> TaskName:
    parts = name.split("::")
    if len(parts) == 1:
        parts.append(INIT)
    if len(parts) != 2 or not all(SEGMENT.match(part) for part in parts):
        raise InvalidTaskName(
            f"invalid task name {name!r}: expected 'module' or 'module::task', each part "
            "starting with a lowercase letter followed by lowercase letters, digits or '_'"
        )
    return TaskName(parts[0], parts[1])
