"""The Jinja2 environment of the dashboards' hot partials (templates/jinja2/tasks/): the rows
and cards an htmx action swaps, which a page repeats up to 200 times. Everything else is a
Django template. Measured by rendering My work's 200 cards: Django's engine took about four
times as long as Jinja2, whose templates compile to Python.

The partials see what Django's templates would: values escaped (autoescape), dates in the
active timezone (the viewer's, `tasks.middleware.ViewerTimezoneMiddleware`) through the
`date` filter, durations through `hm` and `clamp_pct`, times in tasks.time_words' words
through `moment` and `remaining`, a timer's ticking time through `countdown_for` and the
zone's name through `zone_note()`: the functions of tasks/templatetags/turnaround.py
themselves, not copies.
An undefined name is an error (StrictUndefined), not an empty string.

A Django template renders a partial with `{% jinja "tasks/_name.html" key=value %}`
(tasks/templatetags/turnaround.py); a view returns one with
`render(request, "tasks/_name.html", context, using="jinja2")`: the page and the htmx
answer run the same partial.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

import jinja2
from django.urls import reverse
from django.utils import dateformat, timezone
from markupsafe import Markup

from sla.queries import BREACHED, PAUSED, RUNNING, WARNED
from tasks import time_words
from tasks.boards.my_work import quick_moves
from tasks.templatetags.turnaround import clamp_pct, countdown_for, hm, moment, zone_note


class Badge(NamedTuple):
    css: str  # the badge's class
    label: str
    bar: str  # the class of the timer's progress bar


# How the queue shows each band of `sla.queries.with_band`.
BAND_BADGES = {
    BREACHED: Badge("breached", "Breached", "breached"),
    WARNED: Badge("warn", "At risk", "warn"),
    RUNNING: Badge("running", "Running", ""),
    PAUSED: Badge("paused", "Paused", ""),
}


def date(value: datetime | None, format_string: str) -> str:
    """As Django's `{{ value|date:format_string }}`: in the active timezone."""
    if value is None:
        return ""
    return dateformat.format(timezone.localtime(value), format_string)


def pk_url(name: str) -> Callable[[int], str]:
    """`reverse(name, args=[pk])` for every row at the cost of one `reverse`: the URL of a
    placeholder pk, split where the placeholder is (a pk is digits, unquoted)."""
    placeholder = 9_876_543_210_123
    prefix, suffix = reverse(name, args=[placeholder]).split(str(placeholder))
    return lambda pk: f"{prefix}{pk}{suffix}"


def selected(options: Markup, value: Any) -> Markup:
    """`options` (rendered <option>s) with the one of this value selected: a select repeated
    on every row is rendered once, and each row marks its own choice."""
    if value is None:
        return options
    option = str(Markup('<option value="{}">').format(value))
    choice = option.replace("<option ", "<option selected ")
    return Markup(str(options).replace(option, choice, 1))  # both parts escaped already


def environment(**options: Any) -> jinja2.Environment:
    options["undefined"] = jinja2.StrictUndefined
    env = jinja2.Environment(**options)
    env.filters.update(date=date, hm=hm, clamp_pct=clamp_pct, selected=selected)
    env.filters.update(remaining=time_words.remaining, moment=moment)
    env.globals.update(pk_url=pk_url, BAND_BADGES=BAND_BADGES, quick_moves=quick_moves)
    env.globals.update(countdown_for=countdown_for, zone_note=zone_note)
    return env
