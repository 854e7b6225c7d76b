"""The ceiling of figure 1: a bare aiohttp handler answering the 202 body Podium answers.

No middleware, no validation, no log: it reads the request body and answers. Run it as
`python -m benchmarks.bare_http --port N [--uvloop]`; it serves until SIGTERM.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from benchmarks.loop import install_loop


async def _answer(request: web.Request) -> web.Response:
    await request.read()
    url = f"http://{request.host}/orchestrator/v1/jobs/1"
    return web.json_response({"job": {"id": url, "name": "1"}}, status=202)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    install_loop(args.uvloop)
    app = web.Application()
    app.add_routes([web.post("/orchestrator/v1/command/task", _answer)])
    print("bare aiohttp is serving", flush=True)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
