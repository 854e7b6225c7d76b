"""Figure 7: executors scaling on RabbitMQ: node runs/s with 1, 2 and 4 executor processes, each
with 64 slots, over sim nodes of 50 ms latency. The ceiling is linear scaling from one executor;
the slot bound (executors x slots / latency) is shown beside it."""

from __future__ import annotations

from benchmarks.fleet import SLOW, deployment, fleet_inventory, run_job, warm_up
from benchmarks.plan import Bench
from benchmarks.procs import node_names
from benchmarks.stats import Figure, Row, Spread


async def figure_7(bench: Bench) -> Figure:
    plan = bench.plan
    figure = Figure(
        7,
        f"executors scaling on RabbitMQ: {plan.scale_nodes:,} nodes of "
        f"{plan.scale_latency_ms} ms, {plan.scale_slots} slots each",
    )
    work = bench.work / "fig7"
    inventory = fleet_inventory(work, 10, plan.scale_nodes, plan.scale_latency_ms)
    nodes = node_names(SLOW, plan.scale_nodes)
    counts = plan.scale_executors
    flags = {"max_inflight": plan.max_inflight, "slots": plan.scale_slots}
    rates: dict[int, list[float]] = {}
    async with deployment(work, inventory, True, counts[0], **flags) as podium:
        figure.commands += podium.commands
        for count in counts:
            while sum(1 for p in podium.procs if p.role == "executor") < count:
                await podium.add_executor(
                    {
                        "amqp_url": podium.amqp.url,
                        "prefix": podium.amqp.prefix,
                        "slots": plan.scale_slots,
                    }
                    if podium.amqp
                    else {}
                )
            await warm_up(podium)
            rates[count] = [(await run_job(podium, nodes)).runs_per_s for _ in range(plan.reps)]
    one = Spread.of(rates[counts[0]]).median / counts[0]
    for count in counts:
        rate = Spread.of(rates[count])
        linear = Spread.of([r / (one * count) for r in rates[count]])
        bound = count * plan.scale_slots / (plan.scale_latency_ms / 1000)
        figure.rows += [
            Row(
                f"{count} executor(s): node runs/s",
                rate,
                "runs/s",
                linear,
                "linear from 1 executor (its median)",
                "reported",
            ),
            Row(
                f"{count} executor(s): share of the slot bound ({bound:,.0f} runs/s)",
                Spread.of([r / bound for r in rates[count]]),
                "ratio",
            ),
        ]
    return figure
