"""The benchmarks' open-loop load generator (figure 1) and CPU readings (figure 2), on a real
server: what they count, not how fast anything is."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import msgspec
import pytest

from benchmarks.cpu import CpuTrace, cpu_s
from benchmarks.fig_http import BODY, bare
from benchmarks.openloop import Result


async def test_the_generator_sends_every_request_due_and_counts_every_answer(
    tmp_path: Path,
) -> None:
    body = tmp_path / "body.json"
    body.write_text(json.dumps(BODY))
    async with bare(tmp_path, use_uvloop=False) as (url, _):
        argv = [sys.executable, "-m", "benchmarks.openloop", "--url", url]
        argv += ["--body-file", str(body), "--rate", "200", "--duration-s", "1"]
        argv += ["--warmup-s", "0.5"]
        process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
        out, _ = await process.communicate()
    assert process.returncode == 0
    result = msgspec.json.decode(out, type=Result)
    assert (result.requests, result.answered, result.statuses) == (200, 200, {"202": 200})
    assert len(result.names) == 300  # the warm-up's answers too
    assert result.window_end_unix - result.window_start_unix == pytest.approx(1.0)
    assert result.max_ms >= result.p99_ms >= result.p50_ms > 0


def test_a_process_cpu_time_grows_with_its_work() -> None:
    before = cpu_s(os.getpid())
    while cpu_s(os.getpid()) - before < 0.05:
        sum(range(10_000))
    assert cpu_s(os.getpid()) > before


def test_cpu_used_between_two_moments_is_read_between_the_readings_around_them() -> None:
    trace = CpuTrace([], readings=[(10.0, 1.0), (11.0, 2.0), (12.0, 4.0)])
    assert trace.used(10.5, 11.5) == 3.0 - 1.5
    assert trace.used(10.0, 11.0) == 1.0
