"""Users, roles and tokens are events on the log: what one api replica records, another on the
same RabbitMQ log applies as soon as it folds it. A token revoked on one replica is refused by
the other within a second."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Final

from podium.events.amqp.settings import AmqpSettings
from tests.conftest import Api, serving
from tests.integration.test_admin_token import replicas

RBAC: Final = "puppetlabs.rbac"
ADMIN: Final = "/podium/v1"


async def posted(api: Api, path: str, body: object, status: int) -> dict[str, object]:
    response = await api.client.post(path, json=body, headers=api.headers)
    answer = await response.json()
    assert response.status == status, answer
    return dict(answer)


async def status_of(api: Api) -> int:
    response = await api.client.get("/orchestrator/v1/jobs", headers=api.headers)
    await response.read()
    return response.status


async def test_a_token_revoked_on_one_replica_is_refused_by_the_other_within_a_second(
    tmp_path: Path, amqp_settings: AmqpSettings
) -> None:
    async with (
        replicas(amqp_settings, tmp_path / "api") as (first,),
        replicas(amqp_settings, tmp_path / "api") as (second,),
        serving(first) as one,
        serving(second) as two,
    ):
        await posted(one, f"{ADMIN}/users", {"login": "ann"}, 201)
        role = {"name": "viewers", "permissions": ["orchestrator:view:*"]}
        await posted(one, f"{ADMIN}/roles", role, 201)
        await posted(one, f"{ADMIN}/roles/viewers/assign", {"users": ["ann"]}, 200)
        issued = await posted(one, f"{ADMIN}/tokens", {"user": "ann"}, 201)
        ann_on_two = Api(two.client, str(issued["token"]))
        async with asyncio.timeout(5):  # the issue reaches the second replica too
            while await status_of(ann_on_two) != 200:
                await asyncio.sleep(0.01)

        await posted(one, f"{ADMIN}/tokens/{issued['id']}/revoke", {}, 200)
        revoked_at = time.monotonic()
        while await status_of(ann_on_two) != 401:
            assert time.monotonic() - revoked_at < 1.0, "still accepted after 1 s"
            await asyncio.sleep(0.01)
        response = await ann_on_two.client.get("/orchestrator/v1/jobs", headers=ann_on_two.headers)
        assert (await response.json())["kind"] == f"{RBAC}/token-revoked"
