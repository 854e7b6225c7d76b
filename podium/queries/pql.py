"""PQL, the Puppet Query Language: a lark grammar and its translation to the AST language.

The grammar is Podium's own text, written from PuppetDB's published grammar: the same
productions, precedence (`!` over `and` over `or`) and literal rules. Keywords are whole words,
and `and`/`or` need whitespace on both sides, as upstream. The translation follows PuppetDB's
PQL-to-AST transform rule for rule; its output goes through the same validator as AST input.

The parser is LALR, whose cost grows linearly with the query (Earley took 1.6 s of CPU for 2,000
nested parentheses). Its lexer sees only the terminals the parser can take at each point, and
where a keyword and a field name both fit (`{ group by ...}` against `{ group = 1 }`), the
keyword wins (priority 2): no entity has a field named like a keyword. Queries longer than
MAX_PQL_CHARS or nested deeper than MAX_PQL_NESTING are refused before parsing.
"""

from __future__ import annotations

import json
from typing import Final

from lark import Lark, Token, Transformer_NonRecursive
from lark.exceptions import UnexpectedEOF, UnexpectedInput, VisitError

from podium.jsontypes import Json
from podium.queries.model import QueryProblem

MAX_PQL_CHARS: Final = 4096
MAX_PQL_NESTING: Final = 64  # parentheses, brackets and braces; the AST validator's limit too

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
_AND.2: /(?<=\s)and(?=\s)/
_OR.2: /(?<=\s)or(?=\s)/
_IN.2: /(?<=\s)in(?![\w?])/
_IS.2: /(?<=\s)is(?=\s)/
_NOT.2: /not(?=\s)/
_NULL.2: /null(?![\w?])/
_LIMIT.2: /limit(?=\s)/
_OFFSET.2: /offset(?=\s)/
_ORDER.2: /order(?=\s)/
_GROUP.2: /group(?=\s)/
_BY.2: /by(?=\s)/
DIRECTION.2: /(asc|desc)(?![\w?])/
TRUE.2: /true(?![\w?])/
FALSE.2: /false(?![\w?])/
INT: /-?[0-9]+(?![\w.])/
REAL: /-?[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?(?![\w.])/
DQ_STRING: /"(?:[^"\\]|\\.)*"/s
SQ_STRING: /'(?:[^'\\]|\\.)*'/s

%import common.WS
%ignore WS
"""

_parser: Final = Lark(_GRAMMAR, parser="lalr")


def pql_to_ast(text: str) -> list[Json]:
    """Translate a PQL query to the AST language. Raises QueryProblem saying where it failed."""
    if len(text) > MAX_PQL_CHARS:
        raise QueryProblem(f"The query is longer than {MAX_PQL_CHARS} characters")
    if nesting(text) > MAX_PQL_NESTING:
        raise QueryProblem(f"The query is nested more than {MAX_PQL_NESTING} levels deep")
    try:
        tree = _parser.parse(text)
        ast: list[Json] = _ToAst().transform(tree)
    except UnexpectedInput as exc:
        raise _parse_problem(text, exc) from exc
    except VisitError as exc:  # a literal the grammar accepts but JSON does not (bad escape)
        raise QueryProblem(f"Invalid PQL: {exc.orig_exc}") from exc
    return ast


def nesting(text: str) -> int:
    """How deep parentheses, brackets and braces nest, outside quoted strings: one pass, no
    parsing."""
    depth = deepest = 0
    quote: str | None = None
    escaped = False
    for char in text:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def _parse_problem(text: str, exc: UnexpectedInput) -> QueryProblem:
    line, column = exc.line, exc.column
    token = getattr(exc, "token", None)
    if (
        isinstance(exc, UnexpectedEOF)
        or (isinstance(token, Token) and token.type == "$END")
        or line is None
        or line < 0
    ):
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        found = "the end of the query"
    else:
        start = exc.pos_in_stream or 0
        found = repr(text[start : start + 10])
    return QueryProblem(
        f"Invalid PQL at line {line}, column {column}: unexpected {found}",
        line=line,
        column=column,
    )


def _collapse(operator: str, terms: list[Json]) -> Json:
    return terms[0] if len(terms) == 1 else [operator, *terms]


class _ToAst(Transformer_NonRecursive[Token, Json]):
    """One method per translation rule of PuppetDB's PQL transform; it walks the tree without
    recursion, so no depth of `!` can exhaust the stack."""

    def start(self, items: list[Json]) -> Json:
        return items[0]

    def query(self, items: list[Json]) -> Json:
        entity, *rest = items
        projection = rest[0] if len(rest) == 2 else None
        filter_, group_by, paging = rest[-1]
        if projection is None and group_by is None:
            return ["from", str(entity), *([filter_] if filter_ is not None else []), *paging]
        if projection is None:  # `group by` needs an extract to sit in: every field, then
            projection = []
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
