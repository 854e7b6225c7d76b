"""A task's parameters from a command line, as `puppet task run` takes them: `key=value` pairs,
or `--params` with a JSON object (`@file` reads it from a file), never both. Pure, but for
reading that file.

An inline value is a string unless the task declares a type for it that no string satisfies
(`Integer`, `Boolean`, `Array[String]`, `Optional[Hash]` ...): then it is read as JSON, so
`count=3` is the number 3 and `names=["a","b"]` a list. A value that is not JSON stays a string,
and the server's check names the mismatch."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from podium.client.http import ClientError

# Types a string satisfies (or may: Variant, Any), after Optional[...] and Sensitive[...].
_STRING_TYPES: Final = re.compile(
    r"^(String|Enum|Pattern|Any|Data|Scalar|ScalarData|Variant|NotUndef)\b"
)
_WRAPPERS: Final = re.compile(r"^(?:Optional|Sensitive)\[(.*)\]$", re.S)


class ParamsError(ClientError):
    """Raised for parameters the command line gives wrong: the message says which and why."""


def split_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """`["a=1", "b=x=y"]` -> `{"a": "1", "b": "x=y"}`. Raises ParamsError."""
    given: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise ParamsError(f"a parameter is key=value, not {pair!r}")
        if key in given:
            raise ParamsError(f"parameter {key} is given twice")
        given[key] = value
    return given


def read_params(text: str) -> dict[str, Any]:
    """`--params`: a JSON object, or `@path` to a file holding one. Raises ParamsError."""
    where = "--params"
    if text.startswith("@"):
        path = Path(text[1:])
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ParamsError(f"cannot read the params file {path}: {exc.strerror}") from exc
    try:
        params = json.loads(text)
    except ValueError as exc:
        raise ParamsError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise ParamsError(f"{where} must hold a JSON object, not {type(params).__name__}")
    return params


def typed(inline: Mapping[str, str], declared: Mapping[str, Any] | None) -> dict[str, Any]:
    """Inline values, each read as JSON where its declared type takes no string."""
    params: dict[str, Any] = {}
    for key, value in inline.items():
        spec = (declared or {}).get(key)
        kind = spec.get("type", "Any") if isinstance(spec, dict) else "Any"
        params[key] = value if takes_string(str(kind)) else _json_or_string(value)
    return params


def takes_string(puppet_type: str) -> bool:
    kind = puppet_type.strip()
    while match := _WRAPPERS.match(kind):
        kind = match[1].strip()
    return bool(_STRING_TYPES.match(kind))


def _json_or_string(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
