"""A person's deadlines as an iCalendar feed (`/calendar/<secret>.ics`), for the calendar on
her phone or desk: one event at the due time of each running SLA timer of the cards she
owns or performs, and of the decisions she is asked for (time-to-decision timers of cards
she approves).

No login: calendar apps cannot log in. The link's secret is a token of its own kind
(`ApiToken.Scope.CALENDAR`, made on the tokens page, stored as a hash, revocable there or by
an admin); a revoked, expired or unknown secret is a 404, like any other address that does
not exist. The feed names cards and due times only: no comments, no people.
"""

from __future__ import annotations

from datetime import timedelta

import icalendar
from django.contrib.auth.decorators import login_not_required
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from sla.models import SlaTimer, TimerKind
from tasks.api import tokens
from tasks.models import ApiToken, Task

MAX_EVENTS = 500  # the nearest deadlines; a feed is for a calendar, not a report
EVENT_LENGTH = timedelta(minutes=15)  # calendar apps show zero-length events poorly


def deadlines_of(user) -> list[SlaTimer]:
    """The running timers (with a due time) of the cards `user` owns or performs, and the
    time-to-decision timers of the cards she is to approve, nearest first."""
    performs = Task.performers.through.objects.filter(task=OuterRef("task"), user=user)
    mine = Q(task__owner=user) | Exists(performs) | Q(kind=TimerKind.APPROVAL, task__approver=user)
    return list(
        SlaTimer.objects.open()
        .filter(running_since__isnull=False, due_at__isnull=False)
        .filter(mine)
        .select_related("task")
        .order_by("due_at", "pk")[:MAX_EVENTS]
    )


def feed(request: HttpRequest, timers: list[SlaTimer]) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Turnaround//Deadlines//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Turnaround: my deadlines")
    host = request.get_host().split(":")[0]
    now = timezone.now()
    for timer in timers:
        task = timer.task
        link = request.build_absolute_uri(task.get_absolute_url())
        event = icalendar.Event()
        # Stable per timer: a calendar app updates the event when the deadline moves.
        event.add("uid", f"timer-{timer.pk}@{host}")
        event.add("dtstamp", now)
        event.add("dtstart", timer.due_at)
        event.add("dtend", timer.due_at + EVENT_LENGTH)
        event.add("summary", f"Due: #{task.pk} {task.title} ({timer.get_kind_display()})")
        event.add("description", f"{timer.get_kind_display()} deadline of card #{task.pk}.\n{link}")
        event.add("url", link)
        calendar.add_component(event)
    return calendar.to_ical()


@login_not_required
@require_GET
def calendar_feed(request: HttpRequest, secret: str) -> HttpResponse:
    token = tokens.find_active(secret[:200])
    if token is None or token.scope != ApiToken.Scope.CALENDAR:
        raise Http404("No such calendar.")
    response = HttpResponse(
        feed(request, deadlines_of(token.user)), content_type="text/calendar; charset=utf-8"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response
