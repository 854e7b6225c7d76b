"""The executor's settings: the part of the settings tree the executor role reads, and what a
local run may see of the process's environment (taken once, by the CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

DEFAULT_MAX_OUTPUT_BYTES: Final = (
    1024 * 1024
)  # a node's stdout kept by default; the rest is dropped
BASE_ENV_NAMES: Final = frozenset(
    {"PATH", "HOME", "LANG", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL"}
)  # and every LC_*
Environ = tuple[tuple[str, str], ...]


def base_env(environ: Mapping[str, str]) -> Environ:
    """The variables of `environ` a run may see: BASE_ENV_NAMES and LC_*, sorted by name."""
    return tuple(
        sorted(
            (name, value)
            for name, value in environ.items()
            if name in BASE_ENV_NAMES or name.startswith("LC_")
        )
    )


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    slots: int = 64  # node runs at once
    heartbeat_s: float = 3.0
    shutdown_grace_s: float = 30.0  # how long runs in progress may finish at shutdown
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES  # a task's stdout kept per node
    base_env: Environ = ()  # the environment local runs start from

    def prefetch(self, batch: int) -> int:
        """Deliveries of `batch` items taken ahead: as many as the slots can start."""
        return max(1, self.slots // batch)
