"""The load generator of figure 3, in a process of its own: `python -m benchmarks.submitter
--url U --token T --jobs N --clients C --nodes a,b,c`. C clients each POST /command/task in a
loop until N jobs are accepted; it prints a JSON line with the first and last job names and the
seconds the submissions took (its own clock: time.time())."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

from benchmarks.procs import TASK


async def submit(
    url: str, token: str, jobs: int, clients: int, nodes: list[str]
) -> dict[str, object]:
    body = {"task": TASK, "params": {"message": "hi"}, "scope": {"nodes": nodes}}
    headers = {"X-Authentication": token}
    names: list[int] = []
    remaining = jobs

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async with session.post(f"{url}/command/task", json=body, headers=headers) as r:
                answer = await r.json()
                if r.status != 202:
                    raise RuntimeError(f"{r.status}: {answer}")
                names.append(int(answer["job"]["name"]))

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.time()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        ended = time.time()
    return {"started": started, "ended": ended, "first": min(names), "last": max(names)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--nodes", required=True)
    args = parser.parse_args()
    result = asyncio.run(
        submit(args.url, args.token, args.jobs, args.clients, args.nodes.split(","))
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
