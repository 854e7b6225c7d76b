"""The RabbitMQ ceiling of figure 2: raw aio-pika moving the same number of events.

`python -m benchmarks.amqp_ceiling --events N --prefix P [--batch 100]` declares a stream
`<P>.ceiling`, consumes it from its start while publishing N real encoded events in batches
(one confirmed message per batch, a window of concurrent confirms), and prints a JSON line with
the seconds from the first publish to the last event consumed. The stream is deleted afterwards.
Nothing of Podium runs here but the codec: no fold, no scheduler, no executor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Final

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from benchmarks.loop import install_loop
from podium.events.codec import decode_batch, encode_batch
from podium.events.model import NodeRunFinished, NodeState

_WINDOW: Final = 64  # confirmed publishes in flight at once


def _bodies(events: int, batch: int) -> list[bytes]:
    event = NodeRunFinished(
        at=time.time(),
        origin="executor-0123456789ab",
        seq=1,
        job="1",
        node="fleet-00001",
        attempt=1,
        state=NodeState.FINISHED,
        result={"_output": "demo::echo ran on fleet-00001 (simulated)\n"},
        message="Finished task run on fleet-00001",
    )
    sizes = [min(batch, events - start) for start in range(0, events, batch)]
    return [encode_batch([event] * size) for size in sizes]


async def measure(url: str, queue_name: str, events: int, batch: int) -> float:
    bodies = _bodies(events, batch)
    connection = await aio_pika.connect(url)
    consumer_connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "stream"})
        consuming = await consumer_connection.channel()
        await consuming.set_qos(prefetch_count=64)
        queue = await consuming.get_queue(queue_name)
        seen = 0
        done = asyncio.get_running_loop().create_future()

        async def deliver(message: AbstractIncomingMessage) -> None:
            nonlocal seen
            seen += len(decode_batch(message.body))
            await message.ack()
            if seen >= events and not done.done():
                done.set_result(None)

        await queue.consume(deliver, arguments={"x-stream-offset": "first"})
        started = time.perf_counter()
        for start in range(0, len(bodies), _WINDOW):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key=queue_name,
                    )
                    for body in bodies[start : start + _WINDOW]
                )
            )
        await asyncio.wait_for(done, timeout=120)
        elapsed = time.perf_counter() - started
        await channel.queue_delete(queue_name)
        return elapsed
    finally:
        await consumer_connection.close()
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    install_loop(args.uvloop)
    seconds = asyncio.run(measure(args.url, f"{args.prefix}.ceiling", args.events, args.batch))
    print(json.dumps({"events": args.events, "batch": args.batch, "seconds": seconds}))


if __name__ == "__main__":
    main()
