"""Parameters, path schemas and texts the Operations of the api's handlers share."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from podium.api import (
    admin,
    jobs,
)
from podium.api.bodies import (
    ENVIRONMENT_NAME,
)
from podium.api.errors import (
    NotPermitted,
    UnknownJob,
)
from podium.api.openapi import Param
from podium.jsontypes import Json
from podium.tasks.names import SEGMENT

ID: Final = {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}
COUNT: Final = {"type": "integer", "minimum": 0}


def choice(values: Iterable[str]) -> dict[str, Json]:
    """One of `values`; empty is as absent (the default)."""
    return {"enum": [*values, ""]}


ORDER: Final = Param("order", choice(jobs.ORDERS), "asc (the default) or desc")
LIMIT: Final = Param("limit", COUNT, "at most this many items (all when absent)")
OFFSET: Final = Param("offset", COUNT, "the index of the first item (0 when absent)")
START: Final = Param("start", {"type": "integer", "minimum": 1}, "the first event id wanted")
LAST_EVENT_ID: Final = Param(
    "Last-Event-ID",
    {"type": "string", "pattern": "^[0-9]{1,17}$"},
    "resume a stream after this event id",
    where="header",
)
ENVIRONMENT: Final = Param(
    "environment",
    {"type": "string", "pattern": f"{ENVIRONMENT_NAME}|^$"},
    "production when absent or empty",
)
AS_OF: Final = Param("as_of", {"type": "integer", "minimum": 1}, "as it was after this event")
AS_OF_PAST: Final = "An as_of past the log's last event is a validation-error."
LEVEL: Final = Param("level", {"type": "string"}, "critical, info or debug: echoed")
TIME: Final = {"type": "string", "format": "date-time"}
JOB_ID: Final = {"id": ID}
SEGMENT_NAME: Final = {
    "type": "string",
    "pattern": SEGMENT.pattern.replace("\\A", "^").replace("\\Z", "$"),
}
NAME: Final = {"type": "string", "pattern": admin.NAME_PATTERN}
ENVIRONMENT_SCHEMA: Final = {"type": "string", "pattern": ENVIRONMENT_NAME}
JOB_READ_ERRORS: Final = (UnknownJob, NotPermitted)
EVENTS_OF_THE_JOB: Final = "$response.body#/job/name"
ADMIN_ERRORS: Final = (NotPermitted,)


TASK_PARAMETERS: Final = (
    "params are checked against the parameters the task declares, and noop against its "
    "supports_noop: the document cannot know them, and a mismatch is a validation-error naming "
    "each parameter."
)
