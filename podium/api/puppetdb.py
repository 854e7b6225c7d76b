"""A real PuppetDB, when one is configured (`--puppetdb-url`): it answers `query` scopes and node
groups, and holds the facts `GET /inventory/<node>` shows.

A query goes unchanged (AST or PQL) to PuppetDB's root query endpoint, `/pdb/query/v4`, and
the certnames of the rows that come back are the targets. PuppetDB's own verdicts become the
orchestrator's error kinds at this edge: a 4xx is the query's fault (`query-error`, carrying
PuppetDB's message); no answer, a 5xx or an answer that is not rows of UTF-8 JSON, or is larger
than `max_answer_bytes`, is `puppetdb-error`.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from typing import Final

import aiohttp
from aiohttp import web

from podium.api.errors import PuppetDbError, QueryError
from podium.api.settings import PuppetDbSettings
from podium.jsontypes import Json

QUERY_PATH: Final = "/pdb/query/v4"
MAX_MESSAGE_CHARS: Final = 500


class PuppetDb:
    """One client session per process, opened and closed with the api (`session_context`)."""

    def __init__(self, settings: PuppetDbSettings) -> None:
        self.settings = settings
        self._ssl = _ssl_context(settings)
        self._session: aiohttp.ClientSession | None = None

    async def session_context(self, app: web.Application) -> AsyncIterator[None]:
        """An aiohttp cleanup context: the session lives as long as the app."""
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self._session = session
            yield
            self._session = None

    async def certnames(self, query: Json) -> list[str]:
        """The certnames of the query's rows, first appearance first. Raises QueryError or
        PuppetDbError."""
        rows = await self._rows(query)
        if rows and not all(isinstance(row.get("certname"), str) for row in rows):
            raise QueryError("The query must return certname", url=self.settings.url)
        return list(dict.fromkeys(row["certname"] for row in rows))

    async def facts(self, certname: str) -> dict[str, Json] | None:
        """The node's facts as PuppetDB holds them, None when it holds none. Raises QueryError
        or PuppetDbError."""
        query = ["from", "inventory", ["extract", ["facts"], ["=", "certname", certname]]]
        rows = await self._rows(query)
        facts = rows[0].get("facts") if rows else None
        return facts if isinstance(facts, dict) else None

    async def _rows(self, query: Json) -> list[dict[str, Json]]:
        if self._session is None:
            raise PuppetDbError("The PuppetDB client is not running")
        url = self.settings.url.rstrip("/") + QUERY_PATH
        try:
            async with self._session.post(url, json={"query": query}, ssl=self._ssl) as answer:
                body = await _read(answer, self.settings.max_answer_bytes, self.settings.url)
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as exc:
            reason = str(exc) or type(exc).__name__
            raise PuppetDbError(
                f"PuppetDB at {self.settings.url} could not be reached: {reason}",
                url=self.settings.url,
            ) from exc
        return _rows(status, body, self.settings.url)


async def _read(answer: aiohttp.ClientResponse, max_bytes: int, url: str) -> bytes:
    """The answer's body, refused (PuppetDbError) as soon as it grows past `max_bytes`."""
    body = bytearray()
    async for chunk in answer.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > max_bytes:
            raise PuppetDbError(
                f"PuppetDB's answer is larger than {max_bytes} bytes", url=url, max_bytes=max_bytes
            )
    return bytes(body)


def _rows(status: int, body: bytes, url: str) -> list[dict[str, Json]]:
    message = (
        body[: MAX_MESSAGE_CHARS * 4].decode("utf-8", errors="replace").strip()[:MAX_MESSAGE_CHARS]
    )
    if 400 <= status < 500:
        raise QueryError(f"PuppetDB refused the query: {message}", status_code=status)
    if status != 200:
        raise PuppetDbError(f"PuppetDB answered {status}: {message}", url=url, status_code=status)
    try:
        rows = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PuppetDbError(f"PuppetDB's answer is not UTF-8: {exc}", url=url) from exc
    except (ValueError, RecursionError) as exc:
        raise PuppetDbError("PuppetDB's answer is not JSON", url=url) from exc
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise PuppetDbError("PuppetDB's answer is not a list of rows", url=url)
    return rows


def _ssl_context(settings: PuppetDbSettings) -> ssl.SSLContext | bool:
    """True (aiohttp's default) for plain HTTP; otherwise the CA to trust and the client
    certificate to present. Raises OSError or ssl.SSLError for unusable files, at start-up
    rather than at the first query."""
    if not settings.url.startswith("https://"):
        return True
    context = ssl.create_default_context(cafile=str(settings.ca) if settings.ca else None)
    if settings.cert is not None:
        context.load_cert_chain(str(settings.cert), str(settings.key) if settings.key else None)
    return context
