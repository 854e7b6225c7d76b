"""The AST validator: a PuppetDB AST query (JSON) checked and lowered to the internal model.

PQL arrives here too, translated, so both front ends refuse the same things with the same
messages. Everything that can be checked without data is checked here: entities, fields,
operand types, regexes (compiled once), timestamps, projections and paging.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import msgspec

from podium.jsontypes import Json
from podium.queries.budget import compile_pattern
from podium.queries.entities import ENTITIES, UNSUPPORTED, Entity
from podium.queries.model import (
    And,
    Compare,
    CompareOp,
    Const,
    Expr,
    Field,
    From,
    InQuery,
    IsNull,
    Not,
    Operand,
    Or,
    Order,
    QueryProblem,
    Regex,
    Subquery,
)
from podium.queries.paths import parse_path

MAX_DEPTH: Final = 64
ORDERING: Final = frozenset({"<", "<=", ">", ">="})
PAGING: Final = frozenset({"limit", "offset", "order_by"})
CERTNAME: Final = Field(("certname",))
NODE_STATES: Final = {"active": True, "any": True, "inactive": False}  # every target is active
_REFUSED: Final = {
    "!=": 'Use ["not", ["=", field, value]] instead of "!="',
    "~>": '"~>" applies to the paths of fact_contents, which is not supported',
    **{
        form: f"{form!r} is not a condition"
        for form in ("function", "group_by", "extract", "from", "limit", "offset", "order_by")
    },
}
_show = msgspec.json.encode


def lower_ast(ast: Json) -> From:
    """The top-level query, which must be `["from", entity, ...]` and select certnames."""
    if not isinstance(ast, list) or not ast or ast[0] != "from":
        raise QueryProblem(
            'A query must start with "from", e.g. ["from", "nodes", <filter>]',
            expression=_excerpt(ast),
        )
    query = _Lowering().from_(ast, depth=0)
    if query.fields and CERTNAME not in query.fields:
        raise QueryProblem(
            "The query must return certname",
            entity=query.entity,
            fields=[".".join(map(str, field.path)) for field in query.fields],
        )
    return query


def _excerpt(value: Json) -> str:
    text = _show(value).decode()
    return text if len(text) <= 200 else f"{text[:197]}..."


def _problem(msg: str, expression: Json, **details: Json) -> QueryProblem:
    return QueryProblem(msg, expression=_excerpt(expression), **details)


def _head(value: Json) -> str | None:
    """The operator of an AST form, or None for anything that is not one."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return None


