"""Bounds on what people type, in one place for every form, filter, import and API.

A date outside the sane range is refused where it enters: year 1 underflows to a BC timestamp
once a timezone is applied, year 9999 overflows for viewers east of the server. Titles are one
line (they become email subjects, where a newline is a header injection). Long text has a cap
so a comment cannot be a megabyte.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)

TITLE_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 20_000  # a description or a comment

# C0 control characters but TAB; DEL. A one-line field holds none of them.
_CONTROL = {chr(c) for c in range(32) if c != 9} | {"\x7f"}


def validate_sane_date(value: date | datetime | None) -> None:
    """Refuse a date (or datetime) outside EARLIEST_DATE..LATEST_DATE."""
    if value is None:
        return
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValidationError(
            "Enter a date between %(earliest)s and %(latest)s.",
            code="date_out_of_range",
            params={"earliest": EARLIEST_DATE.isoformat(), "latest": LATEST_DATE.isoformat()},
        )


def validate_single_line(value: str) -> None:
    """Refuse line breaks and other control characters (NUL included)."""
    if any(ch in _CONTROL for ch in value):
        raise ValidationError(
            "Use a single line of text, without line breaks or control characters.",
            code="not_single_line",
        )


def validate_no_nul(value: str) -> None:
    """Refuse NUL, which PostgreSQL cannot store in text (multi-line text may hold the rest)."""
    if "\x00" in value:
        raise ValidationError("Text cannot contain NUL characters.", code="nul_character")


_zones: set[str] = set()


def validate_timezone_name(value: str) -> None:
    """Refuse anything but an IANA zone name this machine knows (`Europe/Berlin`)."""
    if not _zones:
        _zones.update(available_timezones())
    if value not in _zones:
        raise ValidationError(
            "%(value)s is not a known timezone (for example Europe/Berlin).",
            code="unknown_timezone",
            params={"value": repr(value[:60])},
        )
