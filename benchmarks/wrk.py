"""The HTTP load generator of figure 1: wrk (C, one thread) in a process of its own.

wrk is Debian's package `wrk`; `make bench` installs it. A Lua script gives it the method, the
body and the headers; `--latency` makes it print the latency distribution, which is parsed here.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_UNITS: Final = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
_LATENCY: Final = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RATE: Final = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_NON_2XX: Final = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_ERRORS: Final = re.compile(r"Socket errors:.*")


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_s: float
    p50_s: float
    p99_s: float
    non_2xx: int
    errors: str


def executable() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (make bench does)")
    return found


def write_script(path: Path, body: object, headers: dict[str, str]) -> Path:
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(json.dumps(body))}",
        'wrk.headers["Content-Type"] = "application/json"',
        *(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def argv(url: str, script: Path, connections: int, duration_s: float) -> list[str]:
    return [
        executable(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]


async def run(command: list[str]) -> WrkResult:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {text}")
    return parse(text)


def parse(text: str) -> WrkResult:
    rate = _RATE.search(text)
    if rate is None:
        raise RuntimeError(f"no rate in wrk's output: {text}")
    latency = {m[0]: float(m[1]) * _UNITS[m[2]] for m in _LATENCY.findall(text)}
    non_2xx = _NON_2XX.search(text)
    errors = _ERRORS.search(text)
    return WrkResult(
        float(rate[1]),
        latency.get("50", float("nan")),
        latency.get("99", float("nan")),
        int(non_2xx[1]) if non_2xx else 0,
        errors[0] if errors else "",
    )
