"""The words every screen uses for time (pure: no Django). One vocabulary: "2h 05m remaining",
"overdue by 1h 30m", "met at 14:05", "paused until Mon 7 Dec 09:00"; a time of today is a
bare "14:05", any other day carries its date (and its year when not this year), and the zone
is named where the reader may be elsewhere (`with_zone`). static/app.js's countdown writes
the same words in the browser."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

ZERO = timedelta(0)


def duration(value: timedelta | None) -> str:
    """A business duration as '3h 05m' or '45m' (hours, not days: business days vary in
    length), always positive: the words around it say which way it points."""
    if value is None:
        return "—"
    seconds = int(abs(value).total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m"


def moment(at: datetime, now: datetime, tz: tzinfo, *, with_zone: bool = False) -> str:
    """`at` in the zone `tz`: '14:05' when it falls on `now`'s local day, 'Mon 7 Dec 14:05'
    on another day of the same year, 'Mon 7 Dec 2025 14:05' otherwise; ' CET' appended
    with `with_zone`."""
    local, today = at.astimezone(tz), now.astimezone(tz)
    if local.date() == today.date():
        text = f"{local:%H:%M}"
    elif local.year == today.year:
        text = f"{local:%a} {local.day} {local:%b %H:%M}"
    else:
        text = f"{local:%a} {local.day} {local:%b %Y %H:%M}"
    return f"{text} {local:%Z}" if with_zone else text


def remaining(left: timedelta) -> str:
    """An open timer: '2h 05m remaining', or 'overdue by 1h 30m' once past its target."""
    return f"overdue by {duration(left)}" if left < ZERO else f"{duration(left)} remaining"


def paused(until: datetime | None, now: datetime, tz: tzinfo) -> str:
    """A clock that stands still: 'paused until Mon 7 Dec 09:00' (the calendar opens then),
    or 'paused' (the card waits: nobody knows until when)."""
    return f"paused until {moment(until, now, tz)}" if until else "paused"


def finished(stopped_at: datetime, left: timedelta, now: datetime, tz: tzinfo) -> str:
    """A stopped timer never says 'remaining': 'met at 14:05, 20m to spare' or
    'missed by 1h 30m, stopped 14:05'."""
    at = moment(stopped_at, now, tz)
    if left < ZERO:
        return f"missed by {duration(left)}, stopped {at}"
    return f"met at {at}, {duration(left)} to spare"
