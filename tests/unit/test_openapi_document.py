"""The OpenAPI document built from the api's route table, without a server: every route has an
Operation (a new endpoint without one fails here, in the unit tests every change runs), links
name operations that exist, and the rules the request models check are in their schemas."""

from __future__ import annotations

import re

from aiohttp import web

from podium.api.app import ROUTES
from podium.api.bodies import NODE_NAME, DeployCommand, openapi_schemas
from podium.api.openapi import build_document, routes_of
from podium.api.operations import OPERATIONS
from podium.jsontypes import Json
from podium.rbac.lifetime import LIFETIME_PATTERN, MAX_LIFETIME_S, parse_lifetime
from podium.rbac.permissions import ADMIN_PERMISSIONS, parse_permission, permission_pattern


def document() -> Json:
    app = web.Application()
    app.add_routes(ROUTES)
    return build_document(routes_of(app), OPERATIONS, "test")


def test_every_route_of_the_api_has_an_operation() -> None:
    app = web.Application()
    app.add_routes(ROUTES)
    undescribed = [
        f"{method} {path} ({handler.__module__}.{handler.__name__})"
        for method, path, handler in routes_of(app)
        if handler not in OPERATIONS
    ]
    assert undescribed == [], "add an Operation to podium/api/operations.py for each"


def test_every_link_names_an_operation_of_the_document() -> None:
    described = document()
    operations = [op for methods in described["paths"].values() for op in methods.values()]
    ids = {op["operationId"] for op in operations}
    targets = [
        link["operationId"]
        for op in operations
        for answer in op["responses"].values()
        for link in answer.get("links", {}).values()
    ]
    assert len(targets) >= 15
    assert set(targets) <= ids


def test_the_deploy_schema_refuses_what_its_validator_refuses() -> None:
    rules = openapi_schemas([DeployCommand])["DeployCommand"]["allOf"]
    refused = [rule["not"] for rule in rules]
    assert {"required": ["scope", "target"]} in refused
    assert any(rule.get("properties", {}).get("no_noop") == {"const": True} for rule in refused)


def test_the_permission_pattern_takes_exactly_what_parse_permission_takes() -> None:
    pattern = re.compile(permission_pattern())
    for permission in ADMIN_PERMISSIONS:
        assert pattern.match(str(permission))
        assert parse_permission(str(permission)) == permission
    for text in ("puppet_agent:run:web-1", "tasks:run", "tasks:fly:*", "users:edit:a b"):
        assert not pattern.match(text)


def test_the_lifetime_pattern_offers_only_lifetimes_parse_lifetime_takes() -> None:
    pattern = re.compile(LIFETIME_PATTERN)
    for text in ("99999999", "99999999s", "999999m", "9999h", "999d", "99w", "30d"):
        assert pattern.match(text)
        assert 0 < parse_lifetime(text) <= MAX_LIFETIME_S
    for text in ("0", "1y", "100w", "1000d", "30 d"):
        assert not pattern.match(text)


def test_a_node_name_is_anything_but_whitespace_and_commas() -> None:
    pattern = re.compile(NODE_NAME)
    assert pattern.match("web-01.example.com")
    for name in ("a b", "a,b", "a\x85", "a\ufeff", "a\x1c", "a\u3000", ""):
        assert not pattern.match(name)
