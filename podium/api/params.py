"""Query-string and path parameters: parsed at the edge, refused with a clear validation-error."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Final

from aiohttp import web

from podium.api.errors import ApiError, ValidationError

MAX_ID_DIGITS: Final = 18  # ids and positions stay far below 10**18


def decimal_id(raw: str) -> int | None:
    """The number a job name or event id spells in ASCII decimal digits, else None. Longer than
    any id can be is None too, before int() is asked to read thousands of digits."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > MAX_ID_DIGITS:
        return None
    return int(raw)


def shortened(raw: str, keep: int = 40) -> str:
    """A client's text as an error message quotes it: an overlong one cut, saying so."""
    return raw if len(raw) <= keep else f"{raw[:keep]}... ({len(raw)} characters)"


def path_id(request: web.Request, key: str = "id") -> str:
    """A resource id in the path: a positive decimal integer, returned as its name."""
    raw = request.match_info[key]
    number = decimal_id(raw)
    if number is None or number <= 0:
        raise ValidationError(
            f"{shortened(raw)!r} is not a valid id: expected a positive integer", id=shortened(raw)
        )
    return str(number)


def int_param(
    request: web.Request,
    name: str,
    *,
    minimum: int = 0,
    error: type[ApiError] = ValidationError,
) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise error(f"{name} must be an integer of at least {minimum}, not {raw!r}", value=raw)
    return value


def choice_param(
    request: web.Request,
    name: str,
    choices: Collection[str],
    default: str,
    *,
    error: type[ApiError] = ValidationError,
) -> str:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        allowed = ", ".join(sorted(choices))
        raise error(f"{name} must be one of {allowed}, not {raw!r}", value=raw)
    return raw


def time_param(request: web.Request, name: str) -> float | None:
    """An ISO-8601 date-time; one without an offset is read as UTC."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(f"{name} must be an ISO-8601 date-time, not {raw!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
