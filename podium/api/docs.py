"""GET /orchestrator/v1/openapi.json and GET /orchestrator/v1/docs: the API described, as
JSON and as a page for people. Neither needs a token: they describe the API, not its data.

The page is plain HTML rendered here from the document, with no script and nothing fetched from
elsewhere (Podium may run where the internet is out of reach).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Final

import msgspec
from aiohttp import web

from podium.api.keys import base_url
from podium.api.openapi import Handler, Operation, build_document, routes_of
from podium.health import VERSION
from podium.jsontypes import Json

_encode: Final = msgspec.json.Encoder().encode


class Described:
    """The operations of an app's handlers, and its document once built (the routes of a
    running app do not change)."""

    def __init__(self, operations: Mapping[Handler, Operation]) -> None:
        self.operations = operations
        self._document: bytes | None = None

    def document(self, app: web.Application) -> bytes:
        """The document without its server."""
        if self._document is None:
            self._document = _encode(build_document(routes_of(app), self.operations, VERSION))
        return self._document


DESCRIBED = web.AppKey("described", Described)


def document(app: web.Application) -> bytes:
    return app[DESCRIBED].document(app)


def _server(request: web.Request) -> str:
    return base_url(request).removesuffix("/orchestrator/v1")


async def openapi_json(request: web.Request) -> web.Response:
    """GET /orchestrator/v1/openapi.json, its server the address the client used."""
    described = json.loads(document(request.app))
    described["servers"] = [{"url": _server(request)}]
    return web.json_response(described, dumps=lambda value: _encode(value).decode())


async def docs_page(request: web.Request) -> web.Response:
    """GET /orchestrator/v1/docs"""
    page = render_page(json.loads(document(request.app)), _server(request))
    return web.Response(text=page, content_type="text/html", charset="utf-8")


def render_page(described: dict[str, Json], server: str) -> str:
    """Every operation, grouped by tag, with its parameters, body, answers and error kinds."""
    by_tag: dict[str, list[str]] = {}
    for path, methods in described["paths"].items():
        for method, operation in methods.items():
            tag = (operation.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation_html(method, path, operation))
    sections = "".join(
        f'<section><h2 id="{escape(tag)}">{escape(tag)}</h2>{"".join(parts)}</section>'
        for tag, parts in by_tag.items()
    )
    index = " · ".join(f'<a href="#{escape(tag)}">{escape(tag)}</a>' for tag in by_tag)
    schemas = "".join(
        f'<details id="schema-{escape(name)}"><summary>{escape(name)}</summary>'
        f"<pre>{escape(json.dumps(schema, indent=2))}</pre></details>"
        for name, schema in described["components"]["schemas"].items()
    )
    info = described["info"]
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(info['title'])}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(info['title'])} {escape(info['version'])}</h1>"
        f"<p>{escape(info.get('description', ''))}</p>"
        f"<p>Server: <code>{escape(server)}</code>. Send the token in "
        "<code>X-Authentication</code>. The document: "
        '<a href="openapi.json">openapi.json</a>.</p>'
        f"<nav>{index}</nav>{sections}<section><h2>Schemas</h2>{schemas}</section>"
        "</body></html>"
    )


def _operation_html(method: str, path: str, operation: dict[str, Json]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
        f"<td><code>{escape(json.dumps(p['schema']))}</code></td>"
        f"<td>{escape(p.get('description') or '')}</td></tr>"
        for p in operation.get("parameters", [])
    )
    params = f"<table>{rows}</table>" if rows else ""
    body = ""
    if "requestBody" in operation:
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        name = ref.rsplit("/", 1)[-1]
        body = f'<p>Body: <a href="#schema-{escape(name)}">{escape(name)}</a></p>'
    answers = "".join(
        f"<li><b>{escape(status)}</b> {escape(_answer_text(answer))}</li>"
        for status, answer in operation["responses"].items()
    )
    description = operation.get("description", "")
    return (
        f'<article><h3><span class="method">{escape(method.upper())}</span> '
        f"<code>{escape(path)}</code></h3><p>{escape(operation['summary'])}</p>"
        f"{f'<p>{escape(description)}</p>' if description else ''}"
        f"{params}{body}<ul>{answers}</ul></article>"
    )


def _answer_text(answer: dict[str, Json]) -> str:
    """A success names its schema and media types; an error its kinds and why."""
    content = answer.get("content", {})
    names = []
    for media, entry in content.items():
        ref = entry.get("schema", {}).get("$ref", "")
        names.append(f"{media} {ref.rsplit('/', 1)[-1]}".strip())
    return (
        f"{answer.get('description', '')} ({', '.join(names)})"
        if names
        else answer.get("description", "")
    )


_STYLE: Final = (
    "body{font-family:sans-serif;max-width:70em;margin:auto;padding:1em;color:#222}"
    "article{border-top:1px solid #ddd;padding:.3em 0}"
    ".method{display:inline-block;min-width:4em;color:#fff;background:#456;padding:0 .3em}"
    "table{border-collapse:collapse}td{border:1px solid #ddd;padding:.2em .4em;font-size:90%}"
    "pre{background:#f6f6f6;padding:.5em;overflow:auto}"
)
