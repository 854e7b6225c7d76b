"""The Dramatiq actor of figure 11: one no-op actor, RabbitMQ as the broker, Redis for results.

The actor never retries (a failure is stored as one), and returns the time it ran, which the
client reads back as the moment its result was stored.
"""

from __future__ import annotations

import time

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.results import Results
from dramatiq.results.backends.redis import RedisBackend

from benchmarks.peers.settings import PeerSettings

SETTINGS = PeerSettings.from_env()
BACKEND = RedisBackend(url=SETTINGS.redis_url)
broker = RabbitmqBroker(url=SETTINGS.amqp_url)
broker.add_middleware(Results(backend=BACKEND))
dramatiq.set_broker(broker)


@dramatiq.actor(
    actor_name="bench_noop", queue_name=SETTINGS.queue, store_results=True, max_retries=0
)
def noop(index: int, fail: bool = False) -> float:
    if fail:
        raise RuntimeError(f"run {index} failed on purpose")
    return time.time()
