from datetime import timedelta

from django import template
from django.conf import settings
from django.template import engines
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

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
