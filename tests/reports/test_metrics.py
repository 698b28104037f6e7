"""reports.metrics: pure helpers, table-driven and property-based (no database)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports import metrics

M = timedelta(minutes=1)
H = timedelta(hours=1)

values = st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=200)
fractions = st.floats(min_value=0, max_value=1, allow_nan=False)
durations = st.integers(min_value=1, max_value=10**12).map(lambda us: timedelta(microseconds=us))


@given(values, fractions, fractions)
def test_percentile_is_monotone_in_the_fraction(data, p, q):
    low, high = sorted((p, q))
    assert metrics.percentile(data, low) <= metrics.percentile(data, high)


@given(values, fractions)
def test_percentile_is_an_observed_value_within_min_and_max(data, p):
    result = metrics.percentile(data, p)
    assert min(data) <= result <= max(data)
    assert result in data


@given(values, fractions)
def test_at_least_the_fraction_of_values_lie_at_or_below_the_percentile(data, p):
    result = metrics.percentile(data, p)
    assert sum(1 for v in data if v <= result) >= p * len(data) - 1e-9


@pytest.mark.parametrize(
    ("data", "p", "expected"),
    [
        ([1, 2, 3, 4], 0.5, 2),  # nearest rank: ceil(0.5 * 4) = 2nd value
        ([1, 2, 3, 4], 0.9, 4),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9),
        ([7], 0.8, 7),
        ([3, 1, 2], 0, 1),
        ([3, 1, 2], 1, 3),
    ],
)
def test_percentile_is_nearest_rank_like_percentile_disc(data, p, expected):
    assert metrics.percentile(data, p) == expected


def test_percentile_of_nothing_is_none():
    assert metrics.percentile([], 0.5) is None


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_rate_is_a_share_between_zero_and_one(a, b):
    part, whole = sorted((a, b))
    result = metrics.rate(part, whole)
    assert result is None if whole == 0 else 0 <= result <= 1


def test_rate_refuses_a_part_larger_than_its_whole():
    with pytest.raises(ValueError):
        metrics.rate(3, 2)


@given(durations)
def test_a_proposal_is_never_below_the_percentile_nor_above_it_by_more_than_one_step(value):
    proposal = metrics.round_up_human(value)
    assert proposal >= value
    assert proposal - value <= metrics.human_step(value)


@given(durations)
def test_a_proposal_is_a_human_value(value):
    proposal = metrics.round_up_human(value)
    assert proposal in metrics.HUMAN_STEPS or proposal % metrics.BUSINESS_DAY == timedelta(0)


@given(durations, durations)
def test_rounding_up_keeps_the_order_of_values(a, b):
    low, high = sorted((a, b))
    assert metrics.round_up_human(low) <= metrics.round_up_human(high)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(4 * M, 5 * M), (5 * M, 5 * M), (61 * M, 90 * M), (2 * H + M, 3 * H), (41 * H, 48 * H)],
)
def test_proposals_round_up_to_the_next_human_value(value, expected):
    assert metrics.round_up_human(value) == expected


@given(st.lists(durations, min_size=1, max_size=50), fractions)
def test_the_share_within_a_percentile_target_is_at_least_its_fraction(data, p):
    target = metrics.round_up_human(metrics.percentile(data, p))
    assert metrics.share_within(data, target) >= p - 1e-9


def test_pareto_sorts_causes_and_accumulates_to_one():
    rows = metrics.pareto([("Customer", 2 * H), ("Supplier", 6 * H), ("Legal", 2 * H)])
    assert [r.label for r in rows] == ["Supplier", "Customer", "Legal"]
    assert [r.share for r in rows] == [0.6, 0.2, 0.2]
    assert rows[-1].cumulative == 1.0


@given(st.lists(st.tuples(st.text(max_size=5), durations), max_size=20))
def test_pareto_cumulative_share_never_decreases_and_stays_within_one(items):
    cumulative = [r.cumulative for r in metrics.pareto(items)]
    assert cumulative == sorted(cumulative)
    assert all(0 <= c <= 1 for c in cumulative)


def test_a_high_volume_short_uniform_type_is_an_automation_candidate():
    rule = metrics.AutomationRule(min_count=10, max_median=H, max_spread=2)
    assert metrics.is_repetitive(50, 20 * M, 30 * M, rule)
    assert not metrics.is_repetitive(5, 20 * M, 30 * M, rule)  # too few
    assert not metrics.is_repetitive(50, 2 * H, 3 * H, rule)  # too long
    assert not metrics.is_repetitive(50, 20 * M, 2 * H, rule)  # too uneven


@pytest.mark.parametrize(
    ("value", "text"), [(None, "—"), (timedelta(0), "0m"), (150 * M, "2h 30m"), (3 * H, "3h")]
)
def test_durations_are_shown_in_hours_and_minutes(value, text):
    assert metrics.format_duration(value) == text
