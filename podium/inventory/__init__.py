"""The inventory: a Bolt-style inventory v2 YAML file, loaded and merged into targets.

Owns parsing, the naming rules and the merge rules (config key by key, facts and vars merged,
features united). Must not touch transports or scopes: they read `Inventory`, nothing more.
"""

from podium.inventory.loader import InventoryError, load_inventory, parse_inventory
from podium.inventory.model import Inventory, InventoryTarget

__all__ = ["Inventory", "InventoryError", "InventoryTarget", "load_inventory", "parse_inventory"]
