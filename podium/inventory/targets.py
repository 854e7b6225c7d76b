"""The nodes of a job as its `JobRequested` carries them: grouped by transport, settings and
features, so that each group is stated once and the job replays from the log alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from podium.events.model import Target
from podium.inventory.model import Inventory

_encode: Final = msgspec.json.Encoder(order="sorted").encode


def targets_for(nodes: Sequence[str], inventory: Inventory) -> list[Target]:
    """Group nodes that share transport, settings and features, so each is stated once."""
    groups: dict[bytes, tuple[str, dict[str, object], list[str], list[str]]] = {}
    for node in nodes:
        target = inventory.target(node)
        features = sorted(target.features)
        key = _encode((target.transport, target.config, features))
        group = groups.get(key)
        if group is None:
            groups[key] = (target.transport, dict(target.config), [node], features)
        else:
            group[2].append(node)
    return [
        Target(t, config, members, features) for t, config, members, features in groups.values()
    ]
