"""Where the peers' workers and client find the broker, the queue and the result store.

Worker processes are started by the peers' own command lines (`celery worker`, `dramatiq`), which
import the app modules; the environment is how the settings reach them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

AMQP_URL_VAR: Final = "BENCH_PEERS_AMQP_URL"
REDIS_URL_VAR: Final = "BENCH_PEERS_REDIS_URL"
QUEUE_VAR: Final = "BENCH_PEERS_QUEUE"
# Redis keeps nothing else in this database: the client flushes it (and only it) around each run.
REDIS_DB: Final = 15


@dataclass(frozen=True, slots=True)
class PeerSettings:
    amqp_url: str  # including the vhost
    redis_url: str  # including the database number
    queue: str

    @classmethod
    def from_env(cls) -> PeerSettings:
        try:
            return cls(os.environ[AMQP_URL_VAR], os.environ[REDIS_URL_VAR], os.environ[QUEUE_VAR])
        except KeyError as exc:
            raise SystemExit(f"{exc.args[0]} is not set (see benchmarks/peers)") from exc

    def env(self) -> dict[str, str]:
        return {
            AMQP_URL_VAR: self.amqp_url,
            REDIS_URL_VAR: self.redis_url,
            QUEUE_VAR: self.queue,
        }
