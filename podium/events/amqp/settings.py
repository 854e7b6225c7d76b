"""One settings object for everything on the broker, and the names derived from the prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Names(NamedTuple):
    """The name of every queue and exchange of one installation."""

    events: str
    snapshots: str
    work: str
    parked: str
    stops: str
    heartbeats: str
    topic: str
    lock: str

    @classmethod
    def under(cls, prefix: str) -> Names:
        suffixes = (  # in the order of the fields
            "events",
            "snapshots",
            "work",
            "work.parked",
            "stops",
            "heartbeats",
            "events.topic",
            "scheduler.lock",
        )
        return cls(*(f"{prefix}.{suffix}" for suffix in suffixes))


@dataclass(frozen=True, slots=True)
class AmqpSettings:
    url: str  # e.g. amqp://guest:guest@127.0.0.1:5672/
    prefix: str = "podium"  # every queue and exchange name starts with it
    log_max_age: str = "30D"  # stream retention (x-max-age)
    log_max_bytes: int = 20_000_000_000  # stream retention (x-max-length-bytes)
    log_segment_bytes: int = 100_000_000
    snapshot_max_bytes: int = 2_000_000_000
    snapshot_segment_bytes: int = 20_000_000
    confirm_timeout_s: float = 10.0
    connect_timeout_s: float = 30.0
    heartbeat_s: int = 10  # AMQP connection heartbeat: how soon a dead peer is noticed
    stream_prefetch: int = 64

    @property
    def names(self) -> Names:
        return Names.under(self.prefix)

    def connection_url(self, name: str) -> str:
        """The URL with this process's connection name and heartbeat."""
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}heartbeat={self.heartbeat_s}&name={name}"
