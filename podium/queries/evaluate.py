"""The evaluator: a query from the internal model, run over one inventory snapshot.

Each query is compiled to predicates once: regexes are already compiled, and the row sets of
`in` and implicit subqueries are computed once per query, never once per row. Then: filter,
order, offset, limit, as PuppetDB does. Every regex match of a query draws on one RegexBudget;
a query that spends it is refused (QueryProblem).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Final

from podium.jsontypes import Json
from podium.queries.budget import Pattern, RegexBudget
from podium.queries.compare import string_compare, string_form, typed_compare
from podium.queries.entities import Row, Tables
from podium.queries.model import (
    And,
    Compare,
    Const,
    Expr,
    Field,
    From,
    InQuery,
    IsNull,
    Mode,
    Not,
    Or,
    Order,
    Path,
    Regex,
    Subquery,
)

Predicate = Callable[[Row], bool]
_MISSING: Final = object()


def certnames(query: From, tables: Tables, budget: RegexBudget) -> list[str]:
    """The certnames of the query's rows, first appearance first, without repeats. Raises
    QueryProblem when the query's regexes spend the budget."""
    return list(dict.fromkeys(str(row["certname"]) for row in run(query, tables, budget)))


def run(query: From, tables: Tables, budget: RegexBudget) -> list[Row]:
    keep = compile_expr(query.where, tables, budget)
    rows = [row for row in tables.rows(query.entity) if keep(row)]
    rows = _ordered(rows, query.order_by) if query.order_by else rows  # tables come sorted
    end = None if query.limit is None else query.offset + query.limit
    return rows[query.offset : end]


def compile_expr(expr: Expr | None, tables: Tables, budget: RegexBudget) -> Predicate:
    match expr:
        case None:
            return lambda row: True
        case Const(value=value):
            return lambda row: value
        case And(terms=terms):
            parts = [compile_expr(term, tables, budget) for term in terms]
            return lambda row: all(part(row) for part in parts)
        case Or(terms=terms):
            membership = _membership(terms)
            if membership is not None:
                return membership
            parts = [compile_expr(term, tables, budget) for term in terms]
            return lambda row: any(part(row) for part in parts)
        case Not(term=term):
            inner = compile_expr(term, tables, budget)
            return lambda row: not inner(row)
        case Compare() | Regex() | IsNull():
            return _leaf(expr, budget)
        case InQuery():
            return _in_query(expr, tables, budget)
        case Subquery(entity=entity, where=where):
            names = set(certnames(From(entity, where), tables, budget))
            return lambda row: row["certname"] in names


def _leaf(expr: Compare | Regex | IsNull, budget: RegexBudget) -> Predicate:
    field = expr.field
    match expr:
        case IsNull(null=null):
            return lambda row: (lookup(row, field.path) in (None, _MISSING)) == null
        case Compare(op=op, value=value, mode=Mode.TYPED):
            whole = isinstance(value, list)
            return lambda row: any(typed_compare(op, v, value) for v in _values(row, field, whole))
        case Compare(op=op, value=value):
            return lambda row: any(string_compare(op, v, value) for v in _values(row, field))
        case Regex(pattern=pattern, mode=Mode.TYPED):
            return lambda row: any(
                isinstance(v, str) and budget.search(pattern, v) for v in _values(row, field)
            )
        case Regex(pattern=pattern):
            return lambda row: any(_search_form(budget, pattern, v) for v in _values(row, field))


def _membership(terms: tuple[Expr, ...]) -> Predicate | None:
    """`["in", f, ["array", [...]]]` (an `or` of typed `=` on one field): one set lookup per
    value rather than one comparison per element, so a long array costs no more per row."""
    if len(terms) < 2:
        return None
    first = terms[0]
    if not isinstance(first, Compare):
        return None
    field = first.field
    for term in terms:
        if not (
            isinstance(term, Compare)
            and term.op == "="
            and term.mode is Mode.TYPED
            and term.field == field
            and isinstance(term.value, str | int | float | datetime)  # bools are ints
        ):
            return None
    wanted = {_key(term.value) for term in terms if isinstance(term, Compare)}
    return lambda row: any(_key(v) in wanted for v in _values(row, field))


def _search_form(budget: RegexBudget, pattern: Pattern, value: Json) -> bool:
    text = string_form(value)
    return text is not None and budget.search(pattern, text)


def _in_query(expr: InQuery, tables: Tables, budget: RegexBudget) -> Predicate:
    def key(row: Row, fields: tuple[Field, ...]) -> tuple[tuple[str, Json], ...]:
        return tuple(_key(lookup(row, field.path)) for field in fields)

    wanted = {key(row, expr.query.fields) for row in run(expr.query, tables, budget)}
    return lambda row: key(row, expr.fields) in wanted


def _key(value: Json) -> tuple[str, Json]:
    """A hashable key that keeps `True` apart from `1` (equal and same-hashed in Python)."""
    if value is _MISSING or value is None:
        return ("null", None)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str | datetime):
        return (type(value).__name__, value)
    return ("json", repr(value))


def lookup(row: Row, path: Path) -> Json:
    """The value at `path`, or _MISSING where a key or an index is absent."""
    value: Json = row
    for step in path:
        if isinstance(step, str) and isinstance(value, dict):
            value = value.get(step, _MISSING)
        elif isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value):
            value = value[step]
        else:
            return _MISSING
    return value


def _values(row: Row, field: Field, whole_operand: bool = False) -> Iterator[Json]:
    """The values a leaf tests: a list stands for its elements (unless compared whole), and a
    hash or an array never matches a `whole` field such as facts' `value`."""
    value = lookup(row, field.path)
    if value is _MISSING or value is None:
        return
    if isinstance(value, dict | list) and field.whole:
        return
    if isinstance(value, list) and not whole_operand:
        yield from value
    else:
        yield value


def _ordered(rows: list[Row], orders: tuple[Order, ...]) -> list[Row]:
    for order in reversed(orders):  # stable sorts, last key first
        rows = sorted(rows, key=_sort_key_of(order.field.path), reverse=order.descending)
    return rows


def _sort_key_of(path: Path) -> Callable[[Row], tuple[int, Json]]:
    return lambda row: _sort_key(lookup(row, path))


def _sort_key(value: Json) -> tuple[int, Json]:
    """A total order over mixed values: booleans, numbers, strings, times, the rest, nulls."""
    if value is _MISSING or value is None:
        return (5, 0)
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, datetime):
        return (3, value.timestamp())
    return (4, repr(value))
