"""What scopes resolve against: the inventory and the node groups, loaded and replaced together.

A reload (SIGHUP, `POST /inventory/reload`, or the file watcher) builds a whole new `Sources`
first and swaps it in only if both files load, so a bad edit keeps the old ones in force and
readers never see half of a reload.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from podium.inventory import Inventory, InventoryError, load_inventory
from podium.node_groups import NodeGroupError, NodeGroups, load_node_groups

log = structlog.get_logger(__name__)
SourceError = (InventoryError, NodeGroupError)


@dataclass(frozen=True, slots=True)
class Sources:
    inventory: Inventory
    node_groups: NodeGroups
    loaded_at: float  # seconds since the epoch; the `facts_timestamp` of every node


@dataclass(frozen=True, slots=True)
class SourceFiles:
    inventory: Path
    node_groups: Path | None = None  # None: only the built-in All Nodes group

    def load(self, now: float) -> Sources:
        """Raises InventoryError or NodeGroupError naming the file and the entry."""
        inventory = load_inventory(self.inventory)
        groups = NodeGroups.default()
        if self.node_groups is not None:
            groups = load_node_groups(self.node_groups)
        return Sources(inventory, groups, now)

    def fingerprint(self) -> str:
        """Changes whenever either file's content does (or it appears or vanishes)."""
        digest = hashlib.sha256()
        for path in (self.inventory, self.node_groups):
            if path is not None:
                try:
                    digest.update(hashlib.sha256(path.read_bytes()).digest())
                except OSError:
                    digest.update(b"unreadable")
        return digest.hexdigest()


class InventoryHolder:
    """The sources in force. Readers take `sources` (or `current`) once per request."""

    def __init__(
        self,
        sources: Sources,
        files: SourceFiles | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sources = sources
        self.files = files
        self._clock = clock
        self._seen = files.fingerprint() if files is not None else ""

    @classmethod
    def load(cls, files: SourceFiles, clock: Callable[[], float] = time.time) -> InventoryHolder:
        """Raises InventoryError or NodeGroupError."""
        return cls(files.load(clock()), files, clock)

    @property
    def current(self) -> Inventory:
        return self.sources.inventory

    def reload(self) -> Sources:
        """Load both files again and put them in force. Raises InventoryError or NodeGroupError,
        and then the sources in force stay as they were."""
        if self.files is None:
            raise InventoryError("this inventory was not loaded from a file")
        fingerprint = self.files.fingerprint()
        sources = self.files.load(self._clock())
        self.sources, self._seen = sources, fingerprint
        log.info(
            "inventory loaded",
            nodes=len(sources.inventory.targets),
            node_groups=len(sources.node_groups.groups),
        )
        return sources

    def reload_if_changed(self) -> bool:
        """Reload when a file changed since the last load or attempt; True if it did reload.
        A file that fails to load is reported once, not at every check."""
        if self.files is None:
            return False
        fingerprint = self.files.fingerprint()
        if fingerprint == self._seen:
            return False
        self._seen = fingerprint
        return self.try_reload()

    def try_reload(self) -> bool:
        """Reload, logging a failure instead of raising it: for SIGHUP and the watcher, which
        have no one to raise it to. The sources in force stay as they were."""
        try:
            self.reload()
        except SourceError as exc:
            log.error("inventory not reloaded; the previous one stays in force", error=str(exc))
            return False
        except Exception:  # a loader bug must not stop the watcher, and with it the process
            log.exception("inventory not reloaded; the previous one stays in force")
            return False
        return True

    async def watch(self, interval_s: float) -> None:
        """Check the files every `interval_s` until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            self.reload_if_changed()
