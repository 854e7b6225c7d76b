"""Which asyncio event loop a benchmark process runs on: the standard one, or uvloop."""

from __future__ import annotations

import asyncio


def install_loop(use_uvloop: bool) -> None:
    """Raises ModuleNotFoundError when uvloop is asked for and not installed (extra `bench`)."""
    if use_uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
