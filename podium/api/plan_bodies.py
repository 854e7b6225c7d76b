"""Request bodies of the plan commands: `plan_run`, `environment_plan_run`, `stop_plan`,
`plan_resume`, and Bolt's `plan_start` and `plan_finish`. Parsed as `bodies` parses the others."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from podium.api.bodies import JobName, _Command
from podium.jsontypes import Json


class PlanRunCommand(_Command):
    plan_name: Annotated[str, Field(min_length=1)]
    params: dict[str, Json] = {}
    environment: str = "production"
    description: str | None = None
    timeout: Annotated[int, Field(gt=0)] | None = None
    userdata: dict[str, Json] | None = None


class WrappedParameter(_Command):
    """An `environment_plan_run` parameter: `{"value": ...}`, or nodes named by a PQL query or
    a node group (`{"type": "query" | "node_group", "value": "..."}`)."""

    value: Json
    type: Literal["query", "node_group"] | None = None

    @model_validator(mode="after")
    def _nodes_by_string(self) -> WrappedParameter:
        if self.type is not None and not isinstance(self.value, str):
            raise ValueError(f"a parameter of type {self.type} has a string value")
        return self


class EnvironmentPlanRunCommand(PlanRunCommand):
    params: dict[str, WrappedParameter] = {}


class PlanInput(_Command):
    """The `input` of a scheduled environment job of type plan: each parameter `{"value": ...}`
    or `{"type": "query" | "node_group", "value": "..."}` (reference §5.2)."""

    name: Annotated[str, Field(min_length=1)]
    parameters: dict[str, WrappedParameter] = {}


class StopPlanCommand(_Command):
    plan_job: JobName


class PlanResumeCommand(_Command):
    plan_job: JobName
    from_step: Annotated[int, Field(ge=1)]


class PlanStartCommand(_Command):
    plan_name: Annotated[str, Field(min_length=1)]
    params: dict[str, Json] = {}
    environment: str = "production"
    description: str | None = None


class PlanFinishCommand(_Command):
    plan_job: JobName
    result: Json = None
    status: Literal["success", "failure"]
