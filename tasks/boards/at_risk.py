"""The at-risk queue: open SLA timers ranked by how little of their target is left, with
filters over their cards, of the viewer's teams or all teams (`scope`), 50 a page; its HTML
cached for a few seconds (`cache`)."""

from __future__ import annotations

from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from sla.models import SlaTimer
from sla.queries import RANK_ALL_UP_TO, risk_counts, risk_page, with_band
from tasks.boards.cache import QUEUE_CACHE_SECONDS, queue_cache_key
from tasks.boards.scope import team_scope
from tasks.filters import SORT_CHOICES, AtRiskFilter, sort_headers, sort_order
from tasks.models import Task
from tasks.queries import sees_all
from tasks.views import forbidden

QUEUE_PAGE = 50
SORTS = frozenset(choice for choice, _label in SORT_CHOICES)
ROW_RELATED = ("task__owner", "task__related_object", "task__blocking_reason",
               "task__request_type", "task__team", "calendar")  # fmt: skip


def visible_timers(user, *, everything: bool):
    """The timers whose cards `user` may see (all of them when she sees every card)."""
    timers = SlaTimer.objects.all()
    if not everything:
        timers = timers.filter(task__in=Task.objects.visible_to(user))
    return timers


@require_GET
def at_risk(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("sla.view_slatimer"):
        return forbidden(request, "You may not see SLA timers.")
    now = timezone.now()
    everything = sees_all(request.user)
    scope = team_scope(request)
    filterset = AtRiskFilter(
        request.GET or None,
        queryset=with_band(visible_timers(request.user, everything=everything), now),
        teams=scope.team_ids,
    )
    key = queue_cache_key(request, everything=everything, scope=scope)
    queue = cache.get(key)
    if queue is None:
        queue = render_to_string(
            "tasks/at_risk.html#queue", _queue_context(request, filterset, now), request
        )
        cache.set(key, queue, QUEUE_CACHE_SECONDS)
    if request.htmx:
        return HttpResponse(queue)
    context = {
        "filter": filterset,
        "queue": queue,
        "scope": scope,
        "scope_links": scope.links(request) if scope.can_switch else [],
    }
    return render(request, "tasks/at_risk.html", context)


def _queue_context(request: HttpRequest, filterset: AtRiskFilter, now) -> dict:
    timers = filterset.qs
    counts = risk_counts(timers)  # with the calendars of the timers counted, one query
    paginator = Paginator(range(counts.total), QUEUE_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    start = (page.number - 1) * QUEUE_PAGE
    sort, sort_problem = _sort(request)
    if sort:
        # Sorted by a column of the card (the card list's columns): a plain ORDER BY.
        column, descending = sort.removeprefix("-"), sort.startswith("-")
        order = sort_order(column, descending, prefix="task__")
        rows = timers.order_by(*order).select_related(*ROW_RELATED)[start : start + len(page)]
    else:
        # Cards picked by filters: their timers are ranked whole, read card by card.
        whole = None if filterset.picks_cards else RANK_ALL_UP_TO
        rows = risk_page(
            timers, counts, now, start, start + len(page), rank_all_up_to=whole,
            related=ROW_RELATED,
        )  # fmt: skip
    return {
        "sort": sort_headers(request.GET, sort),
        "sorted": bool(sort),
        "sort_problem": sort_problem,
        "ranked_query": _query_without(request, "page", "sort"),
        "filter": filterset,
        "page": page,
        # templates/jinja2/tasks/_at_risk_rows.html; the tick (whether the clock runs and
        # until when) from the calendar already read for the progress: no query.
        "rows": [(t, t.progress(now), t.tick(now)) for t in rows],
        "counts": counts.bands,
        "query": _query_without_page(request),
        "now": now,
    }


def _query_without_page(request: HttpRequest) -> str:
    return _query_without(request, "page")


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _sort(request: HttpRequest) -> tuple[str | None, str]:
    """The column the queue is sorted by (None: ranked by risk), and what was wrong with
    the one asked for (named and ignored, as the card list does)."""
    sort = request.GET.get("sort") or None
    if sort is None or sort in SORTS:
        return sort, ""
    return None, f"“{sort[:40]}” is not a column the queue sorts by (ignored)."
