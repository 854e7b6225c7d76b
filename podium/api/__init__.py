"""The api role: the aiohttp ingress of the Puppet orchestrator v1 API.

Owns HTTP, authentication, request validation, scope resolution and the read views. Commands
become events through the producer; reads come from this process's projector. Must not make
lifecycle decisions (the scheduler does) or run anything (executors do).
"""
