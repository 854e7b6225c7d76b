"""Request bodies of the plan commands: `plan_run`, `environment_plan_run`, `stop_plan`,
`plan_resume`, and Bolt's `plan_start` and `plan_finish`. Parsed as `bodies` parses the others."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from podium.api.bodies import (
    ENVIRONMENT_NAME,
    Count,
    JobName,
    StorableJson,
    _Command,
    input_part,
)

# As the OpenAPI document states them (podium.plans' names): a malformed one is a
# validation-error, an unknown one a 404.
PlanName = Annotated[
    str,
    Field(min_length=1, json_schema_extra={"pattern": "^[a-z][a-z0-9_]*(::[a-z][a-z0-9_]*)*$"}),
]
EnvironmentName = Annotated[str, Field(json_schema_extra={"pattern": ENVIRONMENT_NAME})]


class PlanRunCommand(_Command):
    plan_name: PlanName
    params: dict[str, StorableJson] = {}
    environment: EnvironmentName = "production"
    description: str | None = None
    timeout: Count | None = None
    userdata: dict[str, StorableJson] | None = None


class WrappedParameter(_Command):
    """An `environment_plan_run` parameter: `{"value": ...}`, or nodes named by a PQL query or
    a node group (`{"type": "query" | "node_group", "value": "..."}`)."""

    model_config = ConfigDict(
        json_schema_extra={  # what _nodes_by_string checks
            "if": {"required": ["type"], "properties": {"type": {"type": "string"}}},
            "then": {"properties": {"value": {"type": "string"}}},
        }
    )

    value: StorableJson
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

    model_config = ConfigDict(json_schema_extra=input_part)

    name: PlanName
    parameters: dict[str, WrappedParameter] = {}


class StopPlanCommand(_Command):
    plan_job: JobName


class PlanResumeCommand(_Command):
    plan_job: JobName
    from_step: Annotated[int, Field(ge=1)]


class PlanStartCommand(_Command):
    """Bolt names the plan it runs itself: the name is not looked up."""

    plan_name: Annotated[str, Field(min_length=1)]
    params: dict[str, StorableJson] = {}
    environment: EnvironmentName = "production"
    description: str | None = None


class PlanFinishCommand(_Command):
    plan_job: JobName
    result: StorableJson = None
    status: Literal["success", "failure"]
