"""Typed keys for what handlers share: the app's collaborators and the request's user."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from aiohttp import web

from podium.api.puppetdb import PuppetDb
from podium.api.scopes import LocalQueries
from podium.api.settings import ApiSettings
from podium.api.sources import InventoryHolder
from podium.environments import Environments
from podium.events.ports import EventLog
from podium.events.producer import Producer
from podium.events.projector import Projector
from podium.history.reads import JobReader, PlanReader

if TYPE_CHECKING:
    from podium.api.submit import Unfolded

PROJECTOR = web.AppKey("projector", Projector)
# The log itself, read again from its start for answers about the past (time travel, usage).
EVENT_LOG = web.AppKey("event_log", EventLog)
PRODUCER = web.AppKey("producer", Producer)
# This api's commands on the log and not yet folded here (podium.api.submit).
UNFOLDED: web.AppKey[Unfolded] = web.AppKey("unfolded")
JOBS = web.AppKey("jobs", JobReader)  # every job, live or archived
PLANS = web.AppKey("plans", PlanReader)  # every plan job, live or archived
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
    """Absolute URLs start from the configured public URL, else from the request's Host when we
    trust it (our own address, or an allowed host), else from the address the request came in on:
    a client cannot plant links to elsewhere in answers that others read."""
    settings = request.app[SETTINGS]
    if settings.public_url:
        return f"{settings.public_url.rstrip('/')}/orchestrator/v1"
    own = _local_address(request)
    host = request.host.lower()
    trusted = host == own or host in settings.allowed_hosts
    if not trusted and settings.allowed_hosts:
        trusted = host.rsplit(":", 1)[0] in settings.allowed_hosts  # an allowed name, any port
    return f"{request.scheme}://{host if trusted else own}/orchestrator/v1"


def _local_address(request: web.Request) -> str:
    """host:port of the socket the request arrived on, as a Host header would spell it."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        return request.host.lower()  # not over a socket (a test double): nothing better to use
    host, port = str(sockname[0]), int(sockname[1])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
