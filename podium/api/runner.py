"""The HTTP server under the app: what aiohttp answers before any handler runs.

A request aiohttp cannot parse (headers over its limits, a bad request line) never reaches the
middlewares; aiohttp answers it in plain text. `ApiRunner` serves the app with a protocol that
renders those answers as `{kind, msg, details}` like every other error. Its `keepalive_timeout`
also closes a connection that sends no complete request head in time: aiohttp starts that
clock when the connection opens and stops it only when a request's headers are complete.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from podium.api.errors import ApiError, InternalError


class _JsonErrorProtocol(RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        plain = super().handle_error(request, status, exc, message)  # logs, refuses if sent
        if status >= 500:
            error: ApiError = InternalError("Internal error; see the server log")
        else:
            reason = message or getattr(exc, "message", None) or str(exc or "Bad request")
            error = ApiError(f"The request could not be read: {reason}", status=status)
        del plain
        response = web.json_response(error.body(), status=error.status)
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorProtocol(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """An AppRunner whose connections answer unparseable requests in the api's error format."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        kwargs: dict[str, Any] = server._kwargs  # what aiohttp configured the protocol with
        return _JsonErrorServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            **kwargs,
        )


def api_runner(app: web.Application, request_timeout_s: float) -> ApiRunner:
    """How podium serves an app: no access log, no signal handling of aiohttp's own, and a
    connection that sends no complete request head within `request_timeout_s` is closed."""
    return ApiRunner(
        app, access_log=None, handle_signals=False, keepalive_timeout=request_timeout_s
    )
