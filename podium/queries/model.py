"""The one internal query model that AST, PQL and classifier rules all lower to.

Paths are structured tuples (`("facts", "os", "family")`, `("facts", "disks", 0)`), never dotted
strings, so a key holding a dot or a space needs no quoting here. `Mode` is the only difference
between the front ends: AST and PQL compare typed values, classifier rules compare string forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from podium.jsontypes import Json

if TYPE_CHECKING:  # budget.py imports QueryProblem from here
    from podium.queries.budget import Pattern

Path = tuple[str | int, ...]
Operand = str | int | float | bool | datetime | list[Json]
CompareOp = Literal["=", "<", "<=", ">", ">="]


class QueryProblem(ValueError):
    """Raised for a query that cannot be parsed or run; `details` says where and what."""

    def __init__(self, msg: str, **details: Json) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


class Mode(StrEnum):
    TYPED = "typed"  # AST and PQL: no coercion, True is not 1
    STRING = "string"  # classifier rules: compare string forms, numbers coerced or false


@dataclass(frozen=True, slots=True)
class Field:
    """Where a condition looks in a row. `whole` values (facts `value`, `["fact", n]`) never
    match when they are a hash or an array; elsewhere a list matches if any element does."""

    path: Path
    whole: bool = False
    timestamp: bool = False


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    field: Field
    value: Operand
    mode: Mode = Mode.TYPED


@dataclass(frozen=True, slots=True)
class Regex:
    field: Field
    pattern: Pattern  # see podium.queries.budget for the dialect
    mode: Mode = Mode.TYPED


@dataclass(frozen=True, slots=True)
class IsNull:
    field: Field
    null: bool


@dataclass(frozen=True, slots=True)
class Const:
    """A condition known without looking at the row (`node_state`, `["node", "active"]`)."""

    value: bool


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    term: Expr


@dataclass(frozen=True, slots=True)
class InQuery:
    """`["in", fields, ["from", ...]]`: the row's values are among the subquery's."""

    fields: tuple[Field, ...]
    query: From


@dataclass(frozen=True, slots=True)
class Subquery:
    """An implicit subquery: the row's certname is among those of `entity` rows matching."""

    entity: str
    where: Expr | None


Expr = Compare | Regex | IsNull | Const | And | Or | Not | InQuery | Subquery


@dataclass(frozen=True, slots=True)
class Order:
    field: Field
    descending: bool = False


@dataclass(frozen=True, slots=True)
class From:
    entity: str
    where: Expr | None = None
    fields: tuple[Field, ...] = ()  # the projection; () for every field
    order_by: tuple[Order, ...] = ()
    limit: int | None = None
    offset: int = 0


def entities(query: From) -> set[str]:
    """Every entity the query reads, subqueries included."""
    found = {query.entity}
    pending: list[Expr | None] = [query.where]
    while pending:
        match pending.pop():
            case And(terms=terms) | Or(terms=terms):
                pending.extend(terms)
            case Not(term=term):
                pending.append(term)
            case InQuery(query=inner):
                found |= entities(inner)
            case Subquery(entity=entity, where=where):
                found.add(entity)
                pending.append(where)
    return found
