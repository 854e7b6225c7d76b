"""Load generators and the benchmark report (`make bench`, `make bench-quick`).

Owns: starting Podium deployments as separate processes, driving them (wrk, aiohttp clients,
AMQP subscribers), their ceilings (a bare aiohttp handler, raw aio-pika, msgspec decoding), the
py-spy profiles, and `REPORT.md` / `results.json`. Must not be imported by Podium itself, and
never runs in `make test`: benchmarks report, they do not fail CI.
"""
