"""The work queue alone: `python -m benchmarks.work_queue [--items 10000]` puts N work items
through `AmqpWorkQueue` (one confirmed message each), then consumes and acks them with one
consumer, and prints the seconds of each half. It shows the per-message cost behind figure 2 on
RabbitMQ. Its queues are deleted afterwards."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from benchmarks.procs import AMQP_URL
from podium.events.amqp.broker import Broker
from podium.events.amqp.settings import AmqpSettings
from podium.events.amqp.topology import delete_everything
from podium.events.amqp.work import AmqpWorkQueue
from podium.events.jobspec import RunSpec
from podium.events.work import WorkItem, WorkQueueSettings


async def measure(count: int) -> dict[str, float]:
    settings = AmqpSettings(url=AMQP_URL, prefix=f"bench-work-{uuid.uuid4().hex[:8]}")
    broker = await Broker.open(settings, "bench-work")
    try:
        queue = await AmqpWorkQueue.open(broker, WorkQueueSettings())
        spec = RunSpec(kind="task", environment="production", task="demo::echo")
        items = [
            WorkItem(
                job="1",
                node=f"fleet-{n:05d}",
                attempt=1,
                transport="sim",
                config={"sim": {"latency-ms": 0}},
                spec=spec,
            )
            for n in range(count)
        ]
        started = time.perf_counter()
        await queue.put(items)
        put_s = time.perf_counter() - started
        started = time.perf_counter()
        seen = 0
        deliveries = queue.consume(64)
        async for delivery in deliveries:
            await delivery.ack()
            seen += 1
            if seen == count:
                break
        await deliveries.aclose()
        consume_s = time.perf_counter() - started
        await queue.close()
        return {"items": count, "put_s": put_s, "consume_ack_s": consume_s}
    finally:
        await delete_everything(broker)
        await broker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.items))))


if __name__ == "__main__":
    main()
