"""SLA configuration (calendars, policies, targets) and the timers that run on cards."""

from __future__ import annotations

import threading
from datetime import time, timedelta
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Case, F, Q, Value, When

from sla import engine, rules
from sla.calendar import WorkCalendar
from tasks.models import BlockingReason, Priority, RelatedObject, RequestType, Status, Task, Team


def validate_timezone(value: str) -> None:
    if value not in _timezones():
        raise ValidationError(f"{value!r} is not a known timezone (e.g. Europe/Berlin).")


_tz_cache: set[str] = set()


def _timezones() -> set[str]:
    if not _tz_cache:
        _tz_cache.update(available_timezones())
    return _tz_cache


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


# Built WorkCalendars per (calendar id, revision): building one reads two tables, using one
# is pure arithmetic. The revision changes whenever hours or holidays change.
_calendar_cache: dict[tuple[int, int], WorkCalendar] = {}
_calendar_lock = threading.Lock()


def clear_calendar_cache() -> None:
    """Forget built calendars (a deleted calendar's id may be reused, e.g. on SQLite after a
    rolled-back transaction, with revision 1 again)."""
    with _calendar_lock:
        _calendar_cache.clear()


class BusinessCalendar(models.Model):
    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(
        max_length=64, default="Europe/Berlin", validators=[validate_timezone]
    )
    always_open = models.BooleanField("24/7", default=False)
    revision = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def work_calendar(self) -> WorkCalendar:
        """The pure calendar this row describes (cached per revision)."""
        key = (self.pk, self.revision)
        cached = _calendar_cache.get(key)
        if cached is not None:
            return cached
        built = self.build_work_calendar()
        with _calendar_lock:
            _calendar_cache[key] = built
        return built

    def build_work_calendar(self) -> WorkCalendar:
        if self.always_open:
            return WorkCalendar.always(self.timezone)
        weekly: dict[int, list[tuple[time, time]]] = {}
        for interval in self.intervals.all():
            weekly.setdefault(interval.weekday, []).append((interval.start, interval.end))
        holidays = self.holidays.values_list("date", flat=True)
        return WorkCalendar(self.timezone, weekly, holidays)

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        clear_calendar_cache()
        return result

    def touch(self) -> None:
        """Hours or holidays changed: new revision, so every process rebuilds its cache."""
        BusinessCalendar.objects.filter(pk=self.pk).update(revision=F("revision") + 1)
        self.refresh_from_db(fields=["revision"])


