"""`ApiClient`: JSON over HTTP with a token, errors in the orchestrator's `{kind, msg, details}`
turned into `ApiError`, and Server-Sent Events streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp

from podium.client.sse import SseDecoder, SseEvent

JsonObject = dict[str, Any]
# A stream sends a keep-alive every 15 s: one silent for this long has been lost.
STREAM_SILENT_S: Final = 40.0


class ClientError(Exception):
    """Raised when the server cannot be reached or does not answer in JSON."""


@dataclass
class ApiError(ClientError):
    """Raised for an answer of 400 or more: the server's status, kind, message and details."""

    status: int
    kind: str
    msg: str
    details: JsonObject = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.kind}: {self.msg}"


class StreamBroken(ClientError):
    """Raised when an event stream is cut before its end: resume it from the last event."""


class ApiClient:
    """One session to `url` (e.g. http://127.0.0.1:8143) sending `token` on every request."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self._session = session
        self._url = url.rstrip("/")
        self._headers = {"X-Authentication": token}

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, token: str, timeout_s: float = 30.0) -> AsyncIterator[ApiClient]:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            yield cls(session, url, token)

    async def get(self, path: str, query: Mapping[str, str] | None = None) -> JsonObject:
        return await self._request("GET", path, None, query)

    async def post(self, path: str, body: JsonObject) -> JsonObject:
        return await self._request("POST", path, body)

    async def delete(self, path: str) -> None:
        """Raises ApiError for an error answer, ClientError for anything not an answer."""
        url = f"{self._url}{path}"
        try:
            async with self._session.delete(url, headers=self._headers) as response:
                if response.status < 400:
                    return
                answer = await _json(response, "DELETE", url)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ClientError(f"cannot reach {self._url}: {exc or type(exc).__name__}") from exc
        raise _error_of(response.status, answer)

    async def events(self, path: str, last_event_id: int | None) -> AsyncIterator[SseEvent]:
        """The events of an SSE stream, from after `last_event_id` (from its start when None).
        Raises ApiError for an error answer, StreamBroken when the connection is lost or goes
        silent; a stream the server ends simply ends."""
        headers = {**self._headers, "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=STREAM_SILENT_S)
        url = f"{self._url}{path}"
        try:
            async with self._session.get(url, headers=headers, timeout=timeout) as response:
                if response.status >= 400:
                    raise _error_of(response.status, await _json(response, "GET", url))
                decoder = SseDecoder()
                async for chunk in response.content.iter_any():
                    for event in decoder.feed(chunk):
                        yield event
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
            raise StreamBroken(f"{url}: {exc or type(exc).__name__}") from exc

    async def _request(
        self,
        method: str,
        path: str,
        body: JsonObject | None,
        query: Mapping[str, str] | None = None,
    ) -> JsonObject:
        """Raises ApiError for an error answer, ClientError for anything not an answer."""
        url = f"{self._url}{path}"
        try:
            async with self._session.request(
                method, url, json=body, headers=self._headers, params=query
            ) as response:
                answer = await _json(response, method, url)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ClientError(f"cannot reach {self._url}: {exc or type(exc).__name__}") from exc
        if status >= 400:
            raise _error_of(status, answer)
        return answer


async def _json(response: aiohttp.ClientResponse, method: str, url: str) -> JsonObject:
    """Raises ClientError for an answer that is not a JSON object."""
    try:
        answer = await response.json(content_type=None)
    except ValueError as exc:
        raise ClientError(f"{method} {url}: {response.status}, not JSON") from exc
    if not isinstance(answer, dict):
        raise ClientError(f"{method} {url}: {response.status}, not a JSON object")
    return answer


def _error_of(status: int, answer: JsonObject) -> ApiError:
    return ApiError(
        status, str(answer.get("kind", "")), str(answer.get("msg", "")), answer.get("details") or {}
    )
