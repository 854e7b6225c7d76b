"""`ApiClient`: JSON over HTTP with a token, errors in the orchestrator's `{kind, msg, details}`
turned into `ApiError`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

JsonObject = dict[str, Any]


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

    async def get(self, path: str) -> JsonObject:
        return await self._request("GET", path, None)

    async def post(self, path: str, body: JsonObject) -> JsonObject:
        return await self._request("POST", path, body)

    async def _request(self, method: str, path: str, body: JsonObject | None) -> JsonObject:
        """Raises ApiError for an error answer, ClientError for anything not an answer."""
        url = f"{self._url}{path}"
        try:
            async with self._session.request(
                method, url, json=body, headers=self._headers
            ) as response:
                try:
                    answer = await response.json(content_type=None)
                except ValueError as exc:
                    raise ClientError(f"{method} {url}: {response.status}, not JSON") from exc
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ClientError(f"cannot reach {self._url}: {exc or type(exc).__name__}") from exc
        if not isinstance(answer, dict):
            raise ClientError(f"{method} {url}: {status}, not a JSON object")
        if status >= 400:
            raise ApiError(
                status,
                str(answer.get("kind", "")),
                str(answer.get("msg", "")),
                answer.get("details") or {},
            )
        return answer
