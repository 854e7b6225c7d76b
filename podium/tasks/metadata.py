"""Task metadata JSON, read tolerantly: duplicate keys resolve to the last, unknown keys are kept
(`TaskCache` logs them once per version of the file), and a malformed file is reported with its
path instead of taking a task down."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from podium.jsontypes import Json

KNOWN_KEYS: Final = frozenset(
    {
        "description",
        "puppet_task_version",
        "supports_noop",
        "input_method",
        "parameters",
        "implementations",
        "files",
        "private",
        "remote",
        "extensions",
        "identifiers",
    }
)
INPUT_METHODS: Final = frozenset({"stdin", "environment", "both", "powershell"})


class MetadataError(ValueError):
    """Raised for metadata that cannot describe a task; the message names the file."""


@dataclass(frozen=True, slots=True)
class TaskMetadata:
    raw: dict[str, Json] = field(default_factory=dict)  # as written, for GET /tasks/<m>/<t>

    @property
    def description(self) -> str | None:
        value = self.raw.get("description")
        return value if isinstance(value, str) else None

    @property
    def supports_noop(self) -> bool:
        return self.raw.get("supports_noop") is True

    @property
    def private(self) -> bool:
        return self.raw.get("private") is True

    @property
    def input_method(self) -> str | None:
        value = self.raw.get("input_method")
        return value if value in INPUT_METHODS else None

    @property
    def parameters(self) -> dict[str, Json] | None:
        """None when the task accepts anything; {} when it accepts no parameters."""
        value = self.raw.get("parameters")
        return value if isinstance(value, dict) else None

    @property
    def implementations(self) -> list[dict[str, Json]]:
        value = self.raw.get("implementations")
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    @property
    def unknown_keys(self) -> list[str]:
        """Keys the specification does not define: kept, and worth a warning."""
        return sorted(set(self.raw) - KNOWN_KEYS)

    @property
    def files(self) -> list[str]:
        value = self.raw.get("files")
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def read_metadata(path: Path) -> TaskMetadata:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))  # duplicate keys: the last one wins
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"{path}: unreadable task metadata: {exc}") from exc
    if not isinstance(raw, dict):
        raise MetadataError(f"{path}: task metadata must be a JSON object")
    return TaskMetadata(raw)
