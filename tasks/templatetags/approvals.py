"""The nav's Approvals link: shown to people who may approve, with the number of decisions
waiting for them (one COUNT over the partial index `task_approval_queue`)."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html

from tasks.boards.approvals import waiting_count

register = template.Library()


@register.simple_tag(takes_context=True)
def approvals_link(context: template.Context) -> str:
    """`<li>` with the link and its count, or nothing for someone who may not approve.
    Holders of `tasks.approve_task` only (read with the page's permissions: no query); a
    team manager without it still reaches /approvals/ from the card page."""
    user = context.get("user")
    if user is None or not user.is_authenticated or not user.has_perm("tasks.approve_task"):
        return ""
    count = waiting_count(user)
    badge = format_html(' <span class="badge breached">{}</span>', count) if count else ""
    return format_html(
        '<li><a href="{}" aria-label="Approvals: {} waiting">Approvals{}</a></li>',
        reverse("approvals"),
        count,
        badge,
    )
