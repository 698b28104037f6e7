"""What the API says about SLA timers: a card's timers with the explanation of each
deadline (`sla.explain`, as the card page), and the rows of the at-risk queue. Durations are
whole seconds of business time; instants are ISO 8601 with their offset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sla import engine, rules
from sla.explain import TimerView
from sla.models import SlaTimer, TimerKind, TimerState
from tasks.api.summaries import CardSummarySerializer, PersonSerializer
from tasks.models import Priority

# The queue's bands by the names the API uses (`?state=`): the page's "At risk" is the band
# sla.rules calls WARNED.
STATE_OF_BAND = {
    rules.BREACHED: "breached",
    rules.WARNED: "at_risk",
    rules.RUNNING: "running",
    rules.PAUSED: "paused",
}


def seconds(duration: timedelta | None) -> int | None:
    return None if duration is None else int(duration.total_seconds())


@extend_schema_field(OpenApiTypes.INT)
class _Seconds(serializers.Field):
    """A duration as whole seconds (read only)."""

    def to_representation(self, value: timedelta) -> int | None:
        return seconds(value)


class HolidaySerializer(serializers.Serializer):
    date = serializers.DateField()
    name = serializers.CharField()


class PauseSerializer(serializers.Serializer):
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    business_lost_seconds = _Seconds(source="business_lost", allow_null=True)
    blocking_reason = serializers.CharField(source="blocking_reason.name", allow_null=True)
    status = serializers.CharField(help_text="The card's status while the clock stood still.")


class RetargetSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    old_target_seconds = _Seconds(source="old_target")
    new_target_seconds = _Seconds(source="new_target")
    consumed_seconds = _Seconds(source="consumed", help_text="Business time used, kept.")


class ExplanationSerializer(serializers.Serializer):
    """Why the deadline is what it is (the card page's "Why this deadline?")."""

    calendar = serializers.CharField(source="calendar_summary")
    policy = serializers.CharField(source="timer.policy.name")
    started_at = serializers.DateTimeField(source="timer.started_at")
    holidays_skipped = HolidaySerializer(many=True)
    pauses = PauseSerializer(source="timer.pauses.all", many=True)
    retargets = RetargetSerializer(source="timer.retargets.all", many=True)


class CardTimerSerializer(serializers.Serializer):
    """One timer of a card (`sla.explain.TimerView`)."""

    id = serializers.IntegerField(source="timer.pk")
    kind = serializers.ChoiceField(source="timer.kind", choices=TimerKind.choices)
    label = serializers.CharField()
    cycle = serializers.IntegerField(source="timer.cycle")
    state = serializers.ChoiceField(source="timer.state", choices=TimerState.choices)
    observe = serializers.BooleanField(
        source="timer.observe", help_text="Measured only: never alerts."
    )
    paused = serializers.BooleanField(source="timer.is_paused")
    at_risk = serializers.BooleanField()
    target_seconds = _Seconds(source="timer.target")
    used_seconds = _Seconds(source="consumed")
    remaining_seconds = _Seconds(source="remaining", help_text="Negative when over target.")
    percent = serializers.IntegerField(help_text="Share of the target used, may exceed 100.")
    warn_at = serializers.DateTimeField(source="timer.warn_at", allow_null=True)
    warned_at = serializers.DateTimeField(source="timer.warned_at", allow_null=True)
    due_at = serializers.DateTimeField(
        source="timer.due_at", allow_null=True, help_text="Empty while paused."
    )
    breached_at = serializers.DateTimeField(source="timer.breached_at", allow_null=True)
    stopped_at = serializers.DateTimeField(source="timer.stopped_at", allow_null=True)
    explanation = ExplanationSerializer(source="*")


def card_timers_data(views: list[TimerView]) -> list[dict]:
    return CardTimerSerializer(views, many=True).data


@dataclass(frozen=True)
class QueueRow:
    """A row of the at-risk queue: the timer (with its card) and its progress now."""

    timer: SlaTimer
    progress: engine.Progress
    state: str  # STATE_OF_BAND


class QueueRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="timer.pk")
    state = serializers.ChoiceField(
        choices=list(STATE_OF_BAND.values()), help_text="The timer's band in the queue."
    )
    card = CardSummarySerializer(source="timer.task")
    priority = serializers.ChoiceField(source="timer.task.priority", choices=Priority.choices)
    owner = PersonSerializer(source="timer.task.owner", allow_null=True)
    team = serializers.CharField(source="timer.task.team.name", allow_null=True)
    kind = serializers.ChoiceField(source="timer.kind", choices=TimerKind.choices)
    cycle = serializers.IntegerField(source="timer.cycle")
    paused = serializers.BooleanField(source="timer.is_paused")
    target_seconds = _Seconds(source="timer.target")
    used_seconds = _Seconds(source="progress.consumed")
    remaining_seconds = _Seconds(source="progress.remaining")
    percent = serializers.IntegerField(source="progress.percent")
    warn_at = serializers.DateTimeField(source="timer.warn_at", allow_null=True)
    due_at = serializers.DateTimeField(source="timer.due_at", allow_null=True)
    breached_at = serializers.DateTimeField(source="timer.breached_at", allow_null=True)


class BandCountsSerializer(serializers.Serializer):
    breached = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    running = serializers.IntegerField()
    paused = serializers.IntegerField()


class QueuePageSerializer(serializers.Serializer):
    """A page of the at-risk queue, most urgent first (the page's order)."""

    count = serializers.IntegerField(help_text="Timers matching the filters.")
    counts = BandCountsSerializer(help_text="Of those, how many in each state.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = QueueRowSerializer(many=True)
