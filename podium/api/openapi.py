"""The OpenAPI 3.1 document, built from the routes the app registers and what each handler's
`Operation` says: its request model (pydantic), its answer (a msgspec Struct of `answers`), the
ApiErrors it can raise (each knows its status and kind), its parameters and its links. Nothing
here is written as JSON by hand: schemas come from `models_json_schema` and
`msgspec.json.schema_components`. Pure: routes in, a document out.

A route whose handler has no Operation is still listed, marked `x-undescribed`, so that the
document never fails to build; a test fails on it instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import msgspec
from aiohttp import web
from pydantic import BaseModel

from podium.api import answers
from podium.api.bodies import SCHEMAS, openapi_schemas
from podium.api.errors import (
    ApiError,
    BodyTooLarge,
    NotFound,
    RequestTimeout,
    TokenExpired,
    TokenRevoked,
    Unauthenticated,
    UserRevoked,
    ValidationError,
)
from podium.jsontypes import Json

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RouteKey = tuple[str, str, Handler]  # method, path template, handler
OPENAPI_VERSION: Final = "3.1.0"
# Any endpoint behind a token: a missing, unknown, expired or revoked one, or a header that is
# not ASCII text (a validation-error).
AUTH_ERRORS: Final = (Unauthenticated, TokenExpired, TokenRevoked, UserRevoked, ValidationError)
BODY_ERRORS: Final = (ValidationError, RequestTimeout, BodyTooLarge)
EVENT_STREAM: Final = "text/event-stream"


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter or a header of an operation."""

    name: str
    schema: dict[str, Json]
    description: str = ""
    where: Literal["query", "header"] = "query"


@dataclass(frozen=True, slots=True)
class Follow:
    """An OpenAPI link: a value of this answer used by the operation of another handler.
    Values are runtime expressions (`$response.body#/job/name`)."""

    name: str
    to: Handler
    parameters: Mapping[str, str] = field(default_factory=dict)
    body: Json = None


@dataclass(frozen=True, slots=True)
class Operation:
    """What the document says of one handler. `answer` is the type of the body it answers
    with (a Struct of `answers`, or `str` for text); `statuses` answer with it; `errors` are the
    ApiErrors it raises besides those of every endpoint (authentication) and of every body. An
    `answer` of None is an answer without a body (204)."""

    summary: str
    answer: type | None
    statuses: tuple[int, ...] = (200,)
    body: type[BaseModel] | None = None
    models: tuple[type[BaseModel], ...] = ()  # that the body's schema names besides its own
    errors: tuple[type[ApiError], ...] = ()
    params: tuple[Param, ...] = ()
    path: Mapping[str, dict[str, Json]] = field(default_factory=dict)
    follow: tuple[Follow, ...] = ()
    media: str | tuple[str, ...] = "application/json"  # the answer's media type(s)
    events: type[msgspec.Struct] | None = (
        None  # also answers `text/event-stream`, each event's data one of these
    )
    public: bool = False  # needs no token
    description: str = ""


def routes_of(app: web.Application) -> tuple[RouteKey, ...]:
    """(method, path template, handler) of every route, HEAD (aiohttp's twin of GET) aside."""
    return tuple(
        (route.method, route.resource.canonical, route.handler)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    )


def build_document(
    routes: Iterable[RouteKey], operations: Mapping[Handler, Operation], version: str
) -> dict[str, Json]:
    """The OpenAPI document of `routes`; paths are absolute (the server is the host)."""
    routes = list(routes)
    described = [operations[handler] for _, _, handler in routes if handler in operations]
    schemas, answer_schema = _schemas(described)
    paths: dict[str, dict[str, Json]] = {}
    named: set[str] = set()
    for method, path, handler in routes:
        operation = operations.get(handler)
        entry = (
            _undescribed(path) if operation is None else _operation(path, operation, answer_schema)
        )
        entry["operationId"] = _unique(handler.__name__, path, named)
        paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Podium orchestrator API",
            "version": version,
            "description": "The Puppet orchestrator v1 API as Podium serves it, with Podium's "
            "admin endpoints under /podium/v1. Every error is {kind, msg, details}.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "X-Authentication"}
            },
        },
        "security": [{"token": []}],
    }


def _schemas(operations: Sequence[Operation]) -> tuple[dict[str, Json], Callable[[type], Json]]:
    """Every component schema, and the schema of each answer type."""
    bodies = list(
        dict.fromkeys(
            model for op in operations for model in (op.body, *op.models) if model is not None
        )
    )
    answer_types = list(
        dict.fromkeys(
            [
                answers.Error,
                *(op.answer for op in operations if op.answer is not None),
                *(op.events for op in operations if op.events is not None),
            ]
        )
    )
    roots, components = msgspec.json.schema_components(
        answer_types, ref_template=SCHEMAS + "{name}"
    )
    from_models = openapi_schemas(bodies)
    clashes = set(from_models) & set(components)
    if clashes:
        raise ValueError(f"request and answer models share names: {sorted(clashes)}")
    by_type = dict(zip(answer_types, roots, strict=True))
    return {**from_models, **components}, lambda answer: by_type[answer]


