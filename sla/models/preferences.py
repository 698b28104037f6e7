"""Which notices reach a person on which channel, and when (sla.preferences decides)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class NoticeKind(models.TextChoices):
    """What a notice tells, as a person chooses what reaches her (sla.preferences.kind_of)."""

    WARNING = "warning", "Warnings (a card at risk)"
    BREACH = "breach", "Breaches"
    ESCALATION = "escalation", "Escalations"
    APPROVAL_ASKED = "approval_asked", "Decisions asked of me"
    DECISION = "decision", "Decisions on my cards"
    STATUS_CHANGE = "status_change", "Status changes of cards I follow"


class NotificationPreference(models.Model):
    """One person's choices. No row: everything on, no quiet hours, no digest.

    `muted` lists "kind:channel" pairs turned off (a kind added later is on by default).
    Quiet hours are local times in the person's zone (tasks.profiles.zone_of); start == end
    is refused (an empty or a whole-day window says nothing clear). `digest_hour` (0–23,
    her zone) gathers non-urgent email notices into one email a day; empty: no digest.
    Written by sla.preferences.save_preferences."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notice_preferences"
    )
    muted = models.JSONField(default=list, blank=True)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    digest_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quiet_start__isnull=True, quiet_end__isnull=True)
                | (
                    Q(quiet_start__isnull=False, quiet_end__isnull=False)
                    & ~Q(quiet_start=models.F("quiet_end"))
                ),
                name="quiet_hours_both_and_distinct",
            ),
            models.CheckConstraint(
                condition=Q(digest_hour__isnull=True) | Q(digest_hour__lte=23),
                name="digest_hour_of_a_day",
            ),
        ]

    def __str__(self) -> str:
        return f"Notification preferences of {self.user}"