def _is_number(value: Json) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timestamp(value: str, expression: Json) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _problem(f"{value!r} is not an ISO-8601 timestamp", expression) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Lowering:
    """One pass over one query; methods follow the AST grammar, one per form."""

    def from_(self, ast: list[Json], depth: int) -> From:
        if len(ast) < 2 or not isinstance(ast[1], str):
            raise _problem('"from" needs an entity: ["from", "nodes", ...]', ast)
        entity = self.entity(ast[1], ast)
        rest = ast[2:]
        where: Expr | None = None
        fields: tuple[Field, ...] = ()
        head = _head(rest[0]) if rest else None
        if head is not None and head not in PAGING:
            clause, rest = rest[0], rest[1:]
            if clause[0] == "extract":
                fields, where = self.extract(entity, clause, depth + 1)
            else:
                where = self.expr(entity, clause, depth + 1)
        query = From(entity.name, where, fields)
        return self.paging(entity, query, rest)

    def entity(self, name: str, expression: Json) -> Entity:
        found = ENTITIES.get(name)
        if found is not None:
            return found
        if name in UNSUPPORTED:
            raise _problem(f"The entity {name} is not supported", expression, entity=name)
        known = ", ".join(ENTITIES)
        raise _problem(f"Unknown entity {name!r} (known: {known})", expression, entity=name)

    def extract(
        self, entity: Entity, clause: list[Json], depth: int
    ) -> tuple[tuple[Field, ...], Expr | None]:
        if len(clause) < 2:
            raise _problem('"extract" needs fields: ["extract", ["certname"], ...]', clause)
        fields = self.projection(entity, clause[1])
        rest = clause[2:]
        if rest and isinstance(rest[-1], list) and rest[-1] and rest[-1][0] == "group_by":
            raise _problem("Aggregates (group_by) cannot select targets", clause)
        if len(rest) > 1:
            raise _problem('"extract" takes fields and one filter', clause)
        where = self.expr(entity, rest[0], depth) if rest else None
        return fields, where

    def projection(self, entity: Entity, raw: Json) -> tuple[Field, ...]:
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list):
            raise _problem("Extracted fields must be a field or a list of fields", raw)
        if any(_head(name) == "function" for name in names):
            raise _problem("Aggregate functions cannot select targets", raw)
        return tuple(self.plain(entity, name, raw) for name in names)

    def paging(self, entity: Entity, query: From, clauses: list[Json]) -> From:
        limit, offset, order = query.limit, query.offset, query.order_by
        for clause in clauses:
            if _head(clause) not in PAGING or len(clause) != 2:
                raise _problem("Expected limit, offset or order_by after the filter", clause)
            if clause[0] == "order_by":
                order = self.order_by(entity, clause)
            elif not isinstance(clause[1], int) or isinstance(clause[1], bool) or clause[1] < 0:
                raise _problem(f"{clause[0]} takes a non-negative integer", clause)
            elif clause[0] == "limit":
                limit = clause[1]
            else:
                offset = clause[1]
        return From(query.entity, query.where, query.fields, order, limit, offset)

    def order_by(self, entity: Entity, clause: list[Json]) -> tuple[Order, ...]:
        if not isinstance(clause[1], list) or not clause[1]:
            raise _problem("order_by takes a list of fields", clause)
        orders = []
        for item in clause[1]:
            name, direction = (item, "asc") if isinstance(item, str) else (item, None)
            if isinstance(item, list) and len(item) == 2:
                name, direction = item
            if not isinstance(name, str) or direction not in ("asc", "desc"):
                raise _problem('order_by entries are a field or [field, "asc"|"desc"]', item)
            if entity.name == "facts" and name == "value":
                raise _problem("Facts cannot be ordered by value", clause, field=name)
            orders.append(Order(self.field(entity, name), direction == "desc"))
        return tuple(orders)

    def expr(self, entity: Entity, ast: Json, depth: int) -> Expr:
        if depth > MAX_DEPTH:
            raise QueryProblem(f"The query is nested more than {MAX_DEPTH} levels deep")
        if not isinstance(ast, list) or not ast or not isinstance(ast[0], str):
            raise _problem('Expected a condition such as ["=", field, value]', ast)
        operator = ast[0]
        if operator in ("and", "or"):
            return self.junction(entity, ast, depth)
        if operator == "not":
            if len(ast) != 2:
                raise _problem('"not" takes exactly one condition', ast)
            return Not(self.expr(entity, ast[1], depth + 1))
        if len(ast) != 3 and operator not in ("subquery", "in"):
            raise _problem(f"{operator!r} takes a field and a value", ast)
        return self.condition(entity, ast, depth)

    def junction(self, entity: Entity, ast: list[Json], depth: int) -> Expr:
        if len(ast) < 2:
            raise _problem(f'"{ast[0]}" needs at least one condition', ast)
        terms = tuple(self.expr(entity, term, depth + 1) for term in ast[1:])
        if len(terms) == 1:
            return terms[0]
        return And(terms) if ast[0] == "and" else Or(terms)

    def condition(self, entity: Entity, ast: list[Json], depth: int) -> Expr:
        operator = ast[0]
        match operator:
            case "=" | "<" | "<=" | ">" | ">=":
                return self.compare(entity, operator, ast)
            case "~":
                return self.regex(entity, ast)
            case "!~":
                return Not(self.regex(entity, ["~", *ast[1:]]))
            case "null?":
                if not isinstance(ast[2], bool):
                    raise _problem('"null?" takes true or false', ast)
                return IsNull(self.plain(entity, ast[1], ast), ast[2])
            case "in":
                return self.membership(entity, ast, depth)
            case "subquery":
                return self.subquery(ast, depth)
            case _:
                refusal = _REFUSED.get(operator, f"Unknown operator {operator!r}")
                raise _problem(refusal, ast)

    def compare(self, entity: Entity, operator: CompareOp, ast: list[Json]) -> Expr:
        _, raw, value = ast
        special = self.pseudo_field(raw, operator, value, ast)
        if special is not None:
            return special
        field = self.plain(entity, raw, ast)
        return Compare(operator, field, self.operand(field, operator, value, ast))

    def pseudo_field(self, raw: Json, operator: str, value: Json, ast: list[Json]) -> Const | None:
        """`node_state` and `["node", "active"]`: every inventory target is active."""
        if raw == "node_state":
            if operator != "=" or not isinstance(value, str) or value not in NODE_STATES:
                raise _problem('node_state takes "=" and "active", "inactive" or "any"', ast)
            return Const(NODE_STATES[value])
        if raw == ["node", "active"]:
            if operator != "=" or not isinstance(value, bool):
                raise _problem('["node", "active"] takes "=" and true or false', ast)
            return Const(value)
        return None

    def operand(self, field: Field, operator: str, value: Json, ast: list[Json]) -> Operand:
        if value is None or isinstance(value, dict):
            raise _problem("Compare with a string, number, boolean or array", ast)
        if operator in ORDERING:
            if _is_number(value):
                return value  # type: ignore[no-any-return]
            if not isinstance(value, str):
                raise _problem(f"{operator!r} takes a number or a timestamp", ast)
            if not field.timestamp:
                raise _problem(f"{operator!r} takes a number here: the field is no timestamp", ast)
            return _timestamp(value, ast)
        if field.timestamp and isinstance(value, str):
            return _timestamp(value, ast)
        return value  # type: ignore[no-any-return]

    def regex(self, entity: Entity, ast: list[Json]) -> Expr:
        field = self.plain(entity, ast[1], ast)
        if not isinstance(ast[2], str):
            raise _problem('"~" takes a regular expression as a string', ast)
        try:
            pattern = compile_pattern(ast[2])
        except QueryProblem as exc:
            raise _problem(exc.msg, ast, **exc.details) from exc
        return Regex(field, pattern)

    def membership(self, entity: Entity, ast: list[Json], depth: int) -> Expr:
        if len(ast) != 3:
            raise _problem('"in" takes fields and a subquery or an array', ast)
        names = ast[1] if isinstance(ast[1], list) else [ast[1]]
        if not names:
            raise _problem('"in" needs at least one field', ast)
        fields = tuple(self.plain(entity, name, ast) for name in names)
        operand = ast[2]
        if isinstance(operand, list) and operand[:1] == ["array"]:
            return self.in_array(fields, operand, ast)
        query = self.in_query(operand, depth)
        if len(query.fields) != len(fields):
            raise _problem('"in" must extract as many fields as it compares', ast)
        return InQuery(fields, query)

    def in_array(self, fields: tuple[Field, ...], operand: list[Json], ast: list[Json]) -> Expr:
        if len(fields) != 1 or len(operand) != 2 or not isinstance(operand[1], list):
            raise _problem('["in", field, ["array", [values...]]] takes one field', ast)
        terms = tuple(
            Compare("=", fields[0], self.operand(fields[0], "=", value, ast))
            for value in operand[1]
        )
        return Or(terms) if terms else Const(False)

    def in_query(self, operand: Json, depth: int) -> From:
        """`["from", E, ["extract", ...]]`, or the older `["extract", fs, ["select_E", q]]`."""
        if isinstance(operand, list) and len(operand) == 3 and operand[0] == "extract":
            select = operand[2]
            if isinstance(select, list) and select and str(select[0]).startswith("select_"):
                entity = str(select[0]).removeprefix("select_")
                operand = ["from", entity, ["extract", operand[1], *select[1:2]], *select[2:]]
        if not isinstance(operand, list) or not operand or operand[0] != "from":
            raise _problem(
                '"in" takes ["from", entity, ["extract", ...]] or ["array", [...]]', operand
            )
        query = self.from_(operand, depth + 1)
        if not query.fields:
            raise _problem('The subquery of "in" must extract fields', operand)
        return query

    def subquery(self, ast: list[Json], depth: int) -> Expr:
        if len(ast) not in (2, 3) or not isinstance(ast[1], str):
            raise _problem('"subquery" takes an entity and an optional filter', ast)
        entity = self.entity(ast[1], ast)
        where = self.expr(entity, ast[2], depth + 1) if len(ast) == 3 else None
        return Subquery(entity.name, where)

    def plain(self, entity: Entity, raw: Json, expression: Json) -> Field:
        if raw == "node_state" or raw == ["node", "active"]:
            raise _problem(f'{_excerpt(raw)} takes only "="', expression)
        return self.field(entity, raw, expression)

    def field(self, entity: Entity, raw: Json, expression: Json = None) -> Field:
        where = raw if expression is None else expression
        if isinstance(raw, list):
            return self.pseudo_path(entity, raw, where)
        if not isinstance(raw, str):
            raise _problem("A field must be a string", where)
        if "." in raw and raw.split(".", 1)[0] in entity.dotted:
            path = parse_path(raw)
            return Field(path)
        kind = entity.fields.get(raw)
        if kind is None:
            known = ", ".join(sorted(entity.fields))
            raise _problem(
                f"Unknown field {raw!r} for {entity.name} (fields: {known})",
                where,
                field=raw,
                entity=entity.name,
            )
        return Field((raw,), whole=raw in entity.whole, timestamp=kind == "timestamp")

    def pseudo_path(self, entity: Entity, raw: list[Json], where: Json) -> Field:
        if (
            len(raw) == 2
            and raw[0] == entity.pseudo
            and isinstance(raw[1], str)
            and entity.pseudo is not None
        ):
            root = "facts" if entity.pseudo == "fact" else "parameters"
            return Field((root, raw[1]), whole=True)
        raise _problem(
            f"Unknown field {_excerpt(raw)} for {entity.name}", where, entity=entity.name
        )
