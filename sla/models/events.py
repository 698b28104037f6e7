"""What fired for a timer (SlaEvent, exactly once per threshold) and the outbox of
notifications written with it (state changes: sla.outbox)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from sla.models.policy import EscalationRule
from sla.models.timer import SlaTimer


class SlaEvent(models.Model):
    """A threshold that fired for a timer: exactly once per (timer, key), by constraint."""

    class Kind(models.TextChoices):
        WARNING = "warning", "Warning"
        BREACH = "breach", "Breach"
        ESCALATION = "escalation", "Escalation"

    # Served by `one_event_per_threshold` (timer first); the rule by `event_rule` (partial).
    # No database-level foreign key (see OUTBOX_LINKS at Notification): Django cascades the delete.
    timer = models.ForeignKey(
        SlaTimer,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    key = models.CharField(max_length=40, help_text="warning, breach or escalation:<rule id>")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    rule = models.ForeignKey(
        EscalationRule, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    at = models.DateTimeField(help_text="When the threshold was crossed (not when noticed).")
    recorded_at = models.DateTimeField()
    observe = models.BooleanField(default=False, help_text="Observe mode: recorded, not sent.")
    # Card-side reactions (the dispatch flag for a response timer, rule actions) still to
    # run: written with the event, cleared in the transaction that runs them, so a scan that
    # dies between the two leaves them for the next scan (escalation.run_follow_ups).
    follow_up = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Card-side reactions (dispatch flag, rule action) not yet run.",
    )

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = "SLA event"
        constraints = [
            models.UniqueConstraint(fields=["timer", "key"], name="one_event_per_threshold")
        ]
        indexes = [
            models.Index(fields=["kind", "at"], name="slaevent_kind_at"),
            # Deleting a rule sets its events' rule to NULL. Only escalation events have a
            # rule: warnings and breaches (nearly every event) need no entry here.
            models.Index(fields=["rule"], name="event_rule", condition=Q(rule__isnull=False)),
            # The few events whose card-side reactions are still to run.
            models.Index(fields=["id"], name="event_follow_up", condition=Q(follow_up=True)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.timer} at {self.at:%Y-%m-%d %H:%M}"


class Channel(models.TextChoices):
    IN_APP = "in_app", "In-app"
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    # Slack app (bot token): direct messages to a person and replies in a card's thread.
    SLACK_APP = "slack_app", "Slack app"
    # Outgoing webhooks to an admin-managed endpoint (WebhookEndpoint), signed.
    WEBHOOK = "webhook", "Webhook"


class NotificationQuerySet(models.QuerySet):
    def unread_for(self, user) -> NotificationQuerySet:
        return self.filter(
            recipient=user, channel=Channel.IN_APP, state=Notification.State.SENT, read_at=None
        )


class Notification(models.Model):
    """Outbox row: one per (event, recipient, channel), delivered by a job with retries."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # Written for history (a seeded demo's past thresholds): never to be sent.
        SKIPPED = "skipped", "Skipped"

    # Served by `one_notification_per_target` (event first) and `notification_inbox`
    # (recipient first): no index of their own.
    #
    # OUTBOX_LINKS: the outbox's links (notification → event and recipient, event → timer)
    # have no database-level foreign key. PostgreSQL checks such a key with one locking
    # lookup of the parent per row at commit — 5 per breach, a large share of the scan's
    # database CPU (docs/performance-journal.md, "Fourth pass") — and these rows are only
    # ever written by the scan and `sla.actions` from parents they hold locked or have just
    # read in the same statement. Deleting a card, timer, event or user still deletes its events and
    # notifications: Django's collector cascades `on_delete=CASCADE` itself.
    # What it tells: a threshold of a timer (`event`), or a change of a card its recipient
    # follows or must act on (`card_event`: sent for approval, a decision, a status change).
    # Exactly one of the two is set.
    event = models.ForeignKey(
        SlaEvent,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    card_event = models.ForeignKey(
        "tasks.TaskEvent",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    recipient = models.ForeignKey(
        "auth.User",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # Identifies the recipient within the channel (user id, or the webhook for Slack), so
    # the unique constraint holds for Slack rows that have no recipient user.
    recipient_key = models.CharField(max_length=300)
    address = models.CharField(max_length=500, blank=True, help_text="Email or webhook URL.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel", "recipient_key"], name="one_notification_per_target"
            ),
            models.UniqueConstraint(
                fields=["card_event", "channel", "recipient_key"],
                condition=Q(card_event__isnull=False),
                name="one_card_notice_per_target",
            ),
            models.CheckConstraint(
                condition=Q(event__isnull=False, card_event__isnull=True)
                | Q(event__isnull=True, card_event__isnull=False),
                name="notification_tells_one_thing",
            ),
        ]
        indexes = [
            # Read by sla.jobs.send_pending_notifications.
            models.Index(
                fields=["next_attempt_at"],
                name="notification_pending",
                condition=Q(state="pending"),
            ),
            models.Index(fields=["recipient", "channel", "read_at"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.recipient_key} ({self.state})"


class DeliveryHold(models.Model):
    """A destination (a Slack webhook) that asked us to wait — HTTP 429 with Retry-After —
    or did not answer in time: no notification to it is tried before `until`, by any
    delivery run or worker. Its notifications stay pending (not an attempt, not failed).
    Written and read by sla.outbox; expired holds are deleted by the next delivery run."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    destination = models.CharField(max_length=500, help_text="Webhook URL (or address).")
    until = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "destination"], name="one_hold_per_destination"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.destination} held until {self.until:%H:%M:%S}"


class WebhookEndpoint(models.Model):
    """An admin-managed receiver of outgoing webhooks: each event of a kind it subscribes to
    is an outbox row (channel `webhook`, recipient_key `webhook:<id>`), signed per the
    Standard Webhooks spec with its secret, or shaped for a Microsoft Teams Workflows URL."""

    class Preset(models.TextChoices):
        STANDARD = "standard", "Standard Webhooks (JSON, signed)"
        TEAMS = "teams", "Microsoft Teams (Workflows URL, Adaptive Card)"

    class EventKind(models.TextChoices):
        CARD_CREATED = "card.created", "Card created"
        CARD_UPDATED = "card.updated", "Card updated"
        CARD_STATUS_CHANGED = "card.status_changed", "Card status changed"
        APPROVAL_REQUESTED = "approval.requested", "Approval requested"
        APPROVAL_DECIDED = "approval.decided", "Approval decided"
        TIMER_WARNING = "timer.warning", "Timer warning"
        TIMER_BREACHED = "timer.breached", "Timer breached"
        TIMER_MET = "timer.met", "Timer met"

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    # "whsec_" + base64 of the key, as the standardwebhooks package takes it.
    secret = models.CharField(max_length=100, blank=True)
    preset = models.CharField(max_length=10, choices=Preset.choices, default=Preset.STANDARD)
    event_kinds = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
