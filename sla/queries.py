"""Reads over many timers: the at-risk ranking used by the dashboards and reports."""

from __future__ import annotations

from datetime import datetime

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, NullIf

from sla import engine
from sla.models import BusinessCalendar, SlaTimer, TimerState

# Bands of the at-risk queue, most urgent first.
BREACHED, WARNED, RUNNING, PAUSED = range(4)
BAND_NAMES = {BREACHED: "breached", WARNED: "warned", RUNNING: "running", PAUSED: "paused"}


def calendar_positions(now: datetime) -> dict[int, int]:
    """Each calendar's position on its business-time axis at `now` (engine.position).
    One query; calendars are built from their cache (rebuilt only after a change)."""
    return {
        calendar.pk: engine.position(calendar.work_calendar(), now)
        for calendar in BusinessCalendar.objects.only("pk", "revision", "timezone", "always_open")
    }


def with_risk(timers: QuerySet[SlaTimer], now: datetime) -> QuerySet[SlaTimer]:
    """Annotate open timers with `band` (breached, warned, running, paused) and `share_left`
    (business time left as a share of the target, exact per calendar), and order them
    most urgent first: breached longest ago, then the smallest share of target left."""
    positions = calendar_positions(now)
    now_position = Case(
        *[When(calendar_id=pk, then=Value(pos)) for pk, pos in positions.items()],
        default=Value(0),
        output_field=BigIntegerField(),
    )
    share_left = Cast(F("due_clock") - now_position, FloatField()) / Cast(
        NullIf(F("target_seconds"), 0), FloatField()
    )
    band = Case(
        When(state=TimerState.BREACHED, then=Value(BREACHED)),
        When(Q(due_at__lte=now) & Q(running_since__isnull=False), then=Value(BREACHED)),
        When(Q(warned_at__isnull=False) | Q(warn_at__lte=now), then=Value(WARNED)),
        When(running_since__isnull=False, then=Value(RUNNING)),
        default=Value(PAUSED),
        output_field=IntegerField(),
    )
    return (
        timers.filter(stopped_at__isnull=True)
        .annotate(band=band, share_left=share_left)
        .order_by(
            "band",
            F("breached_at").asc(nulls_last=True),
            F("share_left").asc(nulls_last=True),
            "pk",
        )
    )


def band_counts(timers: QuerySet[SlaTimer]) -> dict[str, int]:
    """How many timers of an annotated queryset are in each band (one query)."""
    totals = timers.order_by().aggregate(
        **{name: Count("pk", filter=Q(band=band)) for band, name in BAND_NAMES.items()}
    )
    return totals
