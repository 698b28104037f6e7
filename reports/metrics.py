"""Pure metric helpers for reports and calibration (no Django).

Percentiles are *nearest-rank* (the smallest observed value with at least a fraction `p` of
the observations at or below it). That is exactly PostgreSQL's `percentile_disc(p)`, so a
figure computed here and one computed by the database agree to the microsecond. Durations
are `timedelta` of business time; shares are floats in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

T = TypeVar("T", int, float, timedelta)

M = timedelta(minutes=1)
H = timedelta(hours=1)
BUSINESS_DAY = 8 * H

# Values a person would write in a policy, smallest first. Beyond the ladder proposals go
# up in whole business days.
HUMAN_STEPS: tuple[timedelta, ...] = (
    5 * M,
    10 * M,
    15 * M,
    20 * M,
    30 * M,
    45 * M,
    H,
    90 * M,
    2 * H,
    3 * H,
    4 * H,
    6 * H,
    8 * H,
    12 * H,
    16 * H,
    24 * H,
    32 * H,
    40 * H,
)


def nearest_rank(n: int, p: float) -> int:
    """1-based rank of the `p` percentile among `n` sorted values (p in [0, 1], n ≥ 1)."""
    if n < 1:
        raise ValueError("No values.")
    if not 0 <= p <= 1:
        raise ValueError("A percentile fraction lies between 0 and 1.")
    return min(max(math.ceil(p * n - 1e-9), 1), n)


def percentile(values: Iterable[T], p: float) -> T | None:
    """Nearest-rank percentile of `values` (None for no values); same as `percentile_disc`."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[nearest_rank(len(ordered), p) - 1]


def rate(part: int, whole: int) -> float | None:
    """`part / whole` as a share in [0, 1]; None when there is nothing to divide by."""
    if part < 0 or whole < 0:
        raise ValueError("Counts cannot be negative.")
    if part > whole:
        raise ValueError("A part cannot exceed its whole.")
    return part / whole if whole else None


def human_step(value: timedelta) -> timedelta:
    """The gap between `round_up_human(value)` and the human value below it."""
    up = round_up_human(value)
    below = [s for s in HUMAN_STEPS if s < up]
    if up > HUMAN_STEPS[-1]:
        return BUSINESS_DAY
    return up - below[-1] if below else up


def round_up_human(value: timedelta) -> timedelta:
    """The smallest human-friendly target at or above `value` (5 min … 40 h, then whole
    8-hour business days). Rounding up keeps at least the chosen share of past cards
    within the proposed target."""
    if value <= timedelta(0):
        return HUMAN_STEPS[0]
    for step in HUMAN_STEPS:
        if step >= value:
            return step
    days = math.ceil(value / BUSINESS_DAY)
    return days * BUSINESS_DAY


def share_within(values: Sequence[timedelta], target: timedelta) -> float | None:
    """Share of `values` at or under `target` (a what-if for a candidate target)."""
    return rate(sum(1 for v in values if v <= target), len(values))


def spread(p50: timedelta | None, p90: timedelta | None) -> float | None:
    """How uneven handling is: p90 / p50 (1.0 = perfectly uniform). None without data."""
    if p50 is None or p90 is None:
        return None
    if p50 <= timedelta(0):
        return 1.0 if p90 <= timedelta(0) else math.inf
    return p90 / p50


@dataclass(frozen=True)
class AutomationRule:
    """What makes a request type repetitive enough to be worth automating."""

    min_count: int = 20
    max_median: timedelta = H
    max_spread: float = 2.0


def is_repetitive(
    count: int, p50: timedelta | None, p90: timedelta | None, rule: AutomationRule
) -> bool:
    """High volume, short and uniform handling."""
    s = spread(p50, p90)
    return (
        count >= rule.min_count
        and p50 is not None
        and p50 <= rule.max_median
        and s is not None
        and s <= rule.max_spread
    )


@dataclass(frozen=True)
class ParetoRow:
    label: str
    value: timedelta
    share: float
    cumulative: float


def pareto(items: Iterable[tuple[str, timedelta]]) -> list[ParetoRow]:
    """Causes sorted by time lost, biggest first, with their share and cumulative share."""
    ordered = sorted(items, key=lambda item: (-item[1], item[0]))
    total = sum((value for _, value in ordered), timedelta(0))
    rows, running = [], timedelta(0)
    for label, value in ordered:
        running += value
        share = value / total if total else 0.0
        cumulative = running / total if total else 0.0
        rows.append(ParetoRow(label, value, share, min(cumulative, 1.0)))
    return rows


def change(current: int, previous: int) -> int:
    """Difference from the week before (positive: more than last week)."""
    return current - previous


def hours(value: timedelta | None) -> float | None:
    """A duration as decimal hours (for charts and CSV), rounded to 0.01 h."""
    return None if value is None else round(value / H, 2)


def format_duration(value: timedelta | None) -> str:
    """Show as "2h 30m", "45m" or "0m"; "—" for no value. Business time, not days."""
    if value is None:
        return "—"
    minutes = round(value / M)
    h, m = divmod(minutes, 60)
    if h and m:
        return f"{h}h {m}m"
    return f"{h}h" if h else f"{m}m"
