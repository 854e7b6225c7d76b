"""Crash points for tests: named places in the embedded log's and the pruner's writes where a
test process can be made to die at once (SIGKILL, as `kill -9` would), to check that what is
left on disk opens and loses nothing.

Nothing happens unless `arm` was called; only the command line calls it, and only when
`PODIUM_TEST_CRASH_AT=<name>[:<n>]` is set (die the n-th time the point is reached, the first
by default). Points: `roll-sealed`, `roll-indexed`, `roll-created` (starting a segment),
`base-written` (a base snapshot saved), `delete-segment` (before each segment deleted),
`delete-bases`, `delete-before-fsync`, `move-in`, `rebuild-folded` (each record a rebuild folds).
"""

from __future__ import annotations

import os
import signal
from typing import Final

CRASH_VARIABLE: Final = "PODIUM_TEST_CRASH_AT"
_armed: dict[str, int] = {}


def arm(spec: str) -> None:
    """`name` or `name:n`: die the n-th time `crash_point(name)` runs."""
    name, _, count = spec.partition(":")
    _armed[name] = int(count) if count else 1


def crash_point(name: str) -> None:
    if not _armed or name not in _armed:
        return
    _armed[name] -= 1
    if _armed[name] <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
