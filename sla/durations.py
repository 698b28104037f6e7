"""Durations as people type them for SLA targets, pure (no Django).

`parse_duration` reads "90m", "2h", "1h 30m", "1.5h", "3d", "1d 4h", "45 min", "2 hours",
"1 day", "2:30" (hours:minutes) and, for values saved before, Django's own "2 04:00:00" /
"1 day, 4:00:00" / "04:00:00"; `format_duration` writes a value back as "2h", "1d 4h" or
"1d 4h 30m 15s".

Every target is *business time*, counted only while the policy's calendar is open
(sla.engine): so a day here is 24 hours of working time, not a calendar day and not a working
day. With Mon–Fri 09:00–17:00 hours, `1d` lasts three working days; only on a 24/7 calendar
is it one calendar day. BUSINESS_TIME_HELP says so next to every duration field.

Numbers are read as decimals, so a value is exact to the microsecond and format → parse gives
back the same value. Anything unreadable raises ValueError with a message for the person.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

BUSINESS_TIME_HELP = (
    "Business time, e.g. 90m, 2h, 1h 30m, 3d or 1d 4h (2:30 is 2 h 30 min). "
    "It runs only during the calendar's working hours, and 1d = 24 working hours, "
    "not a calendar day: with Mon–Fri 9–17 hours, 1d lasts three working days."
)
EXAMPLES = "e.g. 90m, 2h, 1h 30m or 3d"

# The longest text read at all, and the longest duration a timedelta holds; the bounds of
# a target (sla.models.validate_target) say more precisely what is allowed.
MAX_TEXT = 100
LONGEST = timedelta.max

_MICRO = 1_000_000
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_UNIT_NAMES = {
    "d": ("d", "day", "days"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "m": ("m", "min", "mins", "minute", "minutes"),
    "s": ("s", "sec", "secs", "second", "seconds"),
}
_UNIT_OF = {name: unit for unit, names in _UNIT_NAMES.items() for name in names}
_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_PART = re.compile(rf"({_NUMBER})\s*([a-z]+)?", re.ASCII)
_SEPARATORS = re.compile(r"[\s,]*(?:\band\b)?[\s,]*")
# Django's duration_string ("2 04:00:00", "04:00:00.5") and its "1 day, 4:00:00"; with two
# fields (no seconds) the clock is hours:minutes.
_CLOCK = re.compile(
    r"(?:(?P<days>\d+)\s*(?:days?)?,?\s+)?"
    r"(?P<hours>\d+):(?P<minutes>\d{1,2})(?::(?P<seconds>\d{1,2}(?:\.\d{1,6})?))?",
    re.ASCII,
)


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def parse_duration(text: str) -> timedelta:
    """The duration written in `text` (zero allowed; bounds are the caller's). Raises
    ValueError with a readable message for anything else."""
    if not isinstance(text, str):
        raise ValueError(f"Enter a duration, {EXAMPLES}.")
    text = text.strip().lower()
    if not text:
        raise ValueError(f"Enter a duration, {EXAMPLES}.")
    if len(text) > MAX_TEXT:
        raise ValueError(f"That is too long to be a duration; write it {EXAMPLES}.")
    if text.startswith("-") or text.startswith("−"):
        raise ValueError("A duration cannot be negative.")
    clock = _CLOCK.fullmatch(text)
    seconds = _clock_seconds(clock) if clock else _unit_seconds(text)
    microseconds = int((seconds * _MICRO).to_integral_value())
    if microseconds > LONGEST // timedelta(microseconds=1):
        raise ValueError(f"{_shown(text)} is longer than any target can be.")
    return timedelta(microseconds=microseconds)


def _clock_seconds(match: re.Match[str]) -> Decimal:
    minutes = int(match["minutes"])
    seconds = Decimal(match["seconds"] or 0)
    if minutes >= 60 or seconds >= 60:
        raise ValueError(f"{_shown(match[0])}: minutes and seconds run from 00 to 59.")
    days = int(match["days"] or 0)
    return Decimal(days * 86_400 + int(match["hours"]) * 3_600 + minutes * 60) + seconds


def _unit_seconds(text: str) -> Decimal:
    total, position, seen = Decimal(0), 0, set()
    while position < len(text):
        gap = _SEPARATORS.match(text, position)
        position = gap.end() if gap else position
        if position >= len(text):
            break
        part = _PART.match(text, position)
        if part is None:
            raise ValueError(f"{_shown(text)} is not a duration; write it {EXAMPLES}.")
        number, name = part.groups()
        if name is None:
            raise ValueError(
                f"Say which unit {number} is in: {number}m, {number}h or {number}d "
                "(minutes, hours or days of business time)."
            )
        unit = _UNIT_OF.get(name)
        if unit is None:
            raise ValueError(
                f"{_shown(name)} is not a unit; use d (days), h (hours), m (minutes) "
                "or s (seconds)."
            )
        if unit in seen:
            raise ValueError(
                f"{_shown(text)} gives the {_UNIT_NAMES[unit][-1]} twice; write each unit once."
            )
        seen.add(unit)
        try:
            total += Decimal(number) * _UNIT_SECONDS[unit]
        except InvalidOperation:  # pragma: no cover - the pattern admits only plain numbers
            raise ValueError(f"{_shown(number)} is not a number.") from None
        position = part.end()
    if not seen:
        raise ValueError(f"{_shown(text)} is not a duration; write it {EXAMPLES}.")
    return total


def format_duration(value: timedelta) -> str:
    """`value` in the short form parse_duration reads: "2h", "1d 4h", "45m", "1d 0h 0m 1.5s"-like
    exact values, "0m" for zero; a negative value gets a leading "-"."""
    if value < timedelta(0):
        return "-" + format_duration(-value)
    micro = value // timedelta(microseconds=1)
    whole, fraction = divmod(micro, _MICRO)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days}d")
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if seconds or fraction:
        text = f"{seconds}.{fraction:06d}".rstrip("0").rstrip(".") if fraction else str(seconds)
        parts.append(f"{text}s")
    return " ".join(parts) or "0m"
