"""In-app notifications: the bell in the nav and the inbox behind it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from sla import notice_words, outbox
from sla.models import Channel, Notification

INBOX_SIZE = 50


def _inbox(user) -> list[Notification]:
    """The user's latest in-app notifications: timer thresholds and card notices (their
    words read for all of them at once: a fixed number of queries)."""
    notes = list(
        Notification.objects.filter(
            recipient=user, channel=Channel.IN_APP, state=Notification.State.SENT
        )
        .select_related("event__timer__task", *notice_words.RELATED)
        .order_by("-created_at", "-pk")[:INBOX_SIZE]
    )
    notice_words.attach(notes)
    return notes


@require_GET
def notifications(request: HttpRequest) -> HttpResponse:
    return render(request, "sla/notifications.html", {"notifications": _inbox(request.user)})


@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    """The nav bell, polled every 30 s."""
    return render(request, "sla/_bell.html")


@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    """Mark one (`id`) or all of the user's notifications read. Only ever the user's own."""
    note_id = request.POST.get("id", "")
    if note_id:
        # ASCII digits only ("²".isdigit() too) and within a bigint.
        if not (note_id.isascii() and note_id.isdigit() and len(note_id) <= 18):
            return HttpResponse("Unknown notification.", status=400)
        outbox.mark_read(user=request.user, notification_id=int(note_id))
    else:
        outbox.mark_all_read(user=request.user)
    if request.htmx:
        # The inbox, and the nav's bell with it (out of band): its count changed too.
        context = {"notifications": _inbox(request.user)}
        inbox = render(request, "sla/notifications.html#inbox", context)
        bell = render_to_string("sla/_bell.html", {"oob": True}, request)
        inbox.content += bell.encode()
        return inbox
    return redirect("notifications")
