"""Application instances of an environment: components placed on nodes, and the deploy order
their `requires` edges give.

Owns the applications file, selecting instances by `Type` or `Type[title]`, and planning: job
components in dependency order, cycles refused. Must not touch HTTP or the scheduler: the plan
is data (`podium.events.model.Component`) that the api puts on the command event.
"""

from podium.applications.model import (
    Applications,
    ApplicationsError,
    BadReference,
    Instance,
    Placed,
    load_applications,
    parse_applications,
    parse_reference,
)
from podium.applications.plan import DependencyCycle, Deployment, find_cycle, plan, topological

__all__ = [
    "Applications",
    "ApplicationsError",
    "BadReference",
    "DependencyCycle",
    "Deployment",
    "Instance",
    "Placed",
    "find_cycle",
    "load_applications",
    "parse_applications",
    "parse_reference",
    "plan",
    "topological",
]
