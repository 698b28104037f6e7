"""The timers that run on cards, their pauses and re-targets, and the reads over them
(`SlaTimerQuerySet`: open, breached, at risk, band: the rules of sla.rules in SQL)."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import Case, Q, Value, When

from sla import engine, rules
from sla.models.calendar import BusinessCalendar
from sla.models.policy import SlaPolicy, TimerKind
from tasks.models import BlockingReason, Status, Task


class TimerState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"
    CANCELLED = "cancelled", "Cancelled"


# The rules of sla.rules in SQL (tests/sla/test_rules.py holds the two equal). "Stamped" is
# tested by state, not breached_at: the at-risk queue's indexes carry the state
# (BAND_COLUMNS), and an open timer is stamped exactly when its state is BREACHED.
def _breached_q(now) -> Q:
    return Q(state=TimerState.BREACHED) | Q(due_at__lt=now)


def _warned_q(now) -> Q:
    return Q(warned_at__isnull=False) | Q(warn_at__lte=now)


def band_expression(now) -> Case:
    """The band of an open timer at `now` (sla.rules.band), as a SQL expression."""
    return Case(
        When(_breached_q(now), then=Value(rules.BREACHED)),
        When(_warned_q(now), then=Value(rules.WARNED)),
        When(running_since__isnull=False, then=Value(rules.RUNNING)),
        default=Value(rules.PAUSED),
        output_field=models.IntegerField(),
    )


class SlaTimerQuerySet(models.QuerySet):
    def open(self) -> SlaTimerQuerySet:
        """Timers still measuring (sla.rules.is_open): `stopped_at` is empty, so the state
        is RUNNING, PAUSED or BREACHED (breached, card not done yet). A stopped timer is
        MET, BREACHED or CANCELLED for good. Every partial index of open timers has this
        condition."""
        return self.filter(stopped_at__isnull=True)

    def breached(self, now) -> SlaTimerQuerySet:
        """Open timers breached at `now` (sla.rules.is_breached): stamped, or overdue."""
        return self.open().filter(_breached_q(now))

    def at_risk(self, now) -> SlaTimerQuerySet:
        """Open timers not breached at `now` whose warning threshold has passed
        (sla.rules.is_at_risk)."""
        return self.open().filter(_warned_q(now)).exclude(_breached_q(now))

    def breached_or_at_risk(self, now) -> SlaTimerQuerySet:
        """Open timers breached or at risk at `now` (band breached or warned): one WHERE
        over the columns of the covering index `timer_open_counts`."""
        return self.open().filter(_breached_q(now) | _warned_q(now))

    def with_band(self, now) -> SlaTimerQuerySet:
        """Open timers annotated with `band` at `now` (sla.rules.band; BAND_NAMES)."""
        return self.open().annotate(band=band_expression(now))

    def due_for_check(self, now) -> SlaTimerQuerySet:
        """Timers whose next threshold has passed: served by the `timer_next_check` index."""
        return self.filter(stopped_at__isnull=True, next_check_at__lte=now)


# What the at-risk band of an open timer is computed from (band_expression).
BAND_COLUMNS = ["state", "due_at", "running_since", "warned_at", "warn_at"]


class SlaTimer(models.Model):
    """One clock per card, kind and cycle (a reopened card starts a new resolution cycle)."""

    # No index of their own for the three foreign keys (every index costs an entry per timer
    # version the scan writes): `one_timer_per_cycle` leads with the card; the open timers of
    # a calendar are read through `timer_open_counts`; only deleting a calendar or policy
    # (PROTECTed, rare admin actions) and recompute_policy_timers read timers by policy or
    # calendar without them (a scan of the table).
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="timers", db_index=False)
    kind = models.CharField(max_length=12, choices=TimerKind.choices)
    cycle = models.PositiveSmallIntegerField(default=1)
    policy = models.ForeignKey(
        SlaPolicy, on_delete=models.PROTECT, related_name="timers", db_index=False
    )
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, db_index=False)
    observe = models.BooleanField(default=False, help_text="Measured only: never alerts.")
    state = models.CharField(max_length=10, choices=TimerState.choices, default=TimerState.RUNNING)
    target = models.DurationField()
    warn_after = models.DurationField(null=True, blank=True)
    # Business time consumed up to `running_since` (in total while paused or stopped).
    consumed = models.DurationField(default=timedelta(0))
    running_since = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    warn_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # The one column the scan reads: the next instant something may happen to this timer.
    next_check_at = models.DateTimeField(null=True, blank=True)
    # The deadline's position on the calendar's business-time axis (seconds of open time
    # since engine.EPOCH; empty while paused) and the target in seconds: business time left
    # at `now` is `due_clock - position(now)`, so the at-risk queue ranks timers by share of
    # target left in SQL, fairly across targets and calendars (sla.queries).
    due_clock = models.BigIntegerField(null=True, blank=True)
    target_seconds = models.PositiveIntegerField(default=0)
    # How many after-breach escalation rules have fired (they fire in order of delay).
    escalation_level = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SlaTimerQuerySet.as_manager()

    class Meta:
        ordering = ["task", "kind", "cycle"]
        verbose_name = "SLA timer"
        constraints = [
            models.UniqueConstraint(fields=["task", "kind", "cycle"], name="one_timer_per_cycle"),
            # An open timer has a deadline on the clock axis exactly while it runs
            # (sla.actions._store): the at-risk queue reads running timers in `due_clock`
            # order and ranks paused ones of one band by key alone (sla.queries.risk_page).
            models.CheckConstraint(
                condition=Q(stopped_at__isnull=False)
                | Q(running_since__isnull=False, due_clock__isnull=False)
                | Q(running_since__isnull=True, due_clock__isnull=True),
                name="open_timer_on_the_clock_axis_while_running",
            ),
        ]
        indexes = [
            # Read by sla.jobs.scan_due_timers every minute: open timers by next check.
            models.Index(
                fields=["next_check_at"],
                name="timer_next_check",
                condition=Q(stopped_at__isnull=True, next_check_at__isnull=False),
            ),
            # At-risk queue and reports: open timers by due time.
            models.Index(
                fields=["due_at"], name="timer_open_due", condition=Q(stopped_at__isnull=True)
            ),
            models.Index(fields=["state", "kind"], name="timer_state_kind"),
            # At-risk queue (sla.queries.risk_page): stamped breaches by breach time, ...
            models.Index(
                fields=["breached_at", "id"],
                name="timer_open_breached",
                condition=Q(stopped_at__isnull=True, breached_at__isnull=False),
            ),
            # ... running timers per calendar and target by deadline on the clock axis ...
            # (PostgreSQL: with the columns of the band, so the queue's streams skip the rows
            # of other bands in the index alone, without reading them from the table) ...
            models.Index(
                fields=["calendar", "target_seconds", "due_clock", "id"],
                name="timer_open_clock",
                condition=Q(
                    stopped_at__isnull=True, breached_at__isnull=True, running_since__isnull=False
                ),
                include=BAND_COLUMNS,
            ),
            # ... and paused ones, in the queue's order within a band (see the constraint
            # open_timer_on_the_clock_axis_while_running). The counts read only
            # timer_open_counts (every column they use, with the card to join card filters).
            models.Index(
                fields=["id"],
                name="timer_open_paused",
                condition=Q(
                    stopped_at__isnull=True, breached_at__isnull=True, running_since__isnull=True
                ),
                include=BAND_COLUMNS,
            ),
            models.Index(
                fields=[
                    "calendar",
                    "target_seconds",
                    "state",
                    "due_at",
                    "running_since",
                    "warned_at",
                    "warn_at",
                    "breached_at",
                    "task",
                ],
                name="timer_open_counts",
                condition=Q(stopped_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} timer of #{self.task_id} (cycle {self.cycle})"

    @property
    def is_open(self) -> bool:
        return rules.is_open(self)

    @property
    def is_paused(self) -> bool:
        return self.is_open and self.running_since is None

    @property
    def clock(self) -> engine.Clock:
        return engine.Clock(
            target=self.target,
            consumed=self.consumed,
            running_since=self.running_since,
            warn_after=self.warn_after,
        )

    def is_breached(self, now) -> bool:
        return rules.is_breached(self, now)

    def is_at_risk(self, now) -> bool:
        return rules.is_at_risk(self, now)

    def band_at(self, now) -> int:
        """The at-risk band at `now` (sla.rules.band; BAND_NAMES)."""
        return rules.band(self, now)

    def tick(self, now) -> engine.Tick | None:
        """Whether the clock runs at `now` and until when (engine.tick), for a page's
        countdown; None once the timer stopped."""
        if not self.is_open:
            return None
        return engine.tick(self.calendar.work_calendar(), self.clock, now)

    def progress(self, now) -> engine.Progress:
        until = self.stopped_at if self.stopped_at and self.stopped_at < now else now
        return engine.progress(self.calendar.work_calendar(), self.clock, until)


class SlaPause(models.Model):
    """A stretch during which a timer stood still, and why."""

    timer = models.ForeignKey(SlaTimer, on_delete=models.CASCADE, related_name="pauses")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    blocking_reason = models.ForeignKey(
        BlockingReason, null=True, blank=True, on_delete=models.PROTECT
    )
    status = models.CharField(max_length=15, choices=Status.choices)
    business_lost = models.DurationField(
        null=True, blank=True, help_text="Open business time inside the pause."
    )

    class Meta:
        ordering = ["timer", "started_at"]
        indexes = [models.Index(fields=["blocking_reason", "started_at"], name="pause_reason")]

    def __str__(self) -> str:
        return f"Pause of {self.timer} from {self.started_at:%Y-%m-%d %H:%M}"


class SlaRetarget(models.Model):
    """A change of a running timer's target (priority, request type or policy changed)."""

    timer = models.ForeignKey(SlaTimer, on_delete=models.CASCADE, related_name="retargets")
    at = models.DateTimeField()
    old_target = models.DurationField()
    new_target = models.DurationField()
    consumed = models.DurationField(help_text="Business time already used, kept.")
    old_policy = models.ForeignKey(
        SlaPolicy, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    new_policy = models.ForeignKey(
        SlaPolicy, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["timer", "at"]

    def __str__(self) -> str:
        return f"{self.timer}: {self.old_target} → {self.new_target}"