class WorkingInterval(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="intervals"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"

    def clean(self) -> None:
        if self.start is not None and self.start == self.end:
            raise ValidationError("An interval must not start and end at the same time.")


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class PolicyMode(models.TextChoices):
    OBSERVE = "observe", "Observe (measure only)"
    ENFORCE = "enforce", "Enforce (warn and escalate)"


class SlaPolicy(models.Model):
    """Which cards get which targets. Policies are tried by `order`; the first whose every
    set criterion matches wins; the default policy catches the rest."""

    name = models.CharField(max_length=100, unique=True)
    order = models.PositiveIntegerField(default=100)
    is_default = models.BooleanField("default policy", default=False)
    active = models.BooleanField(default=True)
    request_type = models.ForeignKey(RequestType, null=True, blank=True, on_delete=models.PROTECT)
    priority = models.CharField(max_length=10, choices=Priority.choices, blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT)
    related_object_kind = models.CharField(
        max_length=20, choices=RelatedObject.Kind.choices, blank=True
    )
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT)
    mode = models.CharField(max_length=10, choices=PolicyMode.choices, default=PolicyMode.ENFORCE)
    pausing_statuses = models.JSONField(
        default=list, blank=True, help_text="Statuses during which this policy's timers pause."
    )
    pausing_reasons = models.ManyToManyField(
        BlockingReason,
        blank=True,
        help_text="Blocking reasons that pause timers under this policy.",
    )
    pause_on_flagged_reasons = models.BooleanField(
        default=True,
        help_text="Also pause on every blocking reason marked 'pauses SLA'.",
    )

    class Meta:
        ordering = ["order", "name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_policy"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def matches(self, task: Task) -> bool:
        if self.is_default:
            return True
        if self.request_type_id and self.request_type_id != task.request_type_id:
            return False
        if self.priority and self.priority != task.priority:
            return False
        if self.team_id and self.team_id != task.team_id:
            return False
        if self.related_object_kind:
            kind = task.related_object.kind if task.related_object_id else None
            if kind != self.related_object_kind:
                return False
        return True

    def pauses(self, status: str, blocking_reason: BlockingReason | None) -> bool:
        """Whether a card in this status / with this blocking reason stops the clocks."""
        if status in (self.pausing_statuses or []):
            return True
        if blocking_reason is None:
            return False
        if self.pause_on_flagged_reasons and blocking_reason.pauses_sla:
            return True
        return any(r.pk == blocking_reason.pk for r in self.pausing_reasons.all())

    def target_for(self, priority: str) -> SlaTarget | None:
        return next((t for t in self.targets.all() if t.priority == priority), None)

    @property
    def observe_only(self) -> bool:
        return self.mode == PolicyMode.OBSERVE


class SlaTarget(models.Model):
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=10, choices=Priority.choices)
    response_target = models.DurationField(
        null=True, blank=True, help_text="Business time until the card is taken into work."
    )
    resolution_target = models.DurationField(
        null=True, blank=True, help_text="Business time until the card is done."
    )
    warn_pct = models.PositiveSmallIntegerField(
        "warn at % consumed", null=True, blank=True, default=75
    )
    warn_lead = models.DurationField(
        "warn this long before", null=True, blank=True, help_text="Business time before due."
    )

    class Meta:
        ordering = ["policy", "priority"]
        verbose_name = "SLA target"
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority"], name="one_target_per_priority")
        ]

    def __str__(self) -> str:
        return f"{self.policy} / {self.priority}"

    def clean(self) -> None:
        errors = {}
        for name in ("response_target", "resolution_target"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                errors[name] = "A target must be a positive duration."
        if self.warn_pct is not None and not 0 < self.warn_pct < 100:
            errors["warn_pct"] = "Warn at a percentage between 1 and 99."
        if self.warn_lead is not None:
            if self.warn_lead <= timedelta(0):
                errors["warn_lead"] = "The lead time must be positive."
            for name in ("response_target", "resolution_target"):
                value = getattr(self, name)
                if value is not None and value > timedelta(0) and self.warn_lead >= value:
                    errors["warn_lead"] = (
                        "The warning would come at or after the deadline: make the lead time "
                        "shorter than every target."
                    )
        if errors:
            raise ValidationError(errors)

    def get(self, kind: str) -> timedelta | None:
        return self.response_target if kind == TimerKind.RESPONSE else self.resolution_target

    def warn_after(self, target: timedelta) -> timedelta | None:
        return engine.warn_threshold(target, self.warn_pct, self.warn_lead)


class TimerKind(models.TextChoices):
    RESPONSE = "response", "First response"
    RESOLUTION = "resolution", "Resolution"


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


class EscalationRule(models.Model):
    """Who hears about a timer, when and how: at warning, at breach, or N minutes after it."""

    class Trigger(models.TextChoices):
        WARNING = "warning", "At warning"
        BREACH = "breach", "At breach"
        AFTER_BREACH = "after_breach", "Minutes after breach"

    class Clock(models.TextChoices):
        BUSINESS = "business", "Business time (policy calendar)"
        CALENDAR = "calendar", "Calendar time"

    class Action(models.TextChoices):
        NONE = "", "No action"
        RAISE_PRIORITY = "raise_priority", "Raise priority one step"
        TO_DISPATCH = "to_dispatch", "Flag for the dispatch queue"

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="rules")
    active = models.BooleanField(default=True)
    timer_kind = models.CharField(
        max_length=12, choices=TimerKind.choices, blank=True, help_text="Blank: both timers."
    )
    trigger = models.CharField(max_length=15, choices=Trigger.choices)
    minutes_after_breach = models.PositiveIntegerField(default=0)
    clock = models.CharField(max_length=10, choices=Clock.choices, default=Clock.BUSINESS)
    notify_owner = models.BooleanField(default=True)
    notify_performers = models.BooleanField(default=False)
    notify_approver = models.BooleanField(default=False)
    notify_team_manager = models.BooleanField(default=False)
    notify_dispatchers = models.BooleanField("notify the team's dispatchers", default=False)
    notify_user = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    notify_group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    in_app = models.BooleanField("in-app", default=True)
    email = models.BooleanField(default=False)
    slack = models.BooleanField(default=False)
    slack_webhook_url = models.URLField(
        blank=True, help_text="Slack incoming webhook; blank uses the card team's webhook."
    )
    action = models.CharField(max_length=20, choices=Action.choices, blank=True)

    class Meta:
        ordering = ["policy", "trigger", "minutes_after_breach", "pk"]
        verbose_name = "escalation rule"

    def __str__(self) -> str:
        when = self.get_trigger_display()
        if self.trigger == self.Trigger.AFTER_BREACH:
            when = f"{self.minutes_after_breach} min ({self.clock}) after breach"
        return f"{self.policy}: {when}"

    def clean(self) -> None:
        errors = {}
        if self.trigger == self.Trigger.AFTER_BREACH and not self.minutes_after_breach:
            errors["minutes_after_breach"] = "Say how many minutes after the breach."
        if self.trigger != self.Trigger.AFTER_BREACH and self.minutes_after_breach:
            errors["minutes_after_breach"] = "Only rules that fire after a breach wait minutes."
        recipients = (
            self.notify_owner,
            self.notify_performers,
            self.notify_approver,
            self.notify_team_manager,
            self.notify_dispatchers,
            self.notify_user_id,
            self.notify_group_id,
        )
        if not any(recipients) and not self.slack:
            errors["notify_owner"] = "Choose at least one recipient (or Slack)."
        if not (self.in_app or self.email or self.slack):
            errors["in_app"] = "Choose at least one channel."
        if self.email and self.notify_user_id and not self.notify_user.email:
            errors["notify_user"] = (
                f"{self.notify_user} has no email address: add one, or untick email."
            )
        if errors:
            raise ValidationError(errors)

    def applies_to(self, kind: str) -> bool:
        return self.active and (not self.timer_kind or self.timer_kind == kind)


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

    # Served by `one_notification_per_target` (event first) and `notification_inbox`
    # (recipient first): no index of their own.
    #
    # OUTBOX_LINKS: the outbox's links (notification → event and recipient, event → timer)
    # have no database-level foreign key. PostgreSQL checks such a key with one locking
    # lookup of the parent per row at commit — 5 per breach, 30 % of the scan's database
    # CPU at 100,000 due timers (docs/performance.md) — and these rows are only ever written
    # by the scan and `sla.actions` from parents they hold locked or have just read in the
    # same statement. Deleting a card, timer, event or user still deletes its events and
    # notifications: Django's collector cascades `on_delete=CASCADE` itself.
    event = models.ForeignKey(
        SlaEvent,
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
            )
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
