"""User regular expressions: compiled by RE2 within hard limits, matched in linear time, and
all the matches of one query drawing on one time budget.

A backtracking engine (Python's `re`, or `regex`) can take minutes to match a pattern such as
`^(.|.|.)*-$`, or seconds and gigabytes to compile one such as `(((a{200}){200}){200})`, and
cannot be interrupted while it does. RE2 (the `google-re2` package) matches in time linear in
the text and refuses, at once, a pattern whose compiled program would pass `MAX_PROGRAM_BYTES`
or whose counted repetitions nest past its limit of 1,000 in all. So no single match can hold
a query thread; the budget bounds how long a query's many matches may take together.

The dialect is RE2's, close to PostgreSQL's (where PuppetDB sends patterns): `.`, classes,
POSIX classes (`[[:alpha:]]`), Perl classes (`\\d`, `\\w`, `\\s`), Unicode properties
(`\\p{L}`), `\\b`, anchors, `(?i)`, counted repetition up to 1,000. Not understood, and refused
as a query error naming the pattern: back-references (`\\1`), look-around (`(?=`, `(?!`, `(?<=`),
PostgreSQL's `\\m`, `\\M`, `\\y` and embedded options other than `i`, `m`, `s`, `U`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import re2

from podium.queries.model import QueryProblem

REGEX_BUDGET_S: Final = 1.0  # every regular expression of one query, together
MAX_PATTERN_CHARS: Final = 64 * 1024
MAX_PROGRAM_BYTES: Final = 8 * 1024 * 1024  # RE2's memory for one compiled pattern


def _options() -> Any:
    options = re2.Options()
    options.max_mem = MAX_PROGRAM_BYTES
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    return options


_OPTIONS: Final = _options()


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled user pattern; equal to another of the same text."""

    pattern: str
    _compiled: Any = field(compare=False, repr=False)

    def search(self, text: str) -> bool:
        """Whether the pattern occurs anywhere in the text."""
        return self._compiled.search(text) is not None


def compile_pattern(pattern: str) -> Pattern:
    """Raises QueryProblem naming a pattern that is too long, not RE2's dialect, or that would
    compile to more than RE2 may use."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise QueryProblem(
            f"Invalid regular expression of {len(pattern)} characters: longer than "
            f"{MAX_PATTERN_CHARS}",
            regex=pattern[:200],
        )
    try:
        return Pattern(pattern, re2.compile(pattern, _OPTIONS))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise QueryProblem(
            f"Invalid regular expression {pattern!r}: {reason}", regex=pattern
        ) from exc


class RegexBudget:
    """The time left to one query's regular expressions. The clock is a parameter; the budget
    starts when the object is made, so make one per query, on the thread that evaluates it.
    Each match is linear in its text, so the budget is checked between matches.

    The default clock is this thread's CPU time, not the wall clock: the budget bounds the work
    a query makes, and a busy server (other requests holding the GIL, a collection, a loaded
    machine) must not turn a cheap query into a "took too long" refusal. Reading it costs about
    a quarter of a microsecond per match."""

    def __init__(
        self, budget_s: float = REGEX_BUDGET_S, clock: Callable[[], float] = time.thread_time
    ) -> None:
        self.budget_s = budget_s
        self._clock = clock
        self._end = clock() + budget_s

    def search(self, pattern: Pattern, text: str) -> bool:
        """Whether the pattern occurs in the text. Raises QueryProblem once the budget is spent."""
        if self._clock() >= self._end:
            raise QueryProblem(
                f"The query took too long (regular expression {pattern.pattern!r} "
                f"ran past the query's {self.budget_s:g} s)",
                regex=pattern.pattern,
            )
        return pattern.search(text)
