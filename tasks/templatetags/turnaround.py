from datetime import timedelta

from django import template
from django.template import engines
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
