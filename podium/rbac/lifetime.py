"""Token lifetimes as people write them: `30d`, `12h`, `90m`, `3600s`, `2w` (or bare seconds)."""

from __future__ import annotations

import re
from typing import Final

_UNITS_S: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_LIFETIME: Final = re.compile(r"\A([1-9][0-9]{0,9})([smhdw]?)\Z")
MAX_LIFETIME_S: Final = 10 * 365 * 86400
# What the OpenAPI document offers: digits per unit kept below ten years.
LIFETIME_PATTERN: Final = (
    "^([1-9][0-9]{0,7}s?|[1-9][0-9]{0,5}m|[1-9][0-9]{0,3}h|[1-9][0-9]{0,2}d|[1-9][0-9]?w)$"
)


class BadLifetime(ValueError):
    """Raised for a lifetime that is not a positive count of one unit, or is over ten years."""


def parse_lifetime(text: str) -> int:
    """The lifetime in seconds."""
    match = _LIFETIME.match(text.strip())
    if match is None:
        raise BadLifetime(
            f"{text!r} is not a lifetime: a positive number with s, m, h, d or w (e.g. 30d)"
        )
    seconds = int(match.group(1)) * _UNITS_S[match.group(2) or "s"]
    if seconds > MAX_LIFETIME_S:
        raise BadLifetime(f"{text!r} is longer than ten years")
    return seconds
