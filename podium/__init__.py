"""Podium: an event-sourced job engine that speaks the Puppet orchestrator v1 API.

Layers, each importing only from the ones before it (tests/unit/test_layers.py checks this):
- shared code, one package per concern: `events`, `inventory`, `queries`, `node_groups`,
  `applications`, `environments`, `tasks`, `auth`, `yamlfile`;
- the three roles, which never import each other: `api`, `scheduler`, `executor`;
- the assembly: `cli` parses settings once and `engine` builds the roles into processes.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("podium")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"
