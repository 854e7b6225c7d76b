"""Puppet tasks as the task specification defines them: names, metadata, and finding them.

Shared by the api (validation, listings) and the executor (what to run). Must not run anything:
running a task is the executor's transports' job.
"""
