"""Transports: how a node run reaches its node. `sim` simulates, `local` runs on this host."""

from podium.executor.transports.base import RunError, Transport

__all__ = ["RunError", "Transport"]
