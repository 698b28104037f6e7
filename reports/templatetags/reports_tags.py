from django import template

from reports import figures, metrics

register = template.Library()


@register.filter
def cell(value, kind: str) -> str:
    """A figure's cell as the table shows it (durations in business hours and minutes)."""
    return figures.display(value, figures.Kind(kind))


@register.filter
def duration(value) -> str:
    return metrics.format_duration(value)


@register.filter
def share(value) -> str:
    return figures.display(value, figures.Kind.SHARE)


@register.filter
def seconds(value) -> str:
    return "" if value is None else str(int(value.total_seconds()))


@register.filter
def signed(value: int) -> str:
    return f"+{value}" if value > 0 else str(value)


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key)
