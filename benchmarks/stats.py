"""Medians, spreads and percentiles, and the shape of a figure in the report."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` (0..1) percentile by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = share * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Spread:
    """A quantity measured once per repetition: its median, min and max."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(tuple(values))

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def low(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def high(self) -> float:
        return max(self.values) if self.values else float("nan")


def ratios(values: Sequence[float], ceilings: Sequence[float]) -> Spread:
    """Per-repetition ratios: repetition i of the figure over repetition i of its ceiling."""
    return Spread.of([v / c for v, c in zip(values, ceilings, strict=True) if c])


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a figure's table."""

    label: str
    value: Spread
    unit: str
    ratio: Spread | None = None  # against the ceiling named in `against`
    against: str = ""
    target: str = ""
    met: bool | None = None  # None: no target for this row
    summary: bool = False  # in the report's summary even without a target or a ratio


@dataclass
class Figure:
    number: int
    title: str
    rows: list[Row] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # what produced the figure
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # how long the figure took to measure