def _unique(name: str, path: str, named: set[str]) -> str:
    """The handler's name; a handler serving a second route is named after that route too.
    Links name the first."""
    if name in named:
        name = f"{name}_at_{path.rstrip('/').rsplit('/', 1)[-1]}".replace("{", "").replace("}", "")
    named.add(name)
    return name


def _operation(path: str, op: Operation, answer_schema: Callable[[type], Json]) -> dict[str, Json]:
    entry: dict[str, Json] = {
        "summary": op.summary,
        "tags": [_tag(path)],
        "responses": {**_answers(op, answer_schema), **_errors(op, path)},
    }
    if op.description:
        entry["description"] = op.description
    parameters = [_path_param(name, op) for name in _path_names(path)]
    parameters += [
        {"name": p.name, "in": p.where, "schema": p.schema, "description": p.description}
        for p in op.params
    ]
    if parameters:
        entry["parameters"] = parameters
    if op.body is not None:
        schema = {"$ref": f"{SCHEMAS}{op.body.__name__}"}
        entry["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    if op.public:
        entry["security"] = []
    return entry


def _answers(op: Operation, answer_schema: Callable[[type], Json]) -> dict[str, Json]:
    content: dict[str, Json] = {}
    if op.answer is not None:
        for media in (op.media,) if isinstance(op.media, str) else op.media:
            content[media] = {"schema": answer_schema(op.answer)}
    if op.events is not None:
        content[EVENT_STREAM] = {"schema": _event_schema(op.events.__name__)}
    described: dict[str, Json] = {}
    for status in op.statuses:
        response: dict[str, Json] = {"description": _reason(status)}
        if content:
            response["content"] = content
        if op.follow and status < 300:
            response["links"] = {link.name: _link(link) for link in op.follow}
        described[str(status)] = response
    return described


def _event_schema(data: str) -> dict[str, Json]:
    """One Server-Sent Event: `id` is the event's log position (send it back as
    Last-Event-ID to resume), `event` its type, `data` the event (schema `data`) as JSON."""
    return {
        "type": "object",
        "required": ["id", "event", "data"],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "event": {"type": "string"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": f"{SCHEMAS}{data}"},
            },
        },
    }


def _link(link: Follow) -> dict[str, Json]:
    described: dict[str, Json] = {"operationId": link.to.__name__}
    if link.parameters:
        described["parameters"] = dict(link.parameters)
    if link.body is not None:
        described["requestBody"] = link.body
    return described


def _errors(op: Operation, path: str) -> dict[str, Json]:
    """One response per error status, its `kind` one of those the errors of that status have."""
    errors: list[type[ApiError]] = [] if op.public else list(AUTH_ERRORS)
    if op.body is not None:
        errors += BODY_ERRORS
    if "{" in path:  # a value the route's pattern does not take is a path no route serves
        errors.append(NotFound)
    errors += op.errors
    by_status: dict[int, dict[str, str]] = {}
    for error in errors:
        by_status.setdefault(error.status, {})[error.kind] = _raised_for(error)
    return {
        str(status): {
            "description": " ".join(f"{kind}: {why}" for kind, why in sorted(kinds.items())),
            "content": {
                "application/json": {
                    "schema": {
                        "$ref": f"{SCHEMAS}Error",
                        "properties": {"kind": {"enum": sorted(kinds)}},
                    }
                }
            },
        }
        for status, kinds in sorted(by_status.items())
    }


def _raised_for(error: type[ApiError]) -> str:
    """The first sentence of the error's docstring ("Raised for ...")."""
    doc = " ".join((error.__doc__ or error.__name__).split())
    return doc.split(". ")[0].rstrip(".") + "."


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _path_param(name: str, op: Operation) -> dict[str, Json]:
    schema = op.path.get(name, {"type": "string", "minLength": 1})
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _tag(path: str) -> str:
    """The part of the path after the API's version: `command`, `jobs`, `users` ..."""
    parts = [part for part in path.split("/") if part]
    rest = parts[2:] if len(parts) > 2 else parts[:1]
    return rest[0] if rest else "root"


def _reason(status: int) -> str:
    reasons = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 503: "Unavailable"}
    return reasons.get(status, "")


def _undescribed(path: str) -> dict[str, Json]:
    return {
        "summary": f"{path} (not described yet)",
        "x-undescribed": True,
        "responses": {"default": {"description": "Not described"}},
    }
