"""RabbitMQ adapters behind the ports of `podium.events.ports`, for the distributed roles.

The event log is one stream queue (one message per batch of events), node-run work a quorum queue
with a delivery limit and a parking queue, stop notices and heartbeats fanout exchanges, job
events mirrored on a topic exchange, scheduler leadership a single-active-consumer lock queue,
and snapshots a small stream of their own. `Broker` owns the connections and their recovery; every
other class re-attaches through it after a broker restart, resuming from its own position.
See /work/shared/reference/rabbitmq-notes.md for the broker behaviour these choices respect.
"""
