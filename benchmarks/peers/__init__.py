"""The peers of figure 11: the same no-op fan-out through Celery and through Dramatiq, on the
local RabbitMQ (a vhost of their own) with results in Redis (a database of their own).

`celery_app` and `dramatiq_app` hold the task each worker process imports; `client` submits a
fan-out, waits for every result, reads the counts and prints what it measured as JSON;
`workers` (the harness side) makes the vhost and runs the worker processes. Celery, Dramatiq and
redis come from the `bench` extra; nothing outside this package imports them.
"""
