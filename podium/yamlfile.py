"""Reading a configuration file written in YAML, with every way that can fail made one error.

PyYAML raises YAMLError for bad syntax, but RecursionError for a document nested a few hundred
levels deep (it composes recursively), and reading the file raises OSError or, for bytes that
are not UTF-8, UnicodeDecodeError. Each loader passes its own error type, and gets that for
all of them, with the file named. Data nested deeper than MAX_DEPTH is refused here too, so no
loader walking it recursively can run out of stack later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import yaml

from podium.jsontypes import Json

MAX_DEPTH: Final = 64  # maps and lists within each other; real configuration needs a handful
# libyaml's parser where PyYAML was built with it: the pure-Python one took 1.3 s of a 10,000-node
# inventory's 1.4 s (0.1 s with libyaml), on every start and every reload.
_FAST: Final = yaml.CSafeLoader if yaml.__with_libyaml__ else None


def read_yaml(path: Path, error: type[Exception]) -> Json:
    """The file's data (None for an empty file). Raises `error` naming the file when it cannot
    be read, is not UTF-8, is not YAML or is nested too deeply."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return parse_yaml(text, str(path), error)


def parse_yaml(text: str, source: str, error: type[Exception]) -> Json:
    """The data of a YAML text read from `source`. Raises `error` as `read_yaml` does."""
    try:
        data = _load(text)
    except yaml.MarkedYAMLError as exc:
        for mark in (exc.context_mark, exc.problem_mark):  # "<unicode string>" otherwise
            if mark is not None:
                mark.name = source
        raise error(f"{source}: not valid YAML: {exc}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{source}: not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise error(f"{source}: nested more deeply than YAML can be read here") from exc
    if too_deep(data, MAX_DEPTH):
        raise error(f"{source}: nested more than {MAX_DEPTH} levels deep")
    return data


def _load(text: str) -> Json:
    """The text's data, read by libyaml where PyYAML has it. A text libyaml refuses is read again
    by the pure-Python parser, whose errors are the ones raised: they show the line with a caret
    under the fault (libyaml's marks hold no text), and nesting too deep for it is a
    RecursionError (libyaml has a depth limit of its own)."""
    if _FAST is not None:
        try:
            data: Json = yaml.load(text, Loader=_FAST)  # a safe loader
            return data
        except (yaml.YAMLError, RecursionError):
            pass
    data = yaml.safe_load(text)
    return data


def too_deep(data: Json, limit: int) -> bool:
    """Whether maps and lists nest more than `limit` levels. Without recursion, so any depth can
    be measured, and a part shared through YAML aliases is walked again only when reached at a
    greater depth, so aliases cannot make the walk explode."""
    pending: list[tuple[Json, int]] = [(data, 0)]
    deepest: dict[int, int] = {}  # id of a map or list -> the greatest depth it was seen at
    while pending:
        value, depth = pending.pop()
        if not isinstance(value, dict | list) or deepest.get(id(value), -1) >= depth:
            continue
        if depth >= limit:
            return True
        deepest[id(value)] = depth
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children)
    return False
