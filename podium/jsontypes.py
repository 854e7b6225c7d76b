"""The one alias for a JSON value as the code passes it around (decoded from JSON or msgpack):
a dict, list, str, int, float, bool or None. Used where a value is carried, not inspected."""

from __future__ import annotations

from typing import Any, TypeAlias

Json: TypeAlias = Any
