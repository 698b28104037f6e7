"""Tables derived from card history for reports; never written by anything but reports.rollup.

Business time per workflow stage is not stored anywhere on the work side: it needs the
card's calendar, which is Python arithmetic (sla.calendar). `reports.rollup.refresh` derives
it once per card version and stores it here, so report pages only GROUP BY.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sla.models import BusinessCalendar
from tasks.models import Priority, RelatedObject, RequestType, Status, Task, Team


class CardFacts(models.Model):
    """One row per card: its business times from history, as of card `version`."""

    task = models.OneToOneField(
        Task, on_delete=models.CASCADE, primary_key=True, related_name="report_facts"
    )
    # The card version these facts were computed from: a card whose version moved on is
    # stale and is recomputed by the next refresh.
    version = models.PositiveIntegerField()
    # The calendar business time is measured in: the card's first timer's, else the default
    # policy's. None: no calendar at all (business times are then left empty).
    calendar = models.ForeignKey(BusinessCalendar, null=True, on_delete=models.SET_NULL)
    has_sla = models.BooleanField(default=False)
    # Copies of the card's dimensions, so calibration reads one table.
    request_type = models.ForeignKey(RequestType, on_delete=models.CASCADE, related_name="+")
    priority = models.CharField(max_length=10, choices=Priority.choices)
    team = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL, related_name="+")
    client = models.ForeignKey(
        RelatedObject, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    response_business = models.DurationField(null=True, help_text="Created → first response.")
    resolution_business = models.DurationField(null=True, help_text="Created → done.")
    handoffs = models.PositiveSmallIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = "card facts"
        verbose_name_plural = "card facts"
        permissions = [("view_reports", "Can view reports, calibration and the weekly review")]
        indexes = [
            # Calibration and the automation report: one period of one table.
            models.Index(fields=["created_at"], name="facts_created"),
            models.Index(fields=["request_type", "priority"], name="facts_type_priority"),
        ]

    def __str__(self) -> str:
        return f"Facts of #{self.task_id} (v{self.version})"


class StageInterval(models.Model):
    """A stretch of a card's life with one status, team and approver, and its business
    time. The last stretch of an open card has no end (and no business time) yet."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="stage_intervals")
    status = models.CharField(max_length=15, choices=Status.choices)
    team = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL, related_name="+")
    # Set on the stretch that began with a hand-off: the team the card came from.
    handoff_from = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL, related_name="+")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    request_type = models.ForeignKey(RequestType, on_delete=models.CASCADE, related_name="+")
    priority = models.CharField(max_length=10, choices=Priority.choices)
    client = models.ForeignKey(
        RelatedObject, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)
    business = models.DurationField(null=True)

    class Meta:
        ordering = ["task", "started_at", "pk"]
        indexes = [
            # Stage, hand-off and bottleneck reports: one period, grouped by status.
            models.Index(fields=["started_at", "status"], name="stage_started_status"),
            models.Index(fields=["task", "started_at"], name="stage_task_started"),
        ]

    def __str__(self) -> str:
        return f"#{self.task_id} {self.status} from {self.started_at:%Y-%m-%d %H:%M}"


class DigestSent(models.Model):
    """The weekly review went to a team's manager: claimed before sending, so a re-run of
    the job (at-least-once delivery) never sends it twice."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField()
    recipient = models.EmailField()
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "week_start"], name="one_digest_per_week")
        ]

    def __str__(self) -> str:
        return f"Digest of {self.team} for week of {self.week_start}"
