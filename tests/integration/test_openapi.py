"""The OpenAPI document and the docs page: every route the app registers is described (a new
endpoint without an Operation fails here), with its errors by status and kind, and both are
served without a token. tests/e2e/test_openapi_fuzz.py checks the document against the server.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from podium.api.errors import ApiError
from podium.api.openapi import routes_of
from podium.jsontypes import Json
from tests.conftest import Api

V1 = "/orchestrator/v1"


async def document(api: Api) -> Json:
    response = await api.client.get(f"{V1}/openapi.json")  # no token
    assert response.status == 200, await response.text()
    return await response.json()


def every_kind(error: type[ApiError] = ApiError) -> set[str]:
    return {error.kind} | {kind for sub in error.__subclasses__() for kind in every_kind(sub)}


def app_of(api: Api) -> web.Application:
    app: Any = api.client.app
    assert isinstance(app, web.Application)
    return app


async def test_every_route_of_the_app_is_described_in_the_document(api: Api) -> None:
    described = await document(api)
    routes = routes_of(app_of(api))
    assert len(routes) > 30
    missing, undescribed = [], []
    for method, path, _ in routes:
        operation = described["paths"].get(path, {}).get(method.lower())
        if operation is None:
            missing.append(f"{method} {path}")
        elif operation.get("x-undescribed"):
            undescribed.append(f"{method} {path}: add an Operation to podium/api/operations.py")
    assert (missing, undescribed) == ([], [])
    operations = [op for methods in described["paths"].values() for op in methods.values()]
    assert len(operations) == len(routes)
    ids = [op["operationId"] for op in operations]
    assert len(set(ids)) == len(ids)


async def test_each_answer_has_a_schema_and_each_error_its_kinds(api: Api) -> None:
    described = await document(api)
    known_kinds = every_kind()
    schemas = described["components"]["schemas"]
    for path, methods in described["paths"].items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            for status, answer in operation["responses"].items():
                if "content" not in answer:
                    assert status == "204", where  # only No Content has no body
                    continue
                (_, content), *_ = answer["content"].items()
                assert content["schema"], where
                if int(status) >= 400 and "kind" in content["schema"].get("properties", {}):
                    kinds = set(content["schema"]["properties"]["kind"]["enum"])
                    assert kinds <= known_kinds, where
                    assert content["schema"]["$ref"] == "#/components/schemas/Error", where
            if "requestBody" in operation:
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[-1] in schemas, where
            if operation.get("security") != []:  # behind a token: 401 with every rbac kind
                assert "puppetlabs.rbac/token-expired" in str(operation["responses"]["401"])


async def test_the_document_states_the_errors_and_the_event_stream(api: Api) -> None:
    paths = (await document(api))["paths"]
    stop = paths[f"{V1}/command/stop"]["post"]["responses"]
    assert stop["404"]["content"]["application/json"]["schema"]["properties"]["kind"] == {
        "enum": ["puppetlabs.orchestrator/unknown-job"]
    }
    assert set(stop) >= {"202", "400", "401", "403", "408", "413", "503"}
    events = paths[f"{V1}/jobs/{{id}}/events"]["get"]["responses"]["200"]["content"]
    sse = events["text/event-stream"]["schema"]["properties"]["data"]
    assert sse["contentSchema"] == {"$ref": "#/components/schemas/JobEvent"}
    task = paths[f"{V1}/command/task"]["post"]["responses"]["202"]
    assert task["links"]["stop"] == {
        "operationId": "stop",
        "requestBody": {"job": "$response.body#/job/name"},
    }


async def test_the_docs_page_shows_every_operation_without_a_token(api: Api) -> None:
    described = await document(api)
    response = await api.client.get(f"{V1}/docs")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = await response.text()
    assert "<script" not in page  # nothing to run, nothing fetched from elsewhere
    assert "http" not in page.split("Server:")[0]
    for path, methods in described["paths"].items():
        for method in methods:
            assert f"{method.upper()}</span> <code>{path.replace('&', '&amp;')}</code>" in page
    assert 'id="schema-TaskCommand"' in page
