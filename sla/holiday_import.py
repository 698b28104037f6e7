"""Public holidays from the `holidays` library into a BusinessCalendar.

Used by the admin's "Import public holidays" page and by `seed_demo`. Importing is
idempotent: a date the calendar already closes is left as it is (a name typed by hand stays).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import holidays as holidays_lib
from django.db import transaction
from django.utils import timezone

from sla.actions import recompute_calendar_timers
from sla.models import BusinessCalendar, Holiday

_NAME_LENGTH = Holiday._meta.get_field("name").max_length


class UnknownHolidayRegion(ValueError):
    """The `holidays` library knows no such country or subdivision. The message is for users."""


def public_holidays(*, country: str, subdiv: str = "", years: Iterable[int]) -> dict[date, str]:
    """Public holidays of a country (ISO 3166-1 alpha-2, e.g. "DE") and optional subdivision
    (e.g. "BE" for Berlin) in the given years, by local date."""
    country = country.strip().upper()
    subdiv = subdiv.strip()
    years = sorted(set(years))
    try:
        found = holidays_lib.country_holidays(country, subdiv=subdiv or None, years=years)
    except NotImplementedError:
        # Subdivision codes are mostly upper case, but a few aliases are not: try as typed
        # first, then upper-cased.
        if not subdiv or subdiv == subdiv.upper():
            raise UnknownHolidayRegion(_unknown(country, subdiv)) from None
        try:
            found = holidays_lib.country_holidays(country, subdiv=subdiv.upper(), years=years)
        except NotImplementedError:
            raise UnknownHolidayRegion(_unknown(country, subdiv)) from None
    return dict(sorted(found.items()))


def _unknown(country: str, subdiv: str) -> str:
    if not subdiv:
        return f"No public holidays are known for the country {country!r} (use a code like DE)."
    supported = getattr(holidays_lib, country, None)
    codes = sorted(getattr(supported, "subdivisions", ()) or ())
    hint = f" Known subdivisions: {', '.join(codes)}." if codes else ""
    return f"{country!r} has no subdivision {subdiv!r}.{hint}"


@transaction.atomic
def import_public_holidays(
    *,
    calendar: BusinessCalendar,
    country: str,
    subdiv: str | None,
    years: Iterable[int],
    at: datetime | None = None,
) -> int:
    """Add the public holidays of `country`/`subdiv` in `years` to `calendar`.

    Returns how many Holiday rows were added (0 when run again). When any were added, the
    calendar's revision is bumped and the deadlines of its open timers are recomputed as of
    `at` (default now): time used before `at` stays measured by the old calendar.
    Raises UnknownHolidayRegion for a country or subdivision the library does not know.
    """
    found = public_holidays(country=country, subdiv=subdiv or "", years=years)
    try:
        before = calendar.build_work_calendar()
    except ValueError:
        before = None  # no hours yet: no timer can be running on this calendar
    added = 0
    for day, name in found.items():
        _row, created = Holiday.objects.get_or_create(
            calendar=calendar, date=day, defaults={"name": name[:_NAME_LENGTH]}
        )
        added += created
    if added:
        calendar.touch()
        if before is not None:
            recompute_calendar_timers(calendar=calendar, before=before, at=at or timezone.now())
    return added
