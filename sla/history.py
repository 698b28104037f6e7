"""History of the SLA settings: who changed which calendar, holiday, working interval,
policy, target or escalation rule, when, and what it was before and after.

Each settings model declares `history = SettingsHistory(...)` (django-simple-history): every
save and delete of such a row writes one row to its historical table (`+` created, `~`
changed, `-` deleted) holding the whole row as it was then, with the user and a reason.
Timers, events, notifications and cards have no history here: they are the hot tables and
keep their own records (`SlaPause`, `SlaRetarget`, `SlaEvent`, `TaskEvent`).

Who and why, in this order:

- on the row: `row._history_user` / `row._change_reason` (simple-history's attributes);
- `settings_change(actor=..., reason=...)` around the writes: for paths that are not a
  request, or that say which path they are ("calibration apply", "admin");
- the request's user (simple-history's `HistoryRequestMiddleware`).

`without_history()` turns recording off for generated data (benchmarks), never for people.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db import models
from simple_history.models import HistoricalRecords


@dataclass(frozen=True)
class _Change:
    actor: Any = None
    reason: str | None = None
    recording: bool = True


_UNSAID = _Change()  # frozen: no actor or reason given, recording on
_change: ContextVar[_Change] = ContextVar("sla_settings_change", default=_UNSAID)

# The longest reason stored (simple-history's column).
REASON_MAX_LENGTH = 100


@contextmanager
def settings_change(*, actor: Any = None, reason: str | None = None) -> Iterator[None]:
    """Record the settings written inside as changed by `actor` (a user; None: the request's
    user) for `reason` (None: an enclosing block's reason). Nested blocks keep what an outer
    block set and they do not."""
    outer = _change.get()
    actor = actor if getattr(actor, "pk", None) is not None else None
    token = _change.set(
        _Change(
            actor=actor or outer.actor,
            reason=(reason or outer.reason or None),
            recording=outer.recording,
        )
    )
    try:
        yield
    finally:
        _change.reset(token)


@contextmanager
def without_history() -> Iterator[None]:
    """Write settings rows without history (generated benchmark data only)."""
    token = _change.set(_Change(recording=False))
    try:
        yield
    finally:
        _change.reset(token)


class SettingsHistory(HistoricalRecords):
    """`HistoricalRecords` that reads the actor and reason of `settings_change` and can
    record one row on demand (`record`)."""

    _by_model: ClassVar[dict[type[models.Model], SettingsHistory]] = {}

    def contribute_to_class(self, cls, name):
        super().contribute_to_class(cls, name)
        self._by_model[cls] = self

    def post_save(self, instance, created, using=None, **kwargs):
        if _change.get().recording:
            super().post_save(instance, created, using=using, **kwargs)

    def post_delete(self, instance, using=None, **kwargs):
        if _change.get().recording:
            super().post_delete(instance, using=using, **kwargs)

    def m2m_changed(self, instance, action, attr, pk_set, reverse, **kwargs):
        if _change.get().recording:
            super().m2m_changed(instance, action, attr, pk_set, reverse, **kwargs)

    def get_history_user(self, instance):
        if getattr(instance, "_history_user", None) is None and _change.get().actor:
            return _change.get().actor
        return super().get_history_user(instance)

    def get_change_reason_for_object(self, instance, history_type, using):
        reason = super().get_change_reason_for_object(instance, history_type, using)
        reason = reason or _change.get().reason
        return str(reason)[:REASON_MAX_LENGTH] if reason else None

    @classmethod
    def record(cls, instance: models.Model, history_type: str) -> None:
        """Write one history row for `instance` as it is now (`+` or `~`): for a save whose
        own row was held back (`skip_history_when_saving`) until its many-to-many fields
        were saved too, so one change is one row."""
        if _change.get().recording:
            cls._by_model[type(instance)].create_historical_record(instance, history_type)
