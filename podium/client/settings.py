"""What every client command needs to reach a server: where it is, which token file, and how to
print. Built by the CLI from its options table; the token itself is found by `credentials`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

OutputFormat = Literal["text", "json"]
FORMATS: Final[tuple[OutputFormat, ...]] = ("text", "json")


@dataclass(frozen=True, slots=True)
class ClientSettings:
    url: str = "http://127.0.0.1:8143"
    token_file: Path | None = None
    format: OutputFormat = "text"
