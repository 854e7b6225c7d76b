"""PQL, the Puppet Query Language: a lark grammar and its translation to the AST language.

The grammar is Podium's own text, written from PuppetDB's published grammar: the same
productions, precedence (`!` over `and` over `or`) and literal rules. Keywords are whole words,
and `and`/`or` need whitespace on both sides, as upstream. The translation follows PuppetDB's
PQL-to-AST transform rule for rule; its output goes through the same validator as AST input.
"""

from __future__ import annotations

import json
from typing import Final

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from libs.queries.model import Json, QueryProblem

MAX_PQL_CHARS: Final = 16_384

_ENTITIES: Final = (
    "facts|reports|catalogs|packages|package_inventory|resources|nodes|environments|factsets"
    "|fact_paths|fact_contents|inventory|edges|events"
)
# A dotted segment: a quoted name, match(...), or a run of plain characters with [n] indexes.
_SEGMENT: Final = r'"([^"\\]|\\.)*"|match\([^)]*\)|[^\s.",\[\]!<=>~(){}]+(\[[0-9]+\])*'
_GRAMMAR: Final = rf"""
start: query
query: ENTITY projection? "{{" body "}}"

projection: "[" [_projected ("," _projected)*] "]"
_projected: field | function
function: FUNCTION "(" [_argument ("," string)*] ")"
_argument: field | string

body: filter? modifiers
modifiers: group_by? | _paging*
_paging: limit | offset | order_by
limit: _LIMIT INT
offset: _OFFSET INT
order_by: _ORDER _BY order_param ("," order_param)*
order_param: field DIRECTION?
group_by: _GROUP _BY _projected ("," _projected)*

?filter: or_
?or_: and_ (_OR and_)*
?and_: not_ (_AND not_)*
?not_: "!" not_ -> negation
     | _primary
_primary: "(" filter ")" | condition | subquery
subquery: SUBQUERY_ENTITY "{{" filter? "}}"

condition: field EQUALITY literal -> equality
         | field "~" string -> regex
         | field "!~" literal -> not_regex
         | field ORDERING (number | string) -> ordering
         | field "~>" strings -> path_regex
         | fields _IN (query | array) -> membership
         | field _IS _NULL -> is_null
         | field _IS _NOT _NULL -> is_not_null
fields: field | "[" field ("," field)* "]"
array: "[" [literal ("," literal)*] "]"
strings: "[" [string ("," string)*] "]"

?literal: string | number | boolean
?number: INT -> integer
       | REAL -> real
?string: DQ_STRING -> dq_string
       | SQ_STRING -> sq_string
boolean: TRUE | FALSE
field: FIELD | DOTTED_FIELD

ENTITY: /({_ENTITIES})(?![\w?])/
SUBQUERY_ENTITY.2: /({_ENTITIES})(?=\s*\{{)/
FUNCTION.2: /(count|avg|sum|min|max|to_string)(?=\s*\()/
DOTTED_FIELD.2: /(facts|trusted|parameters)(\.({_SEGMENT}))+/
FIELD: /[A-Za-z0-9_]+\??/
EQUALITY: "!=" | "="
ORDERING: "<=" | ">=" | "<" | ">"
_AND: /(?<=\s)and(?=\s)/
_OR: /(?<=\s)or(?=\s)/
_IN: /(?<=\s)in(?![\w?])/
_IS: /(?<=\s)is(?=\s)/
_NOT: /not(?=\s)/
_NULL: /null(?![\w?])/
_LIMIT: /limit(?=\s)/
_OFFSET: /offset(?=\s)/
_ORDER: /order(?=\s)/
_GROUP: /group(?=\s)/
_BY: /by(?=\s)/
DIRECTION: /(asc|desc)(?![\w?])/
TRUE: /true(?![\w?])/
FALSE: /false(?![\w?])/
INT: /-?[0-9]+(?![\w.])/
REAL: /-?[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?(?![\w.])/
DQ_STRING: /"(?:[^"\\]|\\.)*"/s
SQ_STRING: /'(?:[^'\\]|\\.)*'/s

%import common.WS
%ignore WS
"""

_parser: Final = Lark(_GRAMMAR, parser="earley", lexer="dynamic")


def pql_to_ast(text: str) -> list[Json]:
    """Translate a PQL query to the AST language. Raises QueryProblem saying where it failed."""
    if len(text) > MAX_PQL_CHARS:
        raise QueryProblem(f"The query is longer than {MAX_PQL_CHARS} characters")
    try:
        tree = _parser.parse(text)
        ast: list[Json] = _ToAst().transform(tree)
    except UnexpectedInput as exc:
        raise _parse_problem(text, exc) from exc
    except VisitError as exc:  # a literal the grammar accepts but JSON does not (bad escape)
        raise QueryProblem(f"Invalid PQL: {exc.orig_exc}") from exc
    except RecursionError as exc:
        raise QueryProblem("The query is nested too deeply") from exc
    return ast


