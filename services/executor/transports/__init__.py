"""Transports: how a node run reaches its node. `sim` simulates, `local` runs on this host."""

from services.executor.transports.base import RunError, Transport

__all__ = ["RunError", "Transport"]
