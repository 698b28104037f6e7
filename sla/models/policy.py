"""SLA policies: which cards get which targets, and who hears about their timers when."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from sla import engine
from sla.history import SettingsHistory
from sla.models.calendar import BusinessCalendar
from tasks.models import BlockingReason, Priority, RelatedObject, RequestType, Task, Team


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

    # Who changed what when (sla/history.py), the pausing reasons included.
    history = SettingsHistory(m2m_fields=["pausing_reasons"])

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

    def criteria(self) -> Q:
        """The cards `matches` accepts, as a filter on Task (a test holds the two equal)."""
        if self.is_default:
            return Q(pk__isnull=False)
        q = Q(pk__isnull=False)
        if self.request_type_id:
            q &= Q(request_type_id=self.request_type_id)
        if self.priority:
            q &= Q(priority=self.priority)
        if self.team_id:
            q &= Q(team_id=self.team_id)
        if self.related_object_kind:
            q &= Q(related_object__kind=self.related_object_kind)
        return q

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


# Bounds of a target, in business time: shorter than a minute cannot be met by a person (the
# scan runs every minute); longer than a year is a typing mistake (days for hours). Every
# writer of targets goes through `validate_target` (SlaTarget.clean, called by
# sla.policies.set_targets and the admin's target form); the calibration what-if too.
MIN_TARGET = timedelta(minutes=1)
MAX_TARGET = timedelta(days=366)
# Escalation rules fire at most this long after a breach (the same year).
MAX_MINUTES_AFTER_BREACH = int(MAX_TARGET.total_seconds() // 60)


def validate_target(value: timedelta | None) -> None:
    """Refuse a target outside MIN_TARGET..MAX_TARGET (None: no target, allowed)."""
    if value is None:
        return
    if value <= timedelta(0):
        raise ValidationError("A target must be a positive duration.", code="target_not_positive")
    if value < MIN_TARGET:
        raise ValidationError(
            "A target must be at least 1 minute of business time.", code="target_too_short"
        )
    if value > MAX_TARGET:
        raise ValidationError(
            f"A target may be at most {MAX_TARGET.days} days of business time.",
            code="target_too_long",
        )


class SlaTarget(models.Model):
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=10, choices=Priority.choices)
    response_target = models.DurationField(
        null=True, blank=True, help_text="Business time until the card is taken into work."
    )
    resolution_target = models.DurationField(
        null=True, blank=True, help_text="Business time until the card is done."
    )
    approval_target = models.DurationField(
        "time to decision",
        null=True,
        blank=True,
        help_text="Business time an approver has to decide each approval step.",
    )
    warn_pct = models.PositiveSmallIntegerField(
        "warn at % consumed", null=True, blank=True, default=75
    )
    warn_lead = models.DurationField(
        "warn this long before", null=True, blank=True, help_text="Business time before due."
    )

    history = SettingsHistory()

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
        for name in TARGET_FIELDS:
            try:
                validate_target(getattr(self, name))
            except ValidationError as error:
                errors[name] = error
        response, resolution = self.response_target, self.resolution_target
        if response is not None and resolution is not None and resolution < response:
            errors.setdefault(
                "resolution_target",
                "The resolution target must not be shorter than the response target.",
            )
        if self.warn_pct is not None and not 0 < self.warn_pct < 100:
            errors["warn_pct"] = "Warn at a percentage between 1 and 99."
        if self.warn_lead is not None:
            if self.warn_lead <= timedelta(0):
                errors["warn_lead"] = "The lead time must be positive."
            for name in TARGET_FIELDS:
                value = getattr(self, name)
                if value is not None and value > timedelta(0) and self.warn_lead >= value:
                    errors["warn_lead"] = (
                        "The warning would come at or after the deadline: make the lead time "
                        "shorter than every target."
                    )
        if errors:
            raise ValidationError(errors)

    def get(self, kind: str) -> timedelta | None:
        return getattr(self, TARGET_FIELD_OF[TimerKind(kind)])

    def warn_after(self, target: timedelta) -> timedelta | None:
        return engine.warn_threshold(target, self.warn_pct, self.warn_lead)


class TimerKind(models.TextChoices):
    RESPONSE = "response", "First response"
    RESOLUTION = "resolution", "Resolution"
    # Each approval step asked (tasks.actions.approval): runs while the card waits for
    # that decision, one cycle per step asked (Task.approval_round).
    APPROVAL = "approval", "Time to decision"


# The timers a card starts with when a policy first matches it (approval timers start when
# a decision is asked).
CARD_TIMER_KINDS = (TimerKind.RESPONSE, TimerKind.RESOLUTION)

# The target of each kind of timer, by field of SlaTarget.
TARGET_FIELD_OF = {
    TimerKind.RESPONSE: "response_target",
    TimerKind.RESOLUTION: "resolution_target",
    TimerKind.APPROVAL: "approval_target",
}
TARGET_FIELDS = tuple(TARGET_FIELD_OF.values())


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
        max_length=12, choices=TimerKind.choices, blank=True, help_text="Blank: every timer."
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

    history = SettingsHistory()

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
        elif (self.minutes_after_breach or 0) > MAX_MINUTES_AFTER_BREACH:
            errors["minutes_after_breach"] = (
                f"At most {MAX_MINUTES_AFTER_BREACH} minutes ({MAX_TARGET.days} days) after "
                "the breach."
            )
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
