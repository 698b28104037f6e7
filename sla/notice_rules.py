"""When a notice reaches its person: the rule of notification preferences, pure (no Django).

    kind and channel turned off  ->  DROP (never sent; the in-app notice is kept anyway)
    breach or escalation         ->  SEND now: quiet hours and the digest never hold them
    inside quiet hours           ->  HOLD until the quiet hours end (her zone)
    email with a daily digest    ->  DIGEST if the digest hour has come since the notice
                                     was written, else HOLD until the next digest hour
    otherwise                    ->  SEND

In-app notices are not decided here: they are recorded as they happen, whatever the
preferences (the bell and the Notifications page show every one). Times are aware
datetimes; quiet hours and the digest hour are wall-clock times in `Prefs.zone`, and every
instant is computed there and compared in UTC, so a DST night moves neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

# Kinds that must still go out: quiet hours and the digest never hold them.
URGENT = frozenset({"breach", "escalation"})
# Channels a person chooses per kind (a Slack-app direct message counts as Slack).
CHOOSABLE = ("email", "slack")


class Verdict(Enum):
    SEND = "send"
    DROP = "drop"
    HOLD = "hold"
    DIGEST = "digest"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    until: datetime | None = None  # HOLD: when to try again
    quiet: bool = False  # HOLD: by quiet hours (else: for the digest)


SEND = Decision(Verdict.SEND)
DROP = Decision(Verdict.DROP)
DIGEST = Decision(Verdict.DIGEST)


@dataclass(frozen=True)
class Prefs:
    zone: ZoneInfo
    muted: frozenset[str] = field(default_factory=frozenset)  # "kind:channel"
    quiet_start: time | None = None
    quiet_end: time | None = None
    digest_hour: int | None = None

    def wants(self, kind: str, channel: str) -> bool:
        return f"{kind}:{channel}" not in self.muted


def _at(day, clock: time, zone: ZoneInfo) -> datetime:
    """That wall-clock time on that local day, as an aware instant (a time a DST change
    skips is read with the offset before the change, i.e. an hour later)."""
    return datetime.combine(day, clock, tzinfo=zone)


def in_quiet_hours(prefs: Prefs, now: datetime) -> bool:
    """Whether `now` falls inside the quiet hours [start, end), which may span midnight."""
    start, end = prefs.quiet_start, prefs.quiet_end
    if start is None or end is None or start == end:
        return False
    local = now.astimezone(prefs.zone).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_end(prefs: Prefs, now: datetime) -> datetime:
    """The first end of quiet hours after `now` (in UTC's terms, an aware datetime)."""
    assert prefs.quiet_end is not None
    today = now.astimezone(prefs.zone).date()
    for days in range(3):
        end = _at(today + timedelta(days=days), prefs.quiet_end, prefs.zone)
        if end > now:
            return end
    raise AssertionError("an end of quiet hours within two days")  # pragma: no cover


def last_digest_slot(prefs: Prefs, now: datetime) -> datetime:
    """The latest digest hour at or before `now`."""
    assert prefs.digest_hour is not None
    today = now.astimezone(prefs.zone).date()
    slot = _at(today, time(prefs.digest_hour), prefs.zone)
    if slot <= now:
        return slot
    return _at(today - timedelta(days=1), time(prefs.digest_hour), prefs.zone)


def next_digest_slot(prefs: Prefs, now: datetime) -> datetime:
    """The first digest hour after `now`."""
    assert prefs.digest_hour is not None
    day = last_digest_slot(prefs, now).astimezone(prefs.zone).date()
    return _at(day + timedelta(days=1), time(prefs.digest_hour), prefs.zone)


def decide(
    *, kind: str, channel: str, prefs: Prefs | None, now: datetime, written_at: datetime
) -> Decision:
    """What to do now with a notice of `kind` on `channel` ("email" or "slack") written at
    `written_at`, for a person with `prefs` (None: no preferences, everything on)."""
    if prefs is None:
        return SEND
    if not prefs.wants(kind, channel):
        return DROP
    if kind in URGENT:
        return SEND
    if in_quiet_hours(prefs, now):
        return Decision(Verdict.HOLD, quiet_hours_end(prefs, now), quiet=True)
    if channel == "email" and prefs.digest_hour is not None:
        if written_at < last_digest_slot(prefs, now):
            return DIGEST
        return Decision(Verdict.HOLD, next_digest_slot(prefs, now))
    return SEND
