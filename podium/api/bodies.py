"""Request bodies: pydantic models in strict mode (no "true" for true), unknown keys ignored
except inside `scope`. `parse_body` turns every failure into one `validation-error` that names
each offending field. The same models produce the OpenAPI document."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, TypeVar

import pydantic
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from podium.api.errors import ValidationError
from podium.api.params import MAX_ID_DIGITS, decimal_id, shortened
from podium.events.jobspec import JobScope
from podium.jsontypes import Json

# No comma and no whitespace, the characters spelled out: `\s` differs between Python, the
# Rust regex that validates and the ECMA one of JSON Schema (\x85, \x1c-\x1f, \ufeff).
NODE_NAME: Final = (
    r"^[^,\t\n\x0b\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$"
)
NodeName = Annotated[str, StringConstraints(min_length=1, pattern=NODE_NAME)]
INT_MIN: Final = -(2**63)  # the log's msgpack holds integers from INT_MIN to UINT_MAX
UINT_MAX: Final = 2**64 - 1
SCHEMAS: Final = "#/components/schemas/"
# A JSON value the log can hold: integers of 64 bits, finite numbers. The OpenAPI document
# defines it (`storable_json_schema`); validation takes any JSON and `parse_body` refuses the rest.
STORABLE: Final = "StorableJson"
# Environment and task names as the document states them (environments.NAME, tasks.names):
# a malformed one is refused as a validation-error, an unknown one as a 404.
ENVIRONMENT_NAME: Final = "^[A-Za-z0-9_][A-Za-z0-9_-]{0,254}$"
TASK_NAME: Final = "^[a-z][a-z0-9_]*(::[a-z][a-z0-9_]*)?$"
# An application type or instance (applications.model.parse_reference): Type or Type[title].
APPLICATION: Final = r"^[A-Za-z][A-Za-z0-9_]*(::[A-Za-z][A-Za-z0-9_]*)*(\[[^\]]+\])?$"
ApplicationName = Annotated[str, Field(json_schema_extra={"pattern": APPLICATION})]


def storable_json_schema() -> dict[str, Json]:
    ref = {"$ref": f"{SCHEMAS}{STORABLE}"}
    return {
        "description": "Any JSON value whose integers fit in 64 bits",
        "anyOf": [
            {"type": "null"},
            {"type": "boolean"},
            {"type": "string"},
            {"type": "integer", "minimum": INT_MIN, "maximum": UINT_MAX},
            {"type": "number", "not": {"type": "integer"}},
            {"type": "array", "items": ref},
            {"type": "object", "additionalProperties": ref},
        ],
    }


# Inline, not a bare $ref: pydantic resolves a field's own $ref among its models' definitions.
StorableJson = Annotated[Json, WithJsonSchema(storable_json_schema())]


def _without_nulls(schema: dict[str, Any]) -> None:
    """The document offers each optional key present with a value, never as null."""
    for field in schema.get("properties", {}).values():
        field.pop("default", None)
        variants = [v for v in field.pop("anyOf", [field.copy()]) if v != {"type": "null"}]
        if len(variants) == 1:
            field.update(variants[0])
        else:
            field["anyOf"] = variants


def _exactly_one_key(schema: dict[str, Any]) -> None:
    _without_nulls(schema)
    schema["minProperties"] = schema["maxProperties"] = 1


def _no_application(schema: dict[str, Any]) -> None:
    """A task runs on nodes: its scope is never an application."""
    schema["properties"]["scope"]["not"] = {"required": ["application"]}


def _none_of(*rules: dict[str, Json]) -> dict[str, Json]:
    """`allOf` of `not`s: the combinations of keys a model validator refuses."""
    return {"allOf": [{"not": rule} for rule in rules]}


def _both(key: str, value: Json, other: str, other_value: Json) -> dict[str, Json]:
    return {
        "required": [key, other],
        "properties": {key: {"const": value}, other: {"const": other_value}},
    }


def _job_name(value: str | int) -> str:
    number = decimal_id(value) if isinstance(value, str) else value
    if number is None or number <= 0 or number >= 10**MAX_ID_DIGITS:
        if isinstance(value, str):
            shown = repr(shortened(value))
        else:  # str() of an int past 4,300 digits raises
            shown = repr(value) if abs(value) < 10**40 else "an integer of more than 40 digits"
        raise ValueError(f"{shown} is not a job name (a positive integer)")
    return str(number)


def _integral(value: object) -> object:
    """A JSON number with no fraction is an integer, as JSON Schema says (`5.0` is 5)."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= UINT_MAX:
        return int(value)
    return value


