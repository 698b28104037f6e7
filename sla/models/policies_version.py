"""The policies version: one row that changes with every write of what decides a card's
timers (policies, their targets, escalation rules and pausing reasons, calendars with their
hours and holidays, blocking reasons) and of the webhook endpoints a change of a card is
told to, in the writer's transaction.

Each process keeps the active policies and endpoints it read (`sla.actions.active_settings`)
and reads them again only when this row holds another value: one one-row read per change of
a card instead of the policies, their targets, reasons and rules, and the endpoints. The
value is a random token rather than a counter + 1: a bump rolled back with its transaction
must never come back as the value of a later, different change (a counter would repeat it,
and a process that read the policies inside the rolled-back transaction would keep them).

Writers do not call `bump` themselves: `track_policy_writes` (from SlaConfig.ready) bumps on
every save and delete of those models and every change of a policy's pausing reasons, so a
new writer cannot forget. Writes that send no signal (`QuerySet.update`, `bulk_create`, raw
SQL) must call `PoliciesVersion.bump()` themselves, as `BusinessCalendar.touch` does.
"""

from __future__ import annotations

import uuid

from django.db import models

ROW = 1


class PoliciesVersion(models.Model):
    """The one row (pk ROW, inserted by the migration) whose value names the policies as
    they are."""

    version = models.UUIDField(default=uuid.uuid4)

    class Meta:
        verbose_name = "policies version"

    def __str__(self) -> str:
        return str(self.version)

    @classmethod
    def current(cls) -> uuid.UUID | None:
        """The value now (one query); None when the row is missing (a flushed database)."""
        return cls.objects.filter(pk=ROW).values_list("version", flat=True).first()

    @classmethod
    def bump(cls) -> None:
        """Something the policies depend on changed: every process reads them again."""
        if not cls.objects.filter(pk=ROW).update(version=uuid.uuid4()):
            cls.objects.update_or_create(pk=ROW, defaults={"version": uuid.uuid4()})


def _bump(**kwargs: object) -> None:
    PoliciesVersion.bump()


def track_policy_writes() -> None:
    """Bump the version on every save and delete of what the active policies are read with
    (and of blocking reasons: deleting one drops it from policies' pausing reasons without an
    m2m signal) and of webhook endpoints, and on every change of a policy's pausing
    reasons."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from sla.models.calendar import BusinessCalendar, Holiday, WorkingInterval
    from sla.models.events import WebhookEndpoint
    from sla.models.policy import EscalationRule, SlaPolicy, SlaTarget
    from tasks.models import BlockingReason

    for model in (
        SlaPolicy,
        SlaTarget,
        EscalationRule,
        BusinessCalendar,
        WorkingInterval,
        Holiday,
        BlockingReason,
        WebhookEndpoint,
    ):
        uid = f"sla.policies_version.{model.__name__}"
        post_save.connect(_bump, sender=model, dispatch_uid=f"{uid}.save")
        post_delete.connect(_bump, sender=model, dispatch_uid=f"{uid}.delete")
    m2m_changed.connect(
        _m2m_bump, sender=SlaPolicy.pausing_reasons.through, dispatch_uid="sla.policies_version.m2m"
    )


def _m2m_bump(action: str, **kwargs: object) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        PoliciesVersion.bump()
