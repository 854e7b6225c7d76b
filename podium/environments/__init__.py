"""Environments: directories laid out like Puppet code (`<root>/<name>/modules/...`).

Owns finding an environment, its settings file (`podium.yaml`: the agent command for deploys and
the default task timeout) and the task lookups within it. Must not run anything.
"""

from podium.environments.environments import (
    DEFAULT_AGENT_COMMAND,
    BadEnvironment,
    Environment,
    Environments,
    InvalidEnvironmentName,
)

__all__ = [
    "DEFAULT_AGENT_COMMAND",
    "BadEnvironment",
    "Environment",
    "Environments",
    "InvalidEnvironmentName",
]
