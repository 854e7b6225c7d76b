"""The live web view: one page, its script and its style, served at `/` from package data.

The files hold no data and need no token: the page signs in with a token the user types, keeps
it in the browser's sessionStorage and sends it in `X-Authentication` to the JSON endpoints and
their event streams, never in a URL. The Content-Security-Policy lets the page load nothing but
these files and talk to nothing but this server.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Final

from aiohttp import web

from podium.api.errors import NotFound

PAGE: Final = "/"
ASSETS_PREFIX: Final = "/ui/"
_TYPES: Final = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "app.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidated each load: an upgrade shows at once
}


ASSETS: Final = tuple(name for name in _TYPES if name != "index.html")


def is_open(path: str) -> bool:
    """The page and its files: served without a token (they carry no data)."""
    return path == PAGE or path.startswith(ASSETS_PREFIX)


@cache
def _read(name: str) -> bytes:
    return resources.files("podium.api").joinpath("static", name).read_bytes()


def _answer(name: str) -> web.Response:
    return web.Response(
        body=_read(name), content_type=_TYPES[name], charset="utf-8", headers=HEADERS
    )


async def page(request: web.Request) -> web.Response:
    """GET /: the web view."""
    return _answer("index.html")


async def asset(request: web.Request) -> web.Response:
    """GET /ui/<file>: the page's script, style and icon."""
    name = request.match_info["name"]
    if name not in _TYPES or name == "index.html":
        raise NotFound(f"No such file: {request.path}", path=request.path)
    return _answer(name)


WEB_ROUTES: Final = [web.get(PAGE, page), web.get(f"{ASSETS_PREFIX}{{name}}", asset)]
