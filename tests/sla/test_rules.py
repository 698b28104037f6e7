"""The rules of sla.rules and their SQL side (SlaTimerQuerySet) agree on every timer state.

One card holds a grid of timers: open (running or paused, stamped or not) or stopped (met,
breached, cancelled) × deadline and warning none / before / at / after `now` × warned or
not. For each, the Python predicates (`sla.rules`, the model's methods and
`escalation.advance`) and the querysets (`open`, `breached`, `at_risk`, `with_band`, and
`sla.queries.band_of`) must give the same answer. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from sla import escalation, rules
from sla.models import SlaTimer, TimerKind, TimerState
from sla.queries import BAND_NAMES, band_of, with_band
from tests.factories import make_task, sla_policy
from tests.sla.conftest import MON, berlin

pytestmark = pytest.mark.django_db

NOW = berlin(*MON, 12)
H = timedelta(hours=1)
WHEN = {"none": None, "before": NOW - H, "at": NOW, "after": NOW + H}
STOPPED = {None: None, TimerState.MET: NOW - 2 * H, TimerState.BREACHED: NOW - 2 * H,
           TimerState.CANCELLED: NOW - 2 * H}  # fmt: skip


def _grid() -> list[dict]:
    rows = []
    for stop_state, running, stamped, due, warn, warned in itertools.product(
        STOPPED, (True, False), (True, False), WHEN, WHEN, (True, False)
    ):
        due_at, warn_at = WHEN[due], WHEN[warn]
        if stop_state is not None:
            state, running = stop_state, False
        elif stamped:
            state = TimerState.BREACHED
        else:
            state = TimerState.RUNNING if running else TimerState.PAUSED
        stamped = stamped or stop_state == TimerState.BREACHED
        rows.append(
            {
                "state": state,
                "running_since": NOW - 3 * H if running else None,
                "due_at": due_at,
                "warn_at": warn_at,
                # Warned at its threshold, or (re-targeted without one since) before now.
                "warned_at": (warn_at or NOW - 2 * H) if warned else None,
                "breached_at": (due_at or NOW - 2 * H) if stamped else None,
                "stopped_at": STOPPED[stop_state],
                # As sla.actions._store keeps it: on the clock axis exactly while running.
                "due_clock": 1000 if running and stop_state is None else None,
            }
        )
    return rows


@pytest.fixture
def grid(round_the_clock, manager) -> list[SlaTimer]:
    policy = sla_policy("Default", round_the_clock, H, 2 * H, is_default=True)
    card = make_task(actor=manager, at=NOW - 4 * H)
    common = {"task": card, "kind": TimerKind.RESOLUTION, "policy": policy,
              "calendar": round_the_clock, "target": 2 * H, "target_seconds": 7200,
              "started_at": NOW - 4 * H}  # fmt: skip
    SlaTimer.objects.bulk_create(
        SlaTimer(cycle=10 + n, **common, **facts) for n, facts in enumerate(_grid())
    )
    return list(SlaTimer.objects.filter(cycle__gte=10).order_by("pk"))


def _pks(queryset) -> set[int]:
    return set(queryset.filter(cycle__gte=10).values_list("pk", flat=True))


def test_the_grid_covers_every_band(grid):
    assert {rules.band(t, NOW) for t in grid if rules.is_open(t)} == set(BAND_NAMES)
    assert len(grid) == 4 * 2 * 2 * 4 * 4 * 2


def test_open_breached_and_at_risk_agree(grid):
    assert _pks(SlaTimer.objects.open()) == {t.pk for t in grid if t.is_open}
    assert _pks(SlaTimer.objects.breached(NOW)) == {t.pk for t in grid if t.is_breached(NOW)}
    assert _pks(SlaTimer.objects.at_risk(NOW)) == {t.pk for t in grid if t.is_at_risk(NOW)}
    # Chained after other filters, as the screens use them.
    kinds = SlaTimer.objects.filter(kind=TimerKind.RESOLUTION)
    assert _pks(kinds.breached(NOW)) == {t.pk for t in grid if rules.is_breached(t, NOW)}


def test_bands_agree(grid):
    expected = {t.pk: t.band_at(NOW) for t in grid if t.is_open}
    mine = SlaTimer.objects.filter(cycle__gte=10)
    assert dict(mine.with_band(NOW).values_list("pk", "band")) == expected
    assert dict(with_band(mine, NOW).values_list("pk", "band")) == expected
    annotated = SlaTimer.objects.open().filter(cycle__gte=10).annotate(b=band_of(NOW))
    assert dict(annotated.values_list("pk", "b")) == expected
    # The bands partition the open timers the way breached/at_risk do.
    breached = {pk for pk, b in expected.items() if b == rules.BREACHED}
    warned = {pk for pk, b in expected.items() if b == rules.WARNED}
    assert breached == _pks(SlaTimer.objects.breached(NOW))
    assert warned == _pks(SlaTimer.objects.at_risk(NOW))


def test_advance_stamps_exactly_the_timers_sql_counts_as_breached(grid):
    breached = _pks(SlaTimer.objects.breached(NOW))
    for timer in grid:
        was_stamped = timer.breached_at is not None
        fired = {f.key: f.at for f in escalation.advance(timer, [], NOW)}
        if timer.pk in breached:
            assert timer.breached_at is not None, timer.__dict__
            if not was_stamped:
                assert fired["breach"] == timer.due_at  # stamped at the due time
        else:
            assert "breach" not in fired and timer.breached_at == (
                timer.breached_at if was_stamped else None
            )
        # Advanced, a timer is in the same band: a breach or warning is only recorded.
        if timer.is_open:
            assert timer.is_breached(NOW) == (timer.pk in breached)


def test_boundaries():
    """A deadline is missed just after it passes; a warning is due at its instant."""

    class Facts:
        stopped_at = breached_at = warned_at = None
        running_since: datetime | None = NOW - H
        due_at: datetime | None = NOW
        warn_at: datetime | None = NOW

    assert not rules.is_breached(Facts, NOW)
    assert rules.is_at_risk(Facts, NOW) and rules.warning_due(Facts, NOW)
    assert rules.is_breached(Facts, NOW + timedelta(microseconds=1))
    assert rules.band(Facts, NOW) == rules.WARNED
