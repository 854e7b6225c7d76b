"""The open-loop load generator of figure 1, in a process of its own: `python -m
benchmarks.openloop --url U --rate 1000 --duration-s 15 --warmup-s 3 --body-file F [--header K:V]`.

Request i is due at start + i / rate and is sent then, whether or not earlier ones have been
answered (a connection is opened when none is idle), so a slow answer cannot hold the next
request back. Each latency runs from the request's due time, not from when it was written, so a
late send is counted against the server (no coordinated omission). How late the generator got
to each request (its own lag) and how long a request waited for a new connection are reported
apart. Only requests due after the warm-up are counted. The HTTP/1.1 client is a small
asyncio protocol (keep-alive, Content-Length answers), on uvloop when it is installed. It prints
one JSON line: the figures, and the job names of every 202 (warm-up included).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import resource
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, cast
from urllib.parse import urlsplit

import msgspec

from benchmarks.stats import percentile

SLOW_MS: Final = 250.0
_MAX_CONNECTIONS: Final = 2_000
_HEAD_END: Final = b"\r\n\r\n"


@dataclass(slots=True)
class Sample:
    due: float
    taken: float = 0.0  # when the generator's loop got to it (late only if the generator is)
    sent: float = 0.0  # written (later than taken when it waited for a new connection)
    done: float = 0.0
    status: int = 0
    body: bytes = b""


class Answer(msgspec.Struct):
    job: dict[str, str]


@dataclass
class Generator:
    host: str
    port: int
    request: bytes
    samples: list[Sample] = field(default_factory=list)
    idle: list[Connection] = field(default_factory=list)
    waiting: deque[Sample] = field(default_factory=deque)
    connections: int = 0
    opened_late: int = 0  # connections opened because none was idle when a request was due
    errors: int = 0
    outstanding: int = 0
    _opening: set[asyncio.Future[None]] = field(default_factory=set)

    async def open(self) -> Connection:
        loop = asyncio.get_running_loop()
        self.connections += 1
        _, connection = await loop.create_connection(lambda: Connection(self), self.host, self.port)
        return connection

    async def preopen(self, count: int) -> None:
        self.idle += await asyncio.gather(*(self.open() for _ in range(count)))

    def send(self, sample: Sample) -> None:
        self.outstanding += 1
        if self.idle:
            self.idle.pop().write(sample)
        elif self.connections < _MAX_CONNECTIONS:
            self.opened_late += 1
            opening = asyncio.ensure_future(self._send_on_new(sample))
            self._opening.add(opening)
            opening.add_done_callback(self._opening.discard)
        else:
            self.waiting.append(sample)

    async def _send_on_new(self, sample: Sample) -> None:
        try:
            connection = await self.open()
        except OSError:
            self.connections -= 1
            self.errors += 1
            self.outstanding -= 1
            return
        connection.write(sample)

    def free(self, connection: Connection) -> None:
        """`connection` has its answer: it takes the next waiting request, or waits."""
        self.outstanding -= 1
        if self.waiting:
            connection.write(self.waiting.popleft())
        else:
            self.idle.append(connection)


class Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, answers with a Content-Length."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.sample: Sample | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def write(self, sample: Sample) -> None:
        assert self.transport is not None
        assert self.sample is None
        self.sample = sample
        sample.sent = time.perf_counter()
        self.transport.write(self.generator.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(_HEAD_END)
        if end < 0:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return
        sample, self.sample = self.sample, None
        assert sample is not None
        sample.done = time.perf_counter()
        sample.status = int(head[0].split(" ", 2)[1])
        sample.body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.generator.free(self)

    def connection_lost(self, exc: Exception | None) -> None:
        generator = self.generator
        generator.connections -= 1
        with contextlib.suppress(ValueError):
            generator.idle.remove(self)
        if self.sample is not None:
            generator.errors += 1
            generator.outstanding -= 1
            self.sample = None


def http_request(url: str, body: bytes, headers: dict[str, str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [
        f"POST {parts.path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Result(msgspec.Struct, frozen=True):
    """What one run prints. Latencies run from each request's due time; `late_*` is how long
    after its due time the generator got to each request (its own lag), `connect_wait_*` how
    long one then waited for a new connection before it was written; the window is the measured
    part (after the warm-up), as Unix times, for CPU readings taken outside."""

    offered_per_s: float
    requests: int  # due in the measured window
    answered: int
    statuses: dict[str, int]  # "0": no answer (connection lost or still waiting)
    sent_per_s: float
    answered_per_s: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    slow: int  # answered after more than SLOW_MS, or not at all
    late_p50_ms: float
    late_p99_ms: float
    late_max_ms: float
    connect_wait_p99_ms: float
    connect_wait_max_ms: float
    connections: int  # open at the end, pre-opened ones included
    connections_opened_late: int  # because none was idle when a request was due
    generator_cpu_share: float  # of one core, while sending
    window_start_unix: float
    window_end_unix: float
    names: list[int]  # job names of every 202, warm-up included


async def run(
    generator: Generator, rate: float, duration_s: float, warmup_s: float, settle_s: float
) -> Result:
    await generator.preopen(min(64, max(8, int(rate / 20))))
    total = round(rate * (warmup_s + duration_s))
    cpu_before = _cpu_s()
    start = time.perf_counter() + 0.05
    to_unix = time.time() - time.perf_counter()
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sample = Sample(due, time.perf_counter())
        generator.samples.append(sample)
        generator.send(sample)
    sent_s = time.perf_counter() - start
    cpu_share = (_cpu_s() - cpu_before) / sent_s
    deadline = time.perf_counter() + settle_s
    while generator.outstanding and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    window = (start + warmup_s + to_unix, start + warmup_s + duration_s + to_unix)
    return summary(generator, start + warmup_s, rate, cpu_share, window)


def _latency_ms(sample: Sample, gave_up: float) -> float:
    """From its due time to its answer; one never answered counts as answered when the
    generator gave up on it (a lower bound)."""
    return ((sample.done or gave_up) - sample.due) * 1000


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summary(
    generator: Generator,
    measured_from: float,
    rate: float,
    cpu_share: float,
    window: tuple[float, float],
) -> Result:
    measured = [s for s in generator.samples if s.due >= measured_from]
    gave_up = time.perf_counter()
    latency_ms = [_latency_ms(s, gave_up) for s in measured]
    late_ms = [(s.taken - s.due) * 1000 for s in measured]
    waits_ms = [(s.sent - s.taken) * 1000 for s in measured if s.sent]
    answered = sum(1 for s in measured if s.done)
    statuses = Counter(str(s.status) for s in measured)
    decode = msgspec.json.Decoder(Answer).decode
    sent = [s.sent for s in measured if s.sent]
    return Result(
        offered_per_s=rate,
        requests=len(measured),
        answered=answered,
        statuses=dict(statuses),
        sent_per_s=(len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 else 0.0,
        answered_per_s=answered / (window[1] - window[0]),
        p50_ms=percentile(latency_ms, 0.5),
        p99_ms=percentile(latency_ms, 0.99),
        p999_ms=percentile(latency_ms, 0.999),
        max_ms=max(latency_ms, default=math.nan),
        slow=sum(1 for v in latency_ms if v > SLOW_MS),
        late_p50_ms=percentile(late_ms, 0.5),
        late_p99_ms=percentile(late_ms, 0.99),
        late_max_ms=max(late_ms, default=math.nan),
        connect_wait_p99_ms=percentile(waits_ms, 0.99),
        connect_wait_max_ms=max(waits_ms, default=math.nan),
        connections=generator.connections,
        connections_opened_late=generator.opened_late,
        generator_cpu_share=cpu_share,
        window_start_unix=window[0],
        window_end_unix=window[1],
        names=[int(decode(s.body).job["name"]) for s in generator.samples if s.status == 202],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second")
    parser.add_argument("--duration-s", type=float, default=15.0, help="measured, after warm-up")
    parser.add_argument("--warmup-s", type=float, default=3.0)
    parser.add_argument("--settle-s", type=float, default=60.0, help="wait for late answers")
    parser.add_argument("--samples-file", help="also write each request's due, sent, done (s)")
    args = parser.parse_args()
    body = Path(args.body_file).read_bytes()
    headers = dict(_header(h) for h in args.header)
    host, port, request = http_request(args.url, body, headers)
    with contextlib.suppress(ModuleNotFoundError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    generator = Generator(host, port, request)
    result = asyncio.run(run(generator, args.rate, args.duration_s, args.warmup_s, args.settle_s))
    sys.stdout.buffer.write(msgspec.json.encode(result) + b"\n")
    if args.samples_file:
        with Path(args.samples_file).open("w") as out:
            out.writelines(
                f"{s.due:.6f} {s.sent:.6f} {s.done:.6f} {s.status}\n" for s in generator.samples
            )


def _header(text: str) -> tuple[str, str]:
    name, _, value = text.partition(":")
    return name.strip(), value.strip()


if __name__ == "__main__":
    main()
