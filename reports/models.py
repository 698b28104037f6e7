"""Tables derived from card history for reports; never written by anything but reports.rollup
(and, last in this module, the import's record of which rows it wrote: reports.importer, and
the record of targets set from the calibration page: reports.calibration).

Business time per workflow stage is not stored anywhere on the work side: it needs the
card's calendar, which is Python arithmetic (sla.calendar). `reports.rollup.refresh` derives
it once per card version and stores it here, so report pages only GROUP BY.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sla.models import BusinessCalendar, SlaPolicy
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
    # The card's owner and close time (copies, so misses and volume read one table).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True)
    # The card's SLA clocks as of `timers_seen` (the latest `updated_at` of its timers when
    # these facts were computed): a timer updated since (the scan's breaches do not bump the
    # card version) makes the facts stale too. Counts per kind and state; a reopened card's
    # new resolution cycle counts again, as on the timers.
    timers_seen = models.DateTimeField(null=True)
    response_clocks = models.PositiveSmallIntegerField(default=0)
    response_met = models.PositiveSmallIntegerField(default=0)
    response_missed = models.PositiveSmallIntegerField(default=0)
    response_running = models.PositiveSmallIntegerField(default=0)
    response_cancelled = models.PositiveSmallIntegerField(default=0)
    resolution_clocks = models.PositiveSmallIntegerField(default=0)
    resolution_met = models.PositiveSmallIntegerField(default=0)
    resolution_missed = models.PositiveSmallIntegerField(default=0)
    resolution_running = models.PositiveSmallIntegerField(default=0)
    resolution_cancelled = models.PositiveSmallIntegerField(default=0)
    # Business time the response clock consumed, when it stopped met or missed (a card has
    # one response clock at most: only resolution clocks start new cycles).
    response_consumed = models.DurationField(null=True)

    class Meta:
        verbose_name = "card facts"
        verbose_name_plural = "card facts"
        permissions = [("view_reports", "Can view reports, calibration and the weekly review")]
        indexes = [
            # Calibration and the automation report: one period of one table.
            models.Index(fields=["created_at"], name="facts_created"),
            # Calibration from history, repetitive work: the groups in index order with their
            # values, from the index alone (no sort of the period's cards before grouping).
            models.Index(
                fields=["request_type", "priority"],
                include=[
                    "created_at",
                    "response_business",
                    "resolution_business",
                    "team",
                    "client",
                ],
                name="facts_type_priority",
            ),
            # First response over long periods: each percentile read from an index in
            # response-time order (reports.db.nth_values), overall and per priority.
            models.Index(
                fields=["response_consumed"],
                include=["created_at", "priority", "request_type", "team", "client"],
                name="facts_response_consumed",
            ),
            models.Index(
                fields=["priority", "response_consumed"],
                include=["created_at", "request_type", "team", "client"],
                name="facts_priority_response",
            ),
            # The latest refresh (rollup.stale_cards).
            models.Index(fields=["computed_at"], name="facts_computed"),
            # Volume: cards closed per week.
            models.Index(fields=["resolved_at"], name="facts_resolved"),
            # First response, calibration from history, repetitive work: the values of one
            # period from the index alone (no table read when the period is short).
            models.Index(
                fields=["created_at"],
                include=[
                    "priority",
                    "request_type",
                    "response_consumed",
                    "response_business",
                    "resolution_business",
                ],
                name="facts_created_response",
            ),
        ]

    def __str__(self) -> str:
        return f"Facts of #{self.task_id} (v{self.version})"


# The columns the flow figures filter on, carried by their indexes (index-only reads).
FLOW_FILTERS = ["started_at", "request_type", "priority", "client"]


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
    # When the card's previous stretch with the same key began (None: this is its first),
    # one per flow figure: same status; waiting or on approval with the same team; on
    # approval with the same approver; after the same hand-off. A stretch whose previous
    # one began before a period's start is its card's first in that period, so the flow
    # figures count cards as such stretches: a sum, no DISTINCT over the period's rows.
    previous_in_status = models.DateTimeField(null=True)
    previous_waiting_in_team = models.DateTimeField(null=True)
    previous_with_approver = models.DateTimeField(null=True)
    previous_after_handoff = models.DateTimeField(null=True)

    class Meta:
        ordering = ["task", "started_at", "pk"]
        indexes = [
            # The flow figures' 90th percentiles: the k-th largest stretch of one group read
            # from the top of an index in its order (no sort of the period's stretches).
            models.Index(
                fields=["status", "business"], include=FLOW_FILTERS, name="stage_status_business"
            ),
            models.Index(
                fields=["team", "business"],
                include=FLOW_FILTERS,
                condition=models.Q(status__in=[Status.WAITING, Status.ON_APPROVAL]),
                name="stage_waiting_business",
            ),
            models.Index(
                fields=["approver", "business"],
                include=FLOW_FILTERS,
                condition=models.Q(status=Status.ON_APPROVAL),
                name="stage_approval_business",
            ),
            models.Index(
                fields=["handoff_from", "team", "business"],
                include=FLOW_FILTERS,
                condition=models.Q(handoff_from__isnull=False),
                name="stage_handoff_business",
            ),
            # Stage, hand-off and bottleneck reports: one period, grouped by status.
            models.Index(fields=["started_at", "status"], name="stage_started_status"),
            # The stretch a card was in at a moment (the weekly review), from the index alone.
            models.Index(
                fields=["task", "started_at"],
                include=["status", "team"],
                name="stage_task_started",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.task_id} {self.status} from {self.started_at:%Y-%m-%d %H:%M}"


class DailyVolume(models.Model):
    """Per local day × team × request type × priority (the card's current ones): cards
    created that day and their SLA clocks' outcomes so far, cards closed that day, SLA
    breaches that happened that day. Rebuilt by reports.rollup for the days its refreshed
    cards touch, so the volume trend and on-time shares over long periods read a few
    thousand rows, not the cards."""

    day = models.DateField()
    team = models.ForeignKey(Team, null=True, on_delete=models.CASCADE, related_name="+")
    request_type = models.ForeignKey(RequestType, on_delete=models.CASCADE, related_name="+")
    priority = models.CharField(max_length=10, choices=Priority.choices)
    created = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    breached = models.PositiveIntegerField(default=0)
    # Of the cards created that day: how many have a clock of the kind, and its outcomes.
    response_cards = models.PositiveIntegerField(default=0)
    response_met = models.PositiveIntegerField(default=0)
    response_missed = models.PositiveIntegerField(default=0)
    response_running = models.PositiveIntegerField(default=0)
    response_cancelled = models.PositiveIntegerField(default=0)
    resolution_cards = models.PositiveIntegerField(default=0)
    resolution_met = models.PositiveIntegerField(default=0)
    resolution_missed = models.PositiveIntegerField(default=0)
    resolution_running = models.PositiveIntegerField(default=0)
    resolution_cancelled = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day"], name="daily_volume_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.request_type_id}/{self.priority}/{self.team_id}"


class StaleDay(models.Model):
    """A local day whose DailyVolume rows must be rebuilt: marked in the same transaction
    as the card facts that changed it, removed in the same transaction as the rebuild, so
    an interrupted refresh leaves nothing behind."""

    day = models.DateField(primary_key=True)

    def __str__(self) -> str:
        return str(self.day)


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


class ImportedCard(models.Model):
    """A card written by `import_cards`, by the key of the row it came from: importing that
    row again finds the key and writes nothing (reports.importer)."""

    # "ref:" + the row's `ref` column (its id in the system it came from), else "row:" + the
    # SHA-256 of its values as read (times as UTC instants, names as written).
    key = models.CharField(max_length=120, unique=True)
    # SHA-256 of the row's values: a `ref` imported before with other values is refused.
    digest = models.CharField(max_length=64)
    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="+")
    imported_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key} → #{self.task_id}"


class CalibrationApply(models.Model):
    """A proposal of the calibration page set on a policy's target: the values before and
    after, who set it and when, how many cards it was read from, and its undo (the values
    before written back), by whom and when. Written only by reports.calibration."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="+")
    priority = models.CharField(max_length=10, choices=Priority.choices)
    # The row of the calibration table the proposal came from.
    request_type = models.ForeignKey(
        RequestType, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The target row did not exist before (undo removes it again).
    created_target = models.BooleanField(default=False)
    response_before = models.DurationField(null=True)
    response_after = models.DurationField(null=True)
    resolution_before = models.DurationField(null=True)
    resolution_after = models.DurationField(null=True)
    # Finished cards behind each proposed value (None: that value was not proposed).
    response_cards = models.PositiveIntegerField(null=True)
    resolution_cards = models.PositiveIntegerField(null=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    applied_at = models.DateTimeField()
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    undone_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-applied_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.policy} / {self.priority} at {self.applied_at:%Y-%m-%d %H:%M}"

    @property
    def priority_label(self) -> str:
        return Priority(self.priority).label
