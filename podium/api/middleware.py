"""Middlewares: every error rendered as `{kind, msg, details}`, and token authentication."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

import structlog
from aiohttp import web

from podium.api.errors import (
    ApiError,
    BodyTooLarge,
    InternalError,
    MethodNotAllowed,
    NotFound,
    RequestTimeout,
    TokenExpired,
    TokenRevoked,
    Unauthenticated,
    Unavailable,
    UserRevoked,
    ValidationError,
)
from podium.api.keys import CLOCK, PROJECTOR, SETTINGS, USER
from podium.api.webview import is_open
from podium.auth import token_sha256
from podium.events.ports import PortError
from podium.events.state import User
from podium.rbac import decide
from podium.rbac.decide import Refusal

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PREFIXES: Final = ("/status/",)  # health checks answer without a token
# The API's description: no data in it, and a browser opening the docs has no token to send.
OPEN_PATHS: Final = frozenset({"/orchestrator/v1/openapi.json", "/orchestrator/v1/docs"})


def error_response(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(_from_http(exc, request))
        if isinstance(exc, web.HTTPMethodNotAllowed):  # RFC 9110: a 405 says what is allowed
            response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return response
    except PortError as exc:
        log.warning("command not accepted", error=str(exc))
        return error_response(Unavailable(f"The event log is unavailable: {exc}"))
    except Exception:
        log.exception("internal error", method=request.method, path=request.path)
        return error_response(InternalError("Internal error; see the server log"))


def _from_http(exc: web.HTTPException, request: web.Request) -> ApiError:
    if exc.status == 404:
        return NotFound(f"No such endpoint: {request.path}", path=request.path)
    if exc.status == 405:
        return MethodNotAllowed(f"{request.method} is not allowed on {request.path}")
    if exc.status == 413:
        return BodyTooLarge(f"The request body is larger than the limit: {exc.text}")
    return ApiError(exc.reason, status=exc.status)


@web.middleware
async def read_body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read the whole body first, within the request timeout, so a client that never sends it
    holds no handler: it gets a 408 and the connection is closed. Handlers' `read()` then
    returns the body read here."""
    if request.body_exists and request.content.is_eof():
        await request.read()  # the whole body came with the head: nothing to wait for
    elif request.body_exists:
        timeout_s = request.app[SETTINGS].request_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                await request.read()
        except TimeoutError:
            log.info("request body too slow", method=request.method, path=request.path)
            response = error_response(
                RequestTimeout(f"The request body did not arrive within {timeout_s:g} s")
            )
            response.force_close()
            return response
    return await handler(request)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (
        request.path.startswith(OPEN_PREFIXES)
        or request.path in OPEN_PATHS
        or is_open(request.path)
    ):
        return await handler(request)
    token = request.headers.get("X-Authentication")
    if not token:
        raise Unauthenticated("Authentication is required: send a token in X-Authentication")
    if not token.isascii():  # tokens are ASCII; aiohttp hands other bytes on as surrogates
        raise ValidationError(
            "The X-Authentication header must be a token (ASCII text)", header="X-Authentication"
        )
    state, now = request.app[PROJECTOR].state, request.app[CLOCK]()
    found = decide.authenticate(state, token_sha256(token), now)
    if not isinstance(found, User):
        error, msg = _REFUSALS[found]
        raise error(msg)
    request[USER] = found.id
    return await handler(request)


_REFUSALS: Final[dict[Refusal, tuple[type[Unauthenticated], str]]] = {
    Refusal.UNKNOWN: (Unauthenticated, "The token in X-Authentication is not valid"),
    Refusal.EXPIRED: (TokenExpired, "The token in X-Authentication has expired"),
    Refusal.REVOKED: (TokenRevoked, "The token in X-Authentication has been revoked"),
    Refusal.DISABLED: (UserRevoked, "The user of the token in X-Authentication is disabled"),
}
