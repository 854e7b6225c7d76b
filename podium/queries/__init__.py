"""Target queries: PuppetDB AST, PQL and classifier rules, lowered to one model and evaluated
against the inventory, and classifier rules translated to PuppetDB queries.

Owns parsing (lark), validation, the query model and its evaluation, all pure. Must not touch
HTTP or a real PuppetDB: the api forwards queries there itself.
"""

from __future__ import annotations

import json

from podium.inventory import Inventory
from podium.jsontypes import Json
from podium.queries.budget import REGEX_BUDGET_S, RegexBudget
from podium.queries.entities import Tables
from podium.queries.evaluate import certnames
from podium.queries.model import Expr, From, QueryProblem
from podium.queries.pql import pql_to_ast
from podium.queries.rule_query import rule_query
from podium.queries.rules import ALL_NODES_RULE, lower_rule
from podium.queries.validate import lower_ast

__all__ = [
    "ALL_NODES_RULE",
    "REGEX_BUDGET_S",
    "Expr",
    "From",
    "QueryProblem",
    "RegexBudget",
    "Tables",
    "certnames",
    "lower_rule",
    "parse_query",
    "rule_query",
    "select",
]


def parse_query(query: Json) -> From:
    """A query scope: an AST array, a string holding one (first non-blank character `[`), or
    PQL. Raises QueryProblem saying where it failed."""
    if isinstance(query, str):
        if query.lstrip().startswith("["):
            try:
                query = json.loads(query)
            except (ValueError, RecursionError) as exc:
                raise QueryProblem(f"The query is not valid JSON: {exc}") from exc
        else:
            query = pql_to_ast(query)
    try:
        return lower_ast(query)
    except RecursionError as exc:
        raise QueryProblem("The query is nested too deeply") from exc


def select(
    query: From, inventory: Inventory, loaded_at: float, budget: RegexBudget | None = None
) -> list[str]:
    """The certnames the query selects from this inventory snapshot. Raises QueryProblem when
    its regular expressions run past the budget (by default REGEX_BUDGET_S from now)."""
    budget = RegexBudget() if budget is None else budget
    return certnames(query, Tables(inventory, loaded_at), budget)
