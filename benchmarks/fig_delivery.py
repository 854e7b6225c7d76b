"""Figure 5: event delivery, from an event's `at` (taken just before it is appended) to the moment
a client sees it: a poller of `GET /jobs/<id>/events?start=N` (every 5 ms), and on RabbitMQ an
AMQP subscriber bound to the topic exchange with `job.<id>.#`.

The job runs a few hundred sim nodes whose latency is spread uniformly, so events arrive one by
one rather than in one burst. Each event a client sees is matched by id with the event on the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

import aio_pika
import aiohttp
from aio_pika.abc import AbstractIncomingMessage

from benchmarks.fleet import deployment, log_state
from benchmarks.plan import Bench
from benchmarks.procs import Client, Podium, node_names, write_inventory
from benchmarks.stats import Figure, Row, Spread, percentile

POLL_S = 0.005
GROUP = "spread"


async def _poll(client: Client, job: str, seen: dict[int, float]) -> None:
    start = 1
    while True:
        answer = await client.get(f"/jobs/{job}/events?start={start}")
        now = time.time()
        items = answer["items"]
        assert isinstance(items, list)
        for item in items:
            seen.setdefault(int(item["id"]), now)
            start = int(item["id"]) + 1
            if item["type"] == "job_finished":
                return
        await asyncio.sleep(POLL_S)


@contextlib.asynccontextmanager
async def _subscribed(
    podium: Podium, seen: dict[int, float]
) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    assert podium.amqp is not None
    connection = await aio_pika.connect(podium.amqp.url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)

        async def deliver(message: AbstractIncomingMessage) -> None:
            now = time.time()
            for item in json.loads(message.body):
                seen.setdefault(int(item["id"]), now)

        await queue.consume(deliver, no_ack=True)
        yield queue
    finally:
        await connection.close()


def _latencies(seen: dict[int, float], at: dict[int, float]) -> list[float]:
    return [(when - at[event_id]) * 1000 for event_id, when in seen.items() if event_id in at]


async def _delivery(
    bench: Bench, rabbit: bool, figure: Figure
) -> tuple[list[list[float]], list[list[float]]]:
    plan = bench.plan
    work = bench.work / "fig5" / ("rabbit" if rabbit else "embedded")
    work.mkdir(parents=True, exist_ok=True)
    spread = f"{{latency-ms: [0, {plan.delivery_spread_ms}]}}"
    inventory = write_inventory(
        work / "inventory.yaml",
        {GROUP: (plan.delivery_nodes, spread), "fleet": (10, "{latency-ms: 0}")},
    )
    nodes = node_names(GROUP, plan.delivery_nodes)
    polled: list[list[float]] = []
    pushed: list[list[float]] = []
    async with (
        deployment(work, inventory, rabbit, 2, max_inflight=plan.max_inflight) as podium,
        aiohttp.ClientSession() as session,
    ):
        figure.commands += podium.commands
        client = Client(session, podium)
        for _ in range(plan.reps):
            by_poll: dict[int, float] = {}
            by_amqp: dict[int, float] = {}
            async with contextlib.AsyncExitStack() as stack:
                amqp = podium.amqp
                if amqp is not None:
                    queue = await stack.enter_async_context(_subscribed(podium, by_amqp))
                name = await client.task(nodes)
                if amqp is not None:
                    await queue.bind(amqp.names.topic, f"job.{name}.#")
                await _poll(client, name, by_poll)
                await asyncio.sleep(0.2)
            state = await log_state(podium)
            at = {event.id: event.at for event in state.jobs[name].events}
            polled.append(_latencies(by_poll, at))
            if rabbit:
                pushed.append(_latencies(by_amqp, at))
    return polled, pushed


def _rows(label: str, samples: list[list[float]]) -> list[Row]:
    p99 = Spread.of([percentile(s, 0.99) for s in samples])
    return [
        Row(f"{label}: p50", Spread.of([percentile(s, 0.5) for s in samples]), "ms"),
        Row(f"{label}: p99", p99, "ms", target="p99 < 50 ms", met=p99.median < 50),
        Row(
            f"{label}: events seen per repetition",
            Spread.of([float(len(s)) for s in samples]),
            "events",
        ),
    ]


async def figure_5(bench: Bench) -> Figure:
    plan = bench.plan
    figure = Figure(5, "event delivery: appended to seen by a poller and by an AMQP subscriber")
    polled, _ = await _delivery(bench, False, figure)
    figure.rows += _rows("embedded, events poller", polled)
    polled, pushed = await _delivery(bench, True, figure)
    figure.rows += _rows("RabbitMQ, events poller", polled)
    figure.rows += _rows("RabbitMQ, topic exchange subscriber", pushed)
    figure.notes += [
        f"One job of {plan.delivery_nodes} sim nodes with latency uniform in "
        f"[0, {plan.delivery_spread_ms}] ms per repetition; the poller asks every "
        f"{POLL_S * 1000:.0f} ms for the events after the last it saw. Latency is the client's "
        "clock on receipt minus the event's `at`, which its producer stamps before batching, "
        "so it includes the batching delay, the append, the fold and the delivery.",
    ]
    return figure
