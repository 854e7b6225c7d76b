"""Dotted field paths (`facts.os.family`, `facts.disks.sda.size[0]`, `facts."x.y".z`) parsed
once into structured tuples, so nothing downstream splits strings on dots."""

from __future__ import annotations

import json
from typing import Final

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedInput

from podium.queries.model import Path, QueryProblem

_GRAMMAR: Final = r"""
start: NAME ("." _segment)+
_segment: key index* | MATCH
key: NAME | QUOTED
index: "[" INT "]"

MATCH.2: /match\((?:"(?:[^"\\]|\\.)*"|[^)])*\)/
QUOTED: /"(?:[^"\\]|\\.)*"/
NAME: /[^\s."\[\],!<=>~]+/
INT: /[0-9]+/
"""


class _ToPath(Transformer[Token, Path]):
    def start(self, items: list[str | int]) -> Path:
        if any(isinstance(item, Token) and item.type == "MATCH" for item in items):
            raise ValueError("match() path segments are not supported")
        root, *rest = items
        return (str(root), *rest)

    def key(self, items: list[Token]) -> str:
        token = items[0]
        return str(json.loads(token)) if token.type == "QUOTED" else str(token)

    def index(self, items: list[Token]) -> int:
        return int(items[0])


_parser: Final = Lark(_GRAMMAR, parser="lalr")


def parse_path(text: str) -> Path:
    """`facts.a."b.c"[0]` -> ("facts", "a", "b.c", 0). Raises QueryProblem naming the field."""
    try:
        return _ToPath().transform(_parser.parse(text))
    except UnexpectedInput as exc:
        raise QueryProblem(
            f"Invalid field path {text!r} at column {exc.column}", field=text, column=exc.column
        ) from exc
    except (LarkError, ValueError) as exc:
        cause = exc.orig_exc if hasattr(exc, "orig_exc") else exc
        raise QueryProblem(f"Invalid field path {text!r}: {cause}", field=text) from exc
