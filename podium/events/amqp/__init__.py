"""RabbitMQ adapters behind the ports of `podium.events.ports`, for the distributed roles.

The event log is one stream queue (one message per batch of events), node-run work a quorum queue
with a delivery limit and a parking queue, stop notices and heartbeats fanout exchanges, job
events mirrored on a topic exchange, scheduler leadership a single-active-consumer lock queue,
and snapshots a small stream of their own. `broker` owns the connections and their recovery,
confirmed publishing and the one loop that attaches a consumer again after a broker restart
(each resumes from its own position); `topology` declares every queue and exchange.
See /work/shared/reference/rabbitmq-notes.md for the broker behaviour these choices respect.
"""
