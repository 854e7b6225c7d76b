"""How podium serves HTTP: the server under every app (the api's, and the health endpoints of a
role that serves no api), and the error format every answer shares.

A request aiohttp cannot parse (headers over its limits, a bad request line) never reaches the
middlewares; aiohttp answers it in plain text. `ApiRunner` serves the app with a protocol that
renders those answers as `{kind, msg, details}` like every other error. Its `keepalive_timeout`
also closes a connection that sends no complete request head in time: aiohttp starts that
clock when the connection opens and stops it only when a request's headers are complete.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from podium.jsontypes import Json

ORCH: Final = "puppetlabs.orchestrator"  # the prefix of every error kind


def error_body(kind: str, msg: str, details: dict[str, Json]) -> dict[str, Json]:
    """`{kind, msg, details}`: how every podium endpoint answers an error."""
    return {"kind": kind, "msg": msg, "details": details}


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
            body = error_body(f"{ORCH}/internal-error", "Internal error; see the server log", {})
        else:
            reason = message or getattr(exc, "message", None) or str(exc or "Bad request")
            msg = f"The request could not be read: {reason}"
            body = error_body(f"{ORCH}/validation-error", msg, {})
        del plain
        response = web.json_response(body, status=status)
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


def app_runner(app: web.Application, request_timeout_s: float) -> ApiRunner:
    """How podium serves an app: no access log, no signal handling of aiohttp's own, and a
    connection that sends no complete request head within `request_timeout_s` is closed."""
    return ApiRunner(
        app, access_log=None, handle_signals=False, keepalive_timeout=request_timeout_s
    )
