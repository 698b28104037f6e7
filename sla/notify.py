"""Delivery channels: email through Django's mail backend, Slack through incoming webhooks.

Each `send_*` either returns normally (delivered) or raises DeliveryError with a reason
that is stored on the notification.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import timezone
from slack_sdk.webhook import WebhookClient

from sla.models import Notification


class DeliveryError(Exception):
    pass


def _context(notification: Notification) -> dict:
    event = notification.event
    timer = event.timer
    task = timer.task
    return {
        "notification": notification,
        "event": event,
        "timer": timer,
        "task": task,
        "url": f"{settings.SITE_URL}{task.get_absolute_url()}",
        "owner": (task.owner.get_full_name() or task.owner.get_username()) if task.owner else "",
        "due": timezone.localtime(timer.due_at or event.at),
    }


def subject(notification: Notification) -> str:
    event = notification.event
    task = event.timer.task
    what = {"warning": "At risk", "breach": "SLA breached", "escalation": "Escalation"}
    return f"[Turnaround] {what.get(event.kind, event.kind)}: #{task.pk} {task.title}"


def send_email(notification: Notification, connection=None) -> None:
    if not notification.address:
        raise DeliveryError("No email address.")
    context = _context(notification)
    message = EmailMultiAlternatives(
        subject=subject(notification),
        body=render_to_string("sla/email/notification.txt", context),
        to=[notification.address],
        connection=connection,
    )
    html = render_to_string("sla/email/notification.html", context)
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception as error:  # SMTP errors come in many classes; all are a failed attempt
        raise DeliveryError(f"{type(error).__name__}: {error}") from error


def send_slack(notification: Notification) -> None:
    context = _context(notification)
    text = (
        f"{subject(notification)}\n"
        f"Owner: {context['owner'] or 'unassigned'} · due {context['due']:%a %d %b %H:%M %Z}\n"
        f"<{context['url']}|Open card #{context['task'].pk}>"
    )
    try:
        response = WebhookClient(notification.address, timeout=10).send(text=text)
    except Exception as error:  # refused connection, DNS, timeout, bad URL
        raise DeliveryError(f"{type(error).__name__}: {error}") from error
    if response.status_code != 200:
        raise DeliveryError(f"Slack answered {response.status_code}: {response.body[:200]}")


def mail_connection():
    return get_connection()
