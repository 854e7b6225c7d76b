"""The Celery app of figure 11: one no-op task, RabbitMQ as the broker, Redis for results.

Only the task's own queue is used (no remote control, no events, no gossip), so a worker touches
nothing outside the run's vhost. The task returns the time it ran, which the client reads back as
the moment its result was stored.
"""

from __future__ import annotations

import time

from celery import Celery

from benchmarks.peers.settings import PeerSettings

SETTINGS = PeerSettings.from_env()
# How many messages each worker process holds unacked: the executors' 64 slots. Celery's own
# advice for many short tasks is a high multiplier; with `-c 1` the prefetch is this times 1.
PREFETCH_MULTIPLIER = 64

app = Celery("podium_bench_peers", broker=SETTINGS.amqp_url, backend=SETTINGS.redis_url)
app.conf.update(
    task_default_queue=SETTINGS.queue,
    task_default_exchange=SETTINGS.queue,
    task_default_routing_key=SETTINGS.queue,
    worker_prefetch_multiplier=PREFETCH_MULTIPLIER,
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    result_expires=3600,
)


@app.task(name="bench.noop")
def noop(index: int, fail: bool = False) -> float:
    if fail:
        raise RuntimeError(f"run {index} failed on purpose")
    return time.time()
