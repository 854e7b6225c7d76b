"""One settings object for everything on the broker, and the names derived from the prefix."""

from __future__ import annotations

from dataclasses import dataclass


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
    def events(self) -> str:
        return f"{self.prefix}.events"

    @property
    def snapshots(self) -> str:
        return f"{self.prefix}.snapshots"

    @property
    def work(self) -> str:
        return f"{self.prefix}.work"

    @property
    def parked(self) -> str:
        return f"{self.prefix}.work.parked"

    @property
    def stops(self) -> str:
        return f"{self.prefix}.stops"

    @property
    def heartbeats(self) -> str:
        return f"{self.prefix}.heartbeats"

    @property
    def topic(self) -> str:
        return f"{self.prefix}.events.topic"

    @property
    def lock(self) -> str:
        return f"{self.prefix}.scheduler.lock"

    def connection_url(self, name: str) -> str:
        """The URL with this process's connection name and heartbeat."""
        separator = "&" if "?" in self.url else "?"
        return f"{self.url}{separator}heartbeat={self.heartbeat_s}&name={name}"
