"""Parsing a type expression: a lark (LALR) grammar, and a transformer that hands each type
name and its arguments to the builders. Every failure, whatever the input, is a
`TypeSyntaxError`."""

from __future__ import annotations

import functools
import re
from typing import Any, Final

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedToken,
    VisitError,
)

from podium.tasks.types.build import DEFAULT, Arg, Bare, Default, Regex, TypeSyntaxError, construct
from podium.tasks.types.model import PType

MAX_DEPTH: Final = 32  # brackets nested deeper than this are refused before parsing
MAX_LENGTH: Final = 10_000

_GRAMMAR: Final = r"""
    ?start: type

    type: TYPE_NAME ("[" [args] "]")?
    args: arg ("," arg)* ","?
    ?arg: type
        | NUMBER -> number
        | STRING -> string
        | BAREWORD -> bareword
        | REGEX -> regex
        | "default" -> default
        | "true" -> true
        | "false" -> false
        | hash
    hash: "{" [pair ("," pair)* ","?] "}"
    pair: arg "=>" arg

    TYPE_NAME: /(::)?[A-Z]\w*(::[A-Z]\w*)*/
    BAREWORD: /(::)?[a-z_]\w*(::[a-z_]\w*)*/
    NUMBER: /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/
    STRING: /'(\\.|[^'\\])*'/ | /"(\\.|[^"\\])*"/
    REGEX: /\/(\\.|[^\/\\\n])*\//

    %import common.WS
    %ignore WS
"""

_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "s": " ", "\\": "\\", "'": "'", '"': '"'}


def _unquote(token: str) -> str:
    body = token[1:-1]
    if token[0] == "'":  # single quotes: only \' and \\ are escapes
        return re.sub(r"\\([\\'])", r"\1", body)
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


@v_args(inline=True)
class _Build(Transformer[Token, PType]):
    def type(self, name: Token, args: list[Arg] | None = None) -> PType:
        return construct(str(name), args)

    def args(self, *items: Arg) -> list[Arg]:
        return list(items)

    def number(self, token: Token) -> int | float:
        text = str(token)
        return float(text) if any(c in text for c in ".eE") else int(text)

    def string(self, token: Token) -> str:
        return _unquote(str(token))

    def bareword(self, token: Token) -> Bare:
        return Bare(str(token))

    def regex(self, token: Token) -> Regex:
        return Regex(str(token)[1:-1].replace("\\/", "/"))

    def default(self) -> Default:
        return DEFAULT

    def true(self) -> bool:
        return True

    def false(self) -> bool:
        return False

    def hash(self, *pairs: tuple[Any, Any] | None) -> list[tuple[Any, Any]]:
        return [pair for pair in pairs if pair is not None]

    def pair(self, key: Arg, value: Arg) -> tuple[Arg, Arg]:
        return key, value


_PARSER: Final = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=True)


@functools.lru_cache(maxsize=2048)
def parse_type(text: str) -> PType:
    """Raises TypeSyntaxError, and nothing else, for any string. Memoised: types are frozen,
    so one parse serves every task and request that writes the same expression."""
    if len(text) > MAX_LENGTH:
        raise TypeSyntaxError(f"type expression longer than {MAX_LENGTH} characters")
    if _depth(text) > MAX_DEPTH:
        raise TypeSyntaxError(f"type expression nested deeper than {MAX_DEPTH} levels")
    try:
        tree = _PARSER.parse(text)
        return _Build().transform(tree)
    except VisitError as exc:
        cause = exc.orig_exc
        if isinstance(cause, TypeSyntaxError):
            raise TypeSyntaxError(f"{text!r}: {cause}") from cause
        raise TypeSyntaxError(f"{text!r}: {cause}") from exc
    except LarkError as exc:
        raise TypeSyntaxError(f"{text!r} is not a type expression: {_syntax(exc)}") from exc


def _depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _syntax(exc: LarkError) -> str:
    """Where the parse went wrong, without lark's token reprs."""
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        return "it ends too early"
    if isinstance(exc, UnexpectedToken):
        return f"unexpected {str(exc.token)!r} at column {exc.column}"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected {exc.char!r} at column {exc.column}"
    return type(exc).__name__
