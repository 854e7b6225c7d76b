"""A Puppet agent's last run report (`--lastrunreport`), read back after a deploy run.

The agent writes it as YAML whose objects carry Ruby tags (`!ruby/object:Puppet::Transaction::
Report`); they are read as plain maps. Only what the orchestrator shows is kept, each part
bounded: the run's status, noop state, resource metrics, environment, configuration version and
transaction UUID, and for a failed run the failed resources with their messages and the errors
the agent logged (a catalog that does not compile leaves only those). Pure: bytes in, a
`RunReport` out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import yaml

from podium.jsontypes import Json

MAX_REPORT_BYTES: Final = 32 * 1024 * 1024  # a report larger than this is not read
MAX_FAILED_RESOURCES: Final = 10
MAX_MESSAGES: Final = 3  # per failed resource
MAX_ERRORS: Final = 10
MAX_MESSAGE_CHARS: Final = 500
STATUSES: Final = frozenset({"changed", "unchanged", "failed"})
# The orchestrator's metric names, as the report's `resources` metrics name them.
METRICS: Final = (
    "total",
    "changed",
    "failed",
    "skipped",
    "restarted",
    "failed_to_restart",
    "scheduled",
    "out_of_sync",
    "corrective_change",
)
QUIET_SOURCES: Final = frozenset({"Facter"})  # their errors do not fail a run: not the cause


class ReportError(ValueError):
    """Raised for a report that cannot be read: not YAML, or not a Puppet run report."""


@dataclass(frozen=True, slots=True)
class FailedResource:
    resource: str  # `File[/etc/motd]`
    messages: tuple[str, ...]

    def as_json(self) -> dict[str, Json]:
        return {"resource": self.resource, "messages": list(self.messages)}


@dataclass(frozen=True, slots=True)
class RunReport:
    status: str  # changed, unchanged or failed
    noop: bool  # the run was a noop run
    noop_pending: bool  # it found changes it did not make (noop)
    environment: str | None
    configuration_version: str | None
    transaction_uuid: str | None
    metrics: dict[str, int] | None  # METRICS; None when the run got no catalog to apply
    failed_resources: tuple[FailedResource, ...] = ()
    errors: tuple[str, ...] = ()  # err-level log messages, oldest first
    more_failed_resources: int = 0  # failed resources left out past MAX_FAILED_RESOURCES

    @property
    def cause(self) -> str | None:
        """What made the run fail, in one line: the first failed resource's first message, else
        the first error the agent logged."""
        for failed in self.failed_resources:
            if failed.messages:
                return f"{failed.resource}: {failed.messages[0]}"
        return self.errors[0] if self.errors else None


class _ReportLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """Safe YAML that reads Ruby-tagged objects as the maps, lists and strings they are."""


def _untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Json:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_ReportLoader.add_multi_constructor("!ruby/", _untagged)


def parse_report(data: bytes) -> RunReport:
    """Raises ReportError."""
    if len(data) > MAX_REPORT_BYTES:
        raise ReportError(f"the run report is larger than {MAX_REPORT_BYTES} bytes")
    try:
        raw = yaml.load(data, Loader=_ReportLoader)  # a safe loader
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        raise ReportError(f"the run report is not YAML: {_first_line(exc)}") from exc
    if not isinstance(raw, dict) or raw.get("status") not in STATUSES:
        raise ReportError("the run report has no run status (changed, unchanged or failed)")
    failed = list(_failed_resources(raw.get("resource_statuses")))
    return RunReport(
        status=str(raw["status"]),
        noop=raw.get("noop") is True,
        noop_pending=raw.get("noop_pending") is True,
        environment=_text(raw.get("environment")),
        configuration_version=_text(raw.get("configuration_version")),
        transaction_uuid=_text(raw.get("transaction_uuid")),
        metrics=_metrics(raw.get("metrics")),
        failed_resources=tuple(failed[:MAX_FAILED_RESOURCES]),
        more_failed_resources=max(0, len(failed) - MAX_FAILED_RESOURCES),
        errors=tuple(_errors(raw.get("logs"))),
    )


def _text(value: Any) -> str | None:
    """Strings stay; numbers (a configuration version is often one) become their text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        return _bounded(str(value))
    return None


def _metrics(metrics: Any) -> dict[str, int] | None:
    """The `resources` metrics, `values` being [name, label, value] triples."""
    if not isinstance(metrics, dict):
        return None
    resources = metrics.get("resources")
    values = resources.get("values") if isinstance(resources, dict) else None
    if not isinstance(values, list):
        return None
    found: dict[str, int] = {}
    for entry in values:
        if isinstance(entry, list) and len(entry) == 3 and entry[0] in METRICS:
            value = entry[2]
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[entry[0]] = int(value)
    return {name: found.get(name, 0) for name in METRICS}


def _failed_resources(statuses: Any) -> Iterator[FailedResource]:
    if not isinstance(statuses, dict):
        return
    for title, status in statuses.items():
        if not isinstance(status, dict) or status.get("failed") is not True:
            continue
        events = status.get("events")
        messages = [
            _bounded(str(event.get("message")))
            for event in (events if isinstance(events, list) else [])
            if isinstance(event, dict) and event.get("status") == "failure" and event.get("message")
        ]
        yield FailedResource(_bounded(str(title)), tuple(messages[:MAX_MESSAGES]))


def _errors(logs: Any) -> Iterator[str]:
    if not isinstance(logs, list):
        return
    count = 0
    for log in logs:
        if count >= MAX_ERRORS:
            return
        if (
            isinstance(log, dict)
            and log.get("level") in ("err", "alert", "emerg", "crit")
            and log.get("source") not in QUIET_SOURCES
            and log.get("message")
        ):
            count += 1
            yield _bounded(str(log["message"]))


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _first_line(exc: Exception) -> str:
    return _bounded(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def read_report(data: bytes | None) -> tuple[RunReport | None, str | None]:
    """The report in `data` (None: the agent left none), or why it cannot be shown."""
    if data is None:
        return None, None
    try:
        return parse_report(data), None
    except ReportError as exc:
        return None, str(exc)
