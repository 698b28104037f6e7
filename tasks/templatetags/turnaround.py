from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django import template
from django.conf import settings
from django.template import engines
from django.templatetags.static import static
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from tasks import time_words as words

if TYPE_CHECKING:
    from sla import engine
    from sla.models import SlaTimer

register = template.Library()


@register.filter
def hm(value: timedelta | None) -> str:
    """A business duration as '3h 05m' (hours, not days: business days vary in length)."""
    if value is None:
        return "—"
    seconds = int(abs(value).total_seconds())
    hours, rest = divmod(seconds, 3600)
    text = f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m"
    return f"−{text}" if value < timedelta(0) else text


@register.filter
def clamp_pct(value: int) -> int:
    """A percentage for a progress bar (0–100)."""
    return max(0, min(int(value), 100))


@register.simple_tag(takes_context=True)
def jinja(context: template.Context, template_name: str, **values) -> SafeString:
    """`{% jinja "tasks/_name.html" key=value %}`: a dashboard's hot partial, rendered by
    the Jinja2 engine (tasks/boards/jinja.py) with these values and the request (so its
    forms get the CSRF token), as the view that returns it to htmx renders it."""
    partial = engines["jinja2"].get_template(template_name)
    return mark_safe(partial.render(values, context.get("request")))  # autoescaped by Jinja2


@register.simple_tag
def htmx_scripts() -> SafeString:
    """htmx 2 from django-htmx's wheel, without django-htmx's debug helper: with DEBUG on,
    that helper replaced the whole document with any 400/403/404 answer, so a form error
    blanked the page under `make run`. Our 4xx answers are partials that swap in place
    (base.html's htmx-config); server errors are shown by static/app.js (Django's error
    page in DEBUG, a message otherwise). With it idiomorph's `morph` swap
    (static/vendor/idiomorph), which the 30 s refreshes use so that what the user opened
    stays open (static/app.js)."""
    return format_html(
        '<script src="{}" defer></script>\n  <script src="{}" defer></script>',
        static("django_htmx/htmx-2.min.js"),
        static("vendor/idiomorph/idiomorph-ext.min.js"),
    )


@register.simple_tag
def debug_flag() -> str:
    """ "true" when DEBUG is on (static/app.js then shows Django's page for a server error)."""
    return "true" if settings.DEBUG else "false"


@register.filter
def moment(at: datetime | None, zone: str = "") -> str:
    """`{{ at|moment }}`: `at` in the viewer's zone in tasks.time_words' words, a bare '14:05'
    today and 'Mon 7 Dec 14:05' on any other day; `{{ at|moment:"zone" }}` names the zone
    ('14:05 CET'). Empty for None."""
    if at is None:
        return ""
    tz = timezone.get_current_timezone()
    return words.moment(at, timezone.now(), tz, with_zone=bool(zone))


@register.simple_tag
def zone_note() -> SafeString:
    """`{% zone_note %}`: which zone the times of a page are in (the viewer's: her profile's,
    else her browser's, tasks.middleware), said once where times are listed."""
    return format_html(
        '<small class="zone-note muted">Times in {}</small>', timezone.get_current_timezone_name()
    )


@register.simple_tag
def countdown(view) -> SafeString:
    """A timer of the card page (sla.explain.TimerView) as `countdown_for` says it."""
    return countdown_for(view.timer, view.remaining, view.tick, view.now or timezone.now())


def countdown_for(
    timer: SlaTimer, remaining: timedelta, tick: engine.Tick | None, now: datetime
) -> SafeString:
    """A timer's time in tasks.time_words' words ("2h 05m remaining", "overdue by 20m",
    "… · paused until Mon 7 Dec 09:00", "met at 14:05, 20m to spare"), with what
    static/app.js needs to count it down between refreshes while, and only while, its clock
    runs in business time (`tick`: `SlaTimer.tick`, sla.engine.tick; None once stopped):
    seconds left at `now`, whether it runs, in how many seconds that changes and the words
    for when it stands still. The card page's timers and the lists' rows (the Jinja
    partials, tasks/boards/jinja.py) both say it with this."""
    tz = timezone.get_current_timezone()
    if tick is None:
        stopped = timer.stopped_at or now
        return format_html(
            '<span class="countdown">{}</span>', words.finished(stopped, remaining, now, tz)
        )
    waits = "paused while the card waits"
    still = waits if tick.paused else words.paused(tick.resumes, now, tz)
    text = words.remaining(remaining)
    if not tick.running:
        text = f"{text} · {still}"
    change_in = "" if tick.paused or tick.until is None else int((tick.until - now).total_seconds())
    # Up to 50 a queue page: built by hand: format_html took twice as long. The
    # words are escaped; the rest are numbers and an ISO time.
    return mark_safe(
        f'<span class="countdown" data-countdown data-stamp="{now.isoformat()}"'
        f' data-left="{int(remaining.total_seconds())}"'
        f' data-running="{"true" if tick.running else "false"}" data-change-in="{change_in}"'
        f' data-still="{escape(still)}">{escape(text)}</span>'
    )
