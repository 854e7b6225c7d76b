"""An inventory file read again when it changes, for a process without the api's sources (the
scheduler resolving the targets of plan steps). A bad edit keeps the last good inventory."""

from __future__ import annotations

import os
from pathlib import Path

import structlog

from podium.inventory.loader import InventoryError, load_inventory
from podium.inventory.model import Inventory

log = structlog.get_logger(__name__)


class InventoryFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._inventory: Inventory | None = None

    def current(self) -> Inventory:
        """The inventory as the file says now. Raises InventoryError when it has never loaded."""
        try:
            stat = os.stat(self.path)
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError as exc:
            stamp = None
            if self._inventory is None:
                raise InventoryError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        if self._inventory is None or (stamp is not None and stamp != self._stamp):
            try:
                self._inventory = load_inventory(self.path)
                self._stamp = stamp
            except InventoryError as exc:
                if self._inventory is None:
                    raise
                log.warning("inventory not reloaded; the last good one stays", error=str(exc))
                self._stamp = stamp
        return self._inventory
