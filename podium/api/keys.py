"""Typed keys for what handlers share: the app's collaborators and the request's user."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from aiohttp import web

from podium.api.puppetdb import PuppetDb
from podium.api.scopes import LocalQueries
from podium.api.sources import InventoryHolder
from podium.environments import Environments
from podium.events.producer import Producer
from podium.events.projector import Projector


@dataclass(frozen=True, slots=True)
class ApiSettings:
    public_url: str | None = None  # e.g. https://orch.example.com:8143; else from the request
    submit_timeout_s: float = 10.0
    max_body_bytes: int = 1024 * 1024


PROJECTOR = web.AppKey("projector", Projector)
PRODUCER = web.AppKey("producer", Producer)
ENVIRONMENTS = web.AppKey("environments", Environments)
INVENTORY = web.AppKey("inventory", InventoryHolder)
PUPPETDB: web.AppKey[PuppetDb | None] = web.AppKey("puppetdb")
LOCAL_QUERIES = web.AppKey("local_queries", LocalQueries)
SETTINGS = web.AppKey("settings", ApiSettings)
Clock = Callable[[], float]
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
# Ids of command requests: unique across replicas and restarts (a random prefix per app), and
# cheap enough to take one per request.
REQUEST_IDS: web.AppKey[Iterator[str]] = web.AppKey("request_ids")


def request_ids() -> Iterator[str]:
    prefix = secrets.token_hex(8)
    return (f"{prefix}-{n}" for n in itertools.count(1))


USER = web.RequestKey("user", str)


def base_url(request: web.Request) -> str:
    """Absolute URLs start from the configured public URL, else the request's scheme and Host."""
    public = request.app[SETTINGS].public_url
    root = public.rstrip("/") if public else f"{request.scheme}://{request.host}"
    return f"{root}/orchestrator/v1"
