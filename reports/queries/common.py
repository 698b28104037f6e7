"""What the report figures share: the row limit, labels, and the period's rows of each
source (the cards, CardFacts, the DailyVolume rollup)."""

from __future__ import annotations

from reports.filters import Scope
from reports.models import CardFacts, DailyVolume
from sla.models import TimerKind, TimerState
from tasks.models import Status, Task

NAME_LIMIT = 30  # rows per "by …" table, the largest first
OUTCOME = (TimerState.MET, TimerState.BREACHED)
STATUS_LABEL = dict(Status.choices)
KIND_LABEL = dict(TimerKind.choices)


def label_of(value, fallback: str = "—") -> str:
    return fallback if value in (None, "") else str(value)


def person_name(first: str | None, last: str | None, username: str | None) -> str | None:
    if username is None:
        return None
    return f"{first or ''} {last or ''}".strip() or username


def cards_in(scope: Scope):
    return Task.objects.filter(scope.cards(), scope.during("created_at"))


def daily_volume(scope: Scope):
    """DailyVolume rows of the period and dimensions (not for a client: it has none)."""
    return DailyVolume.objects.filter(
        scope.derived(), day__gte=scope.first_day, day__lte=scope.last_day
    )


def card_facts(scope: Scope):
    return CardFacts.objects.filter(scope.derived(), scope.during("created_at"))
