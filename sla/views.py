"""In-app notifications: the bell in the nav, its preview panel and the inbox behind it.

The inbox and the preview group notices by card, newest first by the time they show (the
event's, in tasks.time_words' words), each group with one "Mark read" for its card."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from sla import notice_words, outbox
from sla.models import Channel, Notification
from tasks import time_words
from tasks.models import Task

INBOX_SIZE = 50
PREVIEW_SIZE = 5  # unread notices in the bell's panel


@dataclass
class Notice:
    note: Notification
    at: datetime  # when it happened: the time shown
    when: str  # `at` in time words: "14:05" today, dated otherwise


@dataclass
class CardGroup:
    task: Task
    notices: list[Notice] = field(default_factory=list)

    @property
    def unread(self) -> int:
        return sum(1 for n in self.notices if n.note.read_at is None)


def _latest(user, *, unread_only: bool, size: int) -> list[CardGroup]:
    """The user's latest in-app notices (timer thresholds and card notices; their words read
    for all of them at once: a fixed number of queries), grouped by card: groups and notices
    newest first by the event's time."""
    notes = Notification.objects.unread_for(user) if unread_only else Notification.objects
    notes = (
        notes.filter(recipient=user, channel=Channel.IN_APP, state=Notification.State.SENT)
        .select_related("event__timer__task", *notice_words.RELATED)
        .annotate(shown_at=Coalesce(F("card_event__at"), F("event__at")))
        .order_by(F("shown_at").desc(nulls_last=True), "-pk")[:size]
    )
    rows = list(notes)
    notice_words.attach(rows)
    now, tz = timezone.now(), timezone.get_current_timezone()
    groups: dict[int, CardGroup] = {}
    for note in rows:
        task = note.words.task if note.card_event_id else note.event.timer.task
        at = note.shown_at or note.created_at
        group = groups.setdefault(task.pk, CardGroup(task=task))
        group.notices.append(Notice(note=note, at=at, when=time_words.moment(at, now, tz)))
    return list(groups.values())


def _inbox(user) -> list[CardGroup]:
    return _latest(user, unread_only=False, size=INBOX_SIZE)


def _preview(user) -> list[CardGroup]:
    return _latest(user, unread_only=True, size=PREVIEW_SIZE)


@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    return render(request, "sla/notifications.html", {"groups": _inbox(request.user)})


@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The nav bell, polled every 30 s."""
    return render(request, "sla/_bell.html")


@require_GET
def preview(request: HttpRequest) -> HttpResponse:
    """The bell's panel: the latest unread notices by card and a link to the inbox, loaded
    by htmx when the bell is opened."""
    return render(request, "sla/_bell_panel.html", {"groups": _preview(request.user)})


def _id(value: str) -> int | None:
    # ASCII digits only ("²".isdigit() too) and within a bigint.
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark the user's notices of one card (`card`), one notice (`id`) or all of them read.
    Only ever the user's own: a card none of her notices is about is a 404."""
    card, note_id = request.POST.get("card", ""), request.POST.get("id", "")
    if card:
        task_id = _id(card)
        if task_id is None:
            return HttpResponse("Unknown card.", status=400)
        of_card = Q(event__timer__task_id=task_id) | Q(card_event__task_id=task_id)
        mine = Notification.objects.filter(recipient=request.user, channel=Channel.IN_APP)
        if not mine.filter(of_card).exists():
            return HttpResponse("None of your notifications is about this card.", status=404)
        outbox.mark_card_read(user=request.user, task_id=task_id)
    elif note_id:
        one = _id(note_id)
        if one is None:
            return HttpResponse("Unknown notification.", status=400)
        outbox.mark_read(user=request.user, notification_id=one)
    else:
        outbox.mark_all_read(user=request.user)
    if request.htmx:
        # The inbox (or the bell's panel), and the nav's bell with it (out of band): its
        # count changed too.
        if request.POST.get("from") == "panel":
            answer = render(request, "sla/_bell_panel.html", {"groups": _preview(request.user)})
        else:
            context = {"groups": _inbox(request.user)}
            answer = render(request, "sla/notifications.html#inbox", context)
        bell = render_to_string("sla/_bell.html", {"oob": True}, request)
        answer.content += bell.encode()
        return answer
    return redirect("notifications")
