"""How long the regular expressions of one query may run, all together, before it is refused.

A user's pattern can backtrack for minutes (`^(.|.|.)*-$` against an 18-character certname), and
Python's `re` can neither be interrupted nor let go of the GIL while it matches. Patterns are
therefore compiled with the `regex` module, whose matcher checks a timeout as it goes and runs
without the GIL (`concurrent=True`), and every match of one query draws on one budget.

Patterns are `regex`'s default (VERSION0) syntax, which is Python's `re` syntax plus POSIX
classes (`[[:alpha:]]`) and Unicode properties (`\\p{L}`). PuppetDB hands patterns to
PostgreSQL, whose dialect still differs at the edges: its word boundaries `\\m`, `\\M` and `\\y`,
and its embedded options (`(?b)`, `(?e)`, ...), are not understood here; write `\\b` and `(?i)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import regex

from podium.queries.model import QueryProblem

REGEX_BUDGET_S: Final = 1.0  # every regular expression of one query, together
Pattern = regex.Pattern[str]


def compile_pattern(pattern: str) -> Pattern:
    """Raises QueryProblem for a pattern that does not compile."""
    try:
        return regex.compile(pattern)
    except (regex.error, RecursionError, OverflowError, ValueError, TypeError) as exc:
        raise QueryProblem(f"Invalid regular expression {pattern!r}: {exc}") from exc


class RegexBudget:
    """The time left to one query's regular expressions. The clock is a parameter; the budget
    starts when the object is made, so make one per query."""

    def __init__(
        self, budget_s: float = REGEX_BUDGET_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.budget_s = budget_s
        self._clock = clock
        self._end = clock() + budget_s

    def search(self, pattern: Pattern, text: str) -> bool:
        """Whether the pattern occurs in the text. Raises QueryProblem once the budget is spent."""
        remaining = self._end - self._clock()
        try:
            if remaining <= 0:
                raise TimeoutError
            return pattern.search(text, timeout=remaining, concurrent=True) is not None
        except TimeoutError as exc:
            raise QueryProblem(
                f"The query took too long (regular expression {pattern.pattern!r} "
                f"ran past the query's {self.budget_s:g} s)",
                regex=pattern.pattern,
            ) from exc