JobName = Annotated[
    str | int,
    BeforeValidator(_integral),
    AfterValidator(_job_name),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": f"^[1-9][0-9]{{0,{MAX_ID_DIGITS - 1}}}$"},
                {"type": "integer", "minimum": 1, "maximum": 10**MAX_ID_DIGITS - 1},
            ]
        }
    ),
]
Model = TypeVar("Model", bound=BaseModel)
# Counts the log holds (64 bits), as the document states their bounds.
Count = Annotated[
    int, Field(gt=0, json_schema_extra={"maximum": UINT_MAX}), BeforeValidator(_integral)
]
SCOPE_KEYS = ("nodes", "query", "node_group", "application")


class Scope(BaseModel):
    """Exactly one of `nodes`, `query`, `node_group`, `application`."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra=_exactly_one_key)

    nodes: list[NodeName] | None = None
    query: list[StorableJson] | str | None = None
    node_group: str | None = None
    application: ApplicationName | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Scope:
        given = [key for key in SCOPE_KEYS if getattr(self, key) is not None]
        if len(given) != 1:
            raise ValueError(
                f"scope must have exactly one of {', '.join(SCOPE_KEYS)} (got {len(given)})"
            )
        return self

    def which(self) -> str:
        return next(key for key in SCOPE_KEYS if getattr(self, key) is not None)

    def as_options(self) -> dict[str, Json]:
        key = self.which()
        return {key: getattr(self, key)}

    def job_scope(self) -> JobScope:
        return JobScope(self.nodes, self.query, self.node_group, self.application)


class _Command(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class DeployCommand(_Command):
    model_config = ConfigDict(
        json_schema_extra=_none_of(
            _both("noop", True, "no_noop", True),
            _both("environment", "", "enforce_environment", True),
            {"required": ["scope", "target"]},
        )
    )

    environment: Annotated[str, Field(json_schema_extra={"pattern": f"{ENVIRONMENT_NAME}|^$"})]
    scope: Scope | None = None
    target: ApplicationName | None = None
    description: str | None = None
    noop: bool | None = None
    no_noop: bool | None = None
    concurrency: Count | None = None
    enforce_environment: bool | None = None
    debug: bool | None = None
    trace: bool | None = None
    evaltrace: bool | None = None
    userdata: dict[str, StorableJson] | None = None

    @model_validator(mode="after")
    def _rules(self) -> DeployCommand:
        if self.noop and self.no_noop:
            raise ValueError("noop and no_noop cannot both be true")
        if self.environment == "" and self.enforce_environment:
            raise ValueError("enforce_environment cannot be true when environment is empty")
        if self.scope is not None and self.target is not None:
            raise ValueError("give scope or target, not both")
        return self

    @property
    def enforces_environment(self) -> bool:
        """`enforce_environment` as given, else true when an environment is named: an empty
        one (each agent's own) has nothing to enforce."""
        if self.enforce_environment is None:
            return self.environment != ""
        return self.enforce_environment


class TaskCommand(_Command):
    """`params` are checked against the task's own declared parameters, which the document
    cannot know: a mismatch is a validation-error naming each parameter."""

    environment: Annotated[str, Field(json_schema_extra={"pattern": ENVIRONMENT_NAME})] | None = (
        "production"
    )
    model_config = ConfigDict(json_schema_extra=lambda schema: _no_application(schema))

    scope: Scope
    task: Annotated[str, Field(json_schema_extra={"pattern": TASK_NAME})]
    params: dict[str, StorableJson]
    description: str | None = None
    noop: bool | None = None
    concurrency: Count | None = None
    timeout: Count | None = None
    userdata: dict[str, StorableJson] | None = None
    plan_job: JobName | None = None  # Bolt's: a job of that plan job


def _iso_time(value: str) -> str:
    iso_seconds(value)  # raises ValueError, which names the field
    return value


def iso_seconds(value: str) -> float:
    """Seconds since the epoch of an ISO-8601 date-time; one without an offset is UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{shortened(value)!r} is not an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


IsoTime = Annotated[
    str, AfterValidator(_iso_time), Field(json_schema_extra={"format": "date-time"})
]


class Interval(BaseModel):
    """How often a schedule runs again: seconds are the only unit."""

    model_config = ConfigDict(strict=True, extra="forbid")

    units: Literal["seconds"]
    value: Annotated[int, Field(gt=0, lt=2**40), BeforeValidator(_integral)]


class ScheduleOptions(_Command):
    interval: Interval | None = None


class ScheduleTaskCommand(TaskCommand):
    """POST /command/schedule_task: a task command and when it runs."""

    scheduled_time: IsoTime
    schedule_options: ScheduleOptions | None = None

    @property
    def interval_s(self) -> int | None:
        options = self.schedule_options
        return None if options is None or options.interval is None else options.interval.value


class ScheduleBody(_Command):
    start_time: IsoTime
    interval: Interval | None = None


EnvironmentJobType = Literal["task", "deploy", "plan"]


def input_part(schema: dict[str, Any], kind: str = "plan") -> None:
    """An `input` is stored whole, keys it does not use included: they must be storable too."""
    schema["additionalProperties"] = {"$ref": f"{SCHEMAS}{STORABLE}"}
    if kind == "task":
        _no_application(schema)
    elif kind == "deploy":
        schema.update(_none_of(_both("noop", True, "no_noop", True)))


def _input_by_type(schema: dict[str, Any]) -> None:
    """Each type with its `input` (PlanInput is plan_bodies')."""
    schema["allOf"] = [
        {
            "if": {"properties": {"type": {"const": kind}}},
            "then": {"properties": {"input": {"$ref": f"{SCHEMAS}{model}"}}},
        }
        for kind, model in (("task", "TaskInput"), ("deploy", "DeployInput"), ("plan", "PlanInput"))
    ]


class EnvironmentJobCommand(_Command):
    """POST /scheduled_jobs/environment_jobs; `input` is checked by `type` (TaskInput,
    DeployInput)."""

    model_config = ConfigDict(json_schema_extra=_input_by_type)

    type: EnvironmentJobType
    environment: Annotated[str, Field(json_schema_extra={"pattern": ENVIRONMENT_NAME})] = (
        "production"
    )
    input: dict[str, Json]
    schedule: ScheduleBody
    description: str | None = None
    userdata: dict[str, StorableJson] | None = None


def _input_of_either(schema: dict[str, Any]) -> None:
    """A new `input` must fit the scheduled job's own type, which the request does not say."""
    refs = [{"$ref": f"{SCHEMAS}{name}"} for name in ("TaskInput", "DeployInput", "PlanInput")]
    schema["properties"]["input"] = {"anyOf": refs}


class EnvironmentJobUpdate(_Command):
    """PUT /scheduled_jobs/environment_jobs/<id>: each key given replaces the stored value."""

    model_config = ConfigDict(json_schema_extra=_input_of_either)

    input: dict[str, Json] | None = None
    environment: Annotated[str, Field(json_schema_extra={"pattern": ENVIRONMENT_NAME})] | None = (
        None
    )
    schedule: ScheduleBody | None = None
    description: str | None = None
    userdata: dict[str, StorableJson] | None = None
    enabled: bool | None = None


class TaskInput(_Command):
    """The `input` of a scheduled environment job of type task."""

    model_config = ConfigDict(json_schema_extra=lambda schema: input_part(schema, "task"))

    name: Annotated[str, Field(json_schema_extra={"pattern": TASK_NAME})]
    parameters: dict[str, StorableJson] = {}
    scope: Scope
    noop: bool | None = None
    concurrency: Count | None = None


class DeployInput(_Command):
    """The `input` of a scheduled environment job of type deploy. The agent settings PE also
    takes (`tags`, `filetimeout`, ...) are accepted and not used."""

    model_config = ConfigDict(json_schema_extra=lambda schema: input_part(schema, "deploy"))

    scope: Scope
    concurrency: Count | None = None
    noop: bool | None = None
    no_noop: bool | None = None
    debug: bool | None = None
    trace: bool | None = None
    evaltrace: bool | None = None
    enforce_environment: bool | None = None


class TaskTargetCommand(_Command):
    """POST /command/task_target. Neither tasks nor nodes have to exist."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["all_tasks"], "properties": {"all_tasks": {"const": True}}},
                {
                    "required": ["tasks"],
                    "properties": {"tasks": {"type": "array", "minItems": 1}},
                },
            ]
        }
    )

    display_name: str
    tasks: list[Annotated[str, StringConstraints(min_length=1)]] | None = None
    all_tasks: bool | None = None
    nodes: list[NodeName] = []
    node_groups: list[Annotated[str, StringConstraints(min_length=1)]] = []
    pql_query: Annotated[str, Field(json_schema_extra={"format": "pql-query"})] | None = None

    def tasks_problem(self) -> str | None:
        """Why the tasks and all_tasks cannot work together, if they cannot."""
        if not self.all_tasks and not self.tasks:
            given = "an empty tasks" if self.tasks is not None else "no tasks"
            return f"all_tasks must be true when there are no tasks (got {given})"
        return None


class InventoryQuery(_Command):
    """POST /inventory"""

    nodes: list[Annotated[str, StringConstraints(min_length=1)]]


class StopCommand(_Command):
    job: JobName
    force: bool | None = None

    @property
    def job_name(self) -> str:
        return str(self.job)  # normalised by _job_name


class RerunCommand(_Command):
    """POST /command/rerun: a job's command again, over all its nodes, the ones that ended
    failed or errored, or the ones named (each must be one of the job's)."""

    job: JobName
    nodes: Literal["all", "failed"] | Annotated[list[NodeName], Field(min_length=1)]
    description: str | None = None

    @property
    def job_name(self) -> str:
        return str(self.job)  # normalised by _job_name


def parse_body(model: type[Model], body: bytes) -> Model:
    """Raises ValidationError naming every bad field, or saying the body is not a JSON object,
    or naming a number that JSON answers and the log cannot carry."""
    try:
        parsed = model.model_validate_json(body)
    except pydantic.ValidationError as exc:
        raise _validation_error(exc) from exc
    unstorable = _first_unstorable_number(parsed)
    if unstorable is not None:
        field, message = unstorable
        raise ValidationError(
            f"Invalid request: {field}: {message}", errors=[{"field": field, "message": message}]
        )
    return parsed


def parse_part(model: type[Model], value: Json, field: str) -> Model:
    """A part of a body already parsed (an environment job's `input`), its errors named
    from the body's top."""
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as exc:
        error = _validation_error(exc)
        errors = [
            {**e, "field": f"{field}.{e['field']}" if e["field"] else field}
            for e in error.details["errors"]
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise ValidationError(f"Invalid request: {summary}", errors=errors) from exc


def _first_unstorable_number(model: BaseModel) -> tuple[str, str] | None:
    """The first field holding NaN, an infinity (`1e400` parses as one) or an integer outside
    64 bits, with why: none of them can be logged, or answered as JSON. Without recursion."""
    if _plainly_storable(model):  # nearly every body: no path is named
        return None
    pending: list[tuple[str, Json]] = [
        (name, getattr(model, name)) for name in reversed(type(model).model_fields)
    ]
    while pending:
        path, value = pending.pop()
        if isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        if isinstance(value, int) and not INT_MIN <= value <= UINT_MAX:
            return path, "an integer outside 64 bits (-2**63 to 2**64 - 1)"
        if isinstance(value, float) and not math.isfinite(value):
            return path, "not a finite number (NaN, Infinity and 1e400 are not JSON numbers)"
        if isinstance(value, BaseModel):
            fields = type(value).model_fields
            pending.extend((f"{path}.{n}", getattr(value, n)) for n in reversed(fields))
        elif isinstance(value, dict):
            pending.extend((f"{path}.{key}", item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend((f"{path}.{i}", item) for i, item in reversed(list(enumerate(value))))
    return None


def _plainly_storable(model: BaseModel) -> bool:
    """True when every value of the model is of a plain JSON type and every number fits; False
    when one does not or could not be told apart at a glance (then `_first_unstorable_number`
    walks it with paths). Exact types, no isinstance: a request's hot path."""
    pending: list[Any] = [*model.__dict__.values()]
    while pending:
        value = pending.pop()
        kind = type(value)
        if kind is str or kind is bool or value is None:
            continue
        if kind is int:
            if not INT_MIN <= value <= UINT_MAX:
                return False
        elif kind is float:
            if not math.isfinite(value):
                return False
        elif kind is dict:
            pending.extend(value.values())
        elif kind is list:
            pending.extend(value)
        elif isinstance(value, BaseModel) and not value.__pydantic_extra__:
            pending.extend(value.__dict__.values())
        else:
            return False
    return True


def _validation_error(exc: pydantic.ValidationError) -> ValidationError:
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "json_invalid":
            message = f"the body is not valid JSON ({error.get('ctx', {}).get('error', '')})"
        elif error["type"] == "model_type" and not field:
            message = "the body must be a JSON object"
        elif error.get("ctx", {}).get("pattern") == NODE_NAME:
            message = "a node name must have no whitespace and no comma"
        errors.append({"field": field, "message": message})
    summary = "; ".join(
        f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
    )
    return ValidationError(f"Invalid request: {summary}", errors=errors)


def openapi_schemas(models: list[type[BaseModel]]) -> dict[str, Json]:
    """JSON Schemas of request bodies, for the OpenAPI document: each model and the models it
    uses, by name."""
    _, schemas = pydantic.json_schema.models_json_schema(
        [(model, "validation") for model in models], ref_template=SCHEMAS + "{model}"
    )
    return {**schemas.get("$defs", {}), STORABLE: storable_json_schema()}
