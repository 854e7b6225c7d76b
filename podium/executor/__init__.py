"""The executor role: takes node-run work items, runs them over a transport, reports status
events. Owns the slots, the stop notices it has heard, and the transports (`sim`, `local`).

Must not decide job lifecycle (the scheduler does) or read the log.
"""