def _parse_problem(text: str, exc: UnexpectedInput) -> QueryProblem:
    line, column = exc.line, exc.column
    if isinstance(exc, UnexpectedEOF) or line is None or line < 0:
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        found = "the end of the query"
    elif isinstance(exc, UnexpectedCharacters):
        start = exc.pos_in_stream or 0
        found = repr(text[start : start + 10])
    else:
        token = getattr(exc, "token", None)
        found = repr(str(token)) if token is not None else "this point"
    return QueryProblem(
        f"Invalid PQL at line {line}, column {column}: unexpected {found}",
        line=line,
        column=column,
    )


def _collapse(operator: str, terms: list[Json]) -> Json:
    return terms[0] if len(terms) == 1 else [operator, *terms]


class _ToAst(Transformer[Token, Json]):
    """One method per translation rule of PuppetDB's PQL transform."""

    def start(self, items: list[Json]) -> Json:
        return items[0]

    def query(self, items: list[Json]) -> Json:
        entity, *rest = items
        projection = rest[0] if len(rest) == 2 else None
        filter_, group_by, paging = rest[-1]
        if projection is None:
            return ["from", str(entity), *([filter_] if filter_ is not None else []), *paging]
        extract: list[Json] = ["extract", projection]
        if filter_ is not None:
            extract.append(filter_)
        if group_by is not None:
            extract.append(group_by)
        return ["from", str(entity), extract, *paging]

    def projection(self, items: list[Json]) -> Json:
        return [item for item in items if item is not None]

    def function(self, items: list[Json]) -> Json:
        name, *args = items
        return ["function", str(name), *(arg for arg in args if arg is not None)]

    def body(self, items: list[Json]) -> tuple[Json, Json, list[Json]]:
        filter_ = items[0] if len(items) == 2 else None
        group_by, paging = items[-1]
        return filter_, group_by, paging

    def modifiers(self, items: list[Json]) -> tuple[Json, list[Json]]:
        if items and items[0] is not None and items[0][0] == "group_by":
            return items[0], []
        return None, [item for item in items if item is not None]

    def limit(self, items: list[Token]) -> Json:
        return ["limit", int(items[0])]

    def offset(self, items: list[Token]) -> Json:
        return ["offset", int(items[0])]

    def order_by(self, items: list[Json]) -> Json:
        return ["order_by", items]

    def order_param(self, items: list[Json]) -> Json:
        return items[0] if len(items) == 1 else [items[0], str(items[1])]

    def group_by(self, items: list[Json]) -> Json:
        return ["group_by", *items]

    def or_(self, items: list[Json]) -> Json:
        return _collapse("or", items)

    def and_(self, items: list[Json]) -> Json:
        return _collapse("and", items)

    def negation(self, items: list[Json]) -> Json:
        return ["not", items[0]]

    def subquery(self, items: list[Json]) -> Json:
        return ["subquery", str(items[0]), *items[1:]]

    def equality(self, items: list[Json]) -> Json:
        field, operator, value = items
        return ["=", field, value] if operator == "=" else ["not", ["=", field, value]]

    def regex(self, items: list[Json]) -> Json:
        return ["~", items[0], items[1]]

    def not_regex(self, items: list[Json]) -> Json:
        return ["not", ["~", items[0], items[1]]]

    def ordering(self, items: list[Json]) -> Json:
        return [str(items[1]), items[0], items[2]]

    def path_regex(self, items: list[Json]) -> Json:
        return ["~>", items[0], items[1]]

    def membership(self, items: list[Json]) -> Json:
        return ["in", items[0], items[1]]

    def is_null(self, items: list[Json]) -> Json:
        return ["null?", items[0], True]

    def is_not_null(self, items: list[Json]) -> Json:
        return ["null?", items[0], False]

    def fields(self, items: list[Json]) -> Json:
        return items[0] if len(items) == 1 else list(items)

    def array(self, items: list[Json]) -> Json:
        return ["array", [item for item in items if item is not None]]

    def strings(self, items: list[Json]) -> Json:
        return [item for item in items if item is not None]

    def field(self, items: list[Token]) -> Json:
        return str(items[0])

    def integer(self, items: list[Token]) -> Json:
        return int(items[0])

    def real(self, items: list[Token]) -> Json:
        return float(items[0])

    def boolean(self, items: list[Token]) -> Json:
        return items[0].type == "TRUE"

    def dq_string(self, items: list[Token]) -> Json:
        return json.loads(items[0])

    def sq_string(self, items: list[Token]) -> Json:
        return str(items[0])[1:-1].replace("\\'", "'")
