from datetime import timedelta

from django import template

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
