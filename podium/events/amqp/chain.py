"""Hash chains on the RabbitMQ stream: one per producer.

Many processes append to the one stream, and none knows the record the stream will put before
its own (the broker orders them as they arrive), so a single chain would need a single writer
for every append: the bottleneck the stream exists to avoid. Each log instance (one a process)
keeps a chain of its own instead: every record it appends carries its producer id, the chain
hash of that producer's previous record, and its own, SHA-256 over the previous hash and the
record's body. A record changed or removed breaks its producer's chain at that record or at the
producer's next one. What a chain cannot show by itself: a producer's last records, or every
record of a producer, gone; an auditor who keeps the hashes it was given shows those.

A copy of a record (an append re-sent because its confirm did not come, though it had landed)
carries the same previous and chain hashes: it is no break.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Final, NamedTuple

from pamqp.common import FieldTable

PRODUCER_HEADER: Final = "x-podium-producer"
PREVIOUS_HEADER: Final = "x-podium-previous"
CHAIN_HEADER: Final = "x-podium-chain"


def chain_hash(previous: bytes, body: bytes) -> bytes:
    return hashlib.sha256(previous + body).digest()


class Link(NamedTuple):
    """A record's place in its producer's chain."""

    producer: str
    previous: bytes
    chain: bytes

    def headers(self) -> FieldTable:
        return {
            PRODUCER_HEADER: self.producer,
            PREVIOUS_HEADER: self.previous.hex(),
            CHAIN_HEADER: self.chain.hex(),
        }

    @classmethod
    def of(cls, headers: Mapping[str, object]) -> Link | None:
        """The link a message's headers carry; None when they carry none (a marker, or a
        record written before chains)."""
        producer, previous, chain = (
            headers.get(PRODUCER_HEADER),
            headers.get(PREVIOUS_HEADER),
            headers.get(CHAIN_HEADER),
        )
        if not (isinstance(producer, str) and isinstance(previous, str)):
            return None
        if not isinstance(chain, str):
            return None
        try:
            return cls(producer, bytes.fromhex(previous), bytes.fromhex(chain))
        except ValueError:
            return cls(producer, b"", b"")  # not hex: it will not check


class ProducerChain:
    """The chain one log instance appends to: `next` links a body, `confirmed` moves on once
    the broker has it (an unconfirmed append sent again links the same)."""

    def __init__(self, producer: str) -> None:
        self.producer = producer
        self.last = b""

    def next(self, body: bytes) -> Link:
        return Link(self.producer, self.last, chain_hash(self.last, body))

    def confirmed(self, link: Link) -> None:
        self.last = link.chain


class Break(NamedTuple):
    offset: int
    producer: str
    why: str


def breaks(records: Iterable[tuple[int, bytes, Link | None]], empty: bytes) -> list[Break]:
    """Where the chains of `records` (offset, body, link, in stream order) break. `empty` is the
    body of a marker, the one record that carries no link."""
    last: dict[str, bytes] = {}
    found: list[Break] = []
    for offset, body, link in records:
        if link is None:
            if body != empty:
                found.append(Break(offset, "", "a record of events carries no chain"))
            continue
        if chain_hash(link.previous, body) != link.chain:
            found.append(Break(offset, link.producer, "its chain hash does not match its body"))
            last[link.producer] = link.chain  # the producer's next record follows the claim
            continue
        before = last.get(link.producer, b"")
        if link.previous != before and link.chain != before:  # a copy repeats the last link
            found.append(
                Break(offset, link.producer, "it does not follow its producer's previous record")
            )
        last[link.producer] = link.chain
    return found
