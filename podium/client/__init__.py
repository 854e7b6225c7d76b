"""A client of a running Podium's HTTP API, and the `podium user|role|token` commands built on
it. Talks HTTP only: imports nothing of the server's, so any other client command (running a
task, showing a job) can reuse `ApiClient`.
"""
