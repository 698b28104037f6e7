"""The screens people live in: the at-risk queue (managers), the dispatch board
(dispatchers) and My work (performers). Each renders in a constant number of queries."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
)
from django.db.models.expressions import RawSQL
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from sla.models import SlaTimer, TimerState
from sla.queries import RANK_ALL_UP_TO, risk_counts, risk_page, with_band
from tasks import actions, permissions
from tasks.auth_backend import role_names
from tasks.filters import AtRiskFilter
from tasks.forms import StatusForm
from tasks.models import BlockingReason, Task
from tasks.queries import sees_all
from tasks.rows import AtRiskRows, DispatchRows, WorkCards
from tasks.views import forbidden

User = get_user_model()
QUEUE_PAGE = 50
BOARD_LIMIT = 50
ROW_RELATED = ("task__owner", "task__related_object", "task__blocking_reason",
               "task__request_type", "task__team", "calendar")  # fmt: skip


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands where its work is."""
    user = request.user
    roles = role_names(user)
    if user.has_perm("tasks.assign_task") and "manager" in roles:
        return redirect("at_risk")
    if "dispatcher" in roles:
        return redirect("dispatch")
    if user.has_perm("tasks.work_task"):
        return redirect("my_work")
    return redirect("task_list")


def _visible_timers(user, *, everything: bool):
    timers = SlaTimer.objects.all()
    if not everything:
        timers = timers.filter(task__in=Task.objects.visible_to(user))
    return timers


# The queue's HTML is kept this long per visibility scope, query string and viewer's timezone
# (its times are shown in it): a manager's screen polls every 30 s, and many managers share one
# scope. A change saved in this process (a card or timer saved) drops it at once; changes made
# elsewhere (other workers, the scan) show within this many seconds. The first request of each
# key is the uncached cost.
QUEUE_CACHE_SECONDS = 10
_GENERATION_KEY = "at-risk:generation"


@receiver([post_save, post_delete], sender=SlaTimer)
@receiver([post_save, post_delete], sender=Task)
def _queue_changed(**kwargs) -> None:
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:  # not set yet, or expired
        cache.set(_GENERATION_KEY, 1, None)


def _queue_cache_key(request: HttpRequest, *, everything: bool) -> str:
    scope = "all" if everything else f"user:{request.user.pk}"
    query = urlencode(sorted((k, v) for k, values in request.GET.lists() for v in values))
    generation = cache.get(_GENERATION_KEY, 0)
    zone = timezone.get_current_timezone_name()
    digest = hashlib.sha256(f"{scope}|{generation}|{zone}|{query}".encode()).hexdigest()
    return f"at-risk:{digest}"


@require_GET
def at_risk(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("sla.view_slatimer"):
        return forbidden(request, "You may not see SLA timers.")
    now = timezone.now()
    everything = sees_all(request.user)
    filterset = AtRiskFilter(
        request.GET or None,
        queryset=with_band(_visible_timers(request.user, everything=everything), now),
    )
    key = _queue_cache_key(request, everything=everything)
    queue = cache.get(key)
    if queue is None:
        queue = render_to_string(
            "tasks/at_risk.html#queue", _queue_context(request, filterset, now), request
        )
        cache.set(key, queue, QUEUE_CACHE_SECONDS)
    if request.htmx:
        return HttpResponse(queue)
    return render(request, "tasks/at_risk.html", {"filter": filterset, "queue": queue})


def _queue_context(request: HttpRequest, filterset: AtRiskFilter, now) -> dict:
    timers = filterset.qs
    counts = risk_counts(timers)  # with the calendars of the timers counted, one query
    paginator = Paginator(range(counts.total), QUEUE_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    start = (page.number - 1) * QUEUE_PAGE
    # Cards picked by filters: their timers are ranked whole, read card by card.
    whole = None if filterset.picks_cards else RANK_ALL_UP_TO
    rows = risk_page(
        timers, counts, now, start, start + len(page), rank_all_up_to=whole, related=ROW_RELATED
    )
    row = AtRiskRows().row
    return {
        "filter": filterset,
        "page": page,
        "rows": [row(t, t.progress(now)) for t in rows],
        "counts": counts.bands,
        "query": _query_without_page(request),
        "now": now,
    }


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _people_with_load() -> list:
    """Everyone who can own cards, with their open cards and how many of those are at risk,
    in one query: the people LEFT JOIN one grouped count over open cards only (a per-person
    subquery read every card a person ever owned)."""
    now = timezone.now()
    people = (
        User.objects.filter(is_active=True, groups__name__in=["performer", "dispatcher"])
        .values("pk")
        .order_by()
    )
    owned = (
        Task.objects.open()
        .filter(owner__in=people)
        .order_by()
        .values(card=F("pk"), person=F("owner"))
    )
    # Open timers at risk, read in the covering index's order (timer_open_counts holds every
    # column used): unordered, PostgreSQL walked timer_open_due and each open timer's row.
    risky = (
        SlaTimer.objects.filter(stopped_at__isnull=True)
        .filter(Q(state=TimerState.BREACHED) | Q(warn_at__lte=now) | Q(due_at__lte=now))
        .order_by("calendar_id", "target_seconds")
        .values(card=F("task_id"))
    )
    (people_sql, people_params), (owned_sql, owned_params), (risky_sql, risky_params) = (
        qs.query.sql_with_params() for qs in (people, owned, risky)
    )
    # One pass over open owned cards: how many per person, and how many with a timer at risk.
    load_sql = (
        "SELECT cards.person, COUNT(*) AS open_n, COUNT(risky.card) AS risk_n"
        f" FROM ({owned_sql}) cards"
        f" LEFT JOIN (SELECT DISTINCT card FROM ({risky_sql}) timers) risky"
        " ON risky.card = cards.card GROUP BY cards.person"
    )
    user = connection.ops.quote_name(User._meta.db_table)
    return list(
        User.objects.raw(
            "SELECT u.id, u.username, u.first_name, u.last_name,"
            " COALESCE(loads.open_n, 0) AS open_load, COALESCE(loads.risk_n, 0) AS at_risk_load"
            f" FROM {user} u LEFT JOIN ({load_sql}) loads ON loads.person = u.id"
            f" WHERE u.id IN ({people_sql})"
            " ORDER BY u.first_name, u.last_name, u.username",
            (*owned_params, *risky_params, *people_params),
        )
    )


def _board_cards(user):
    return Task.objects.visible_to(user).open().for_list().order_by("created_at", "pk")


BOARD_LISTS = ("unowned", "not_taken", "no_next_step")


def _board_lists(user) -> dict[str, list[Task]]:
    """The board's three lists (at most BOARD_LIMIT cards each, oldest first) in one query:
    the cards of any list, marked with the lists whose first BOARD_LIMIT they are among
    (a card can be new, unowned and flagged as not taken in time)."""
    cards = _board_cards(user)
    firsts = {
        "unowned": cards.filter(owner__isnull=True),
        "not_taken": cards.exclude(dispatch_flag=""),
        "no_next_step": cards.filter(owner__isnull=False, next_step="", dispatch_flag=""),
    }
    firsts = {name: qs.values("pk")[:BOARD_LIMIT] for name, qs in firsts.items()}
    parts = [qs.query.sql_with_params() for qs in firsts.values()]
    any_list = RawSQL(
        " UNION ALL ".join(f"SELECT * FROM ({sql}) AS list{i}" for i, (sql, _) in enumerate(parts)),
        tuple(p for _, params in parts for p in params),
    )
    rows = cards.filter(pk__in=any_list).annotate(
        **{f"in_{name}": ExpressionWrapper(Q(pk__in=qs), output_field=BooleanField())
           for name, qs in firsts.items()}
    )  # fmt: skip
    lists: dict[str, list[Task]] = {name: [] for name in BOARD_LISTS}
    for task in rows:
        for name in BOARD_LISTS:
            if getattr(task, f"in_{name}"):
                lists[name].append(task)
    return lists


@require_GET
def dispatch(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("tasks.assign_task"):
        return forbidden(request, "The dispatch board is for dispatchers and managers.")
    lists = _board_lists(request.user)
    rows = DispatchRows(_people_with_load(), csrf_token=get_token(request))
    context = {name: [rows.row(task) for task in tasks] for name, tasks in lists.items()}
    return render(request, "tasks/dispatch.html", context)


@require_POST
def dispatch_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign an owner from the board; HTMX gets the updated row back."""
    task = Task.objects.for_list().filter(pk=pk).first()
    if task is None:
        return HttpResponse("This card no longer exists.", status=404)
    if not permissions.can_assign(request.user, task):
        return forbidden(request, "Only dispatchers and managers of the card's team may assign.")
    owner_id = request.POST.get("owner", "")
    owner = User.objects.filter(pk=owner_id, is_active=True).first() if owner_id.isdigit() else None
    error, status = "", 200
    if owner is None:
        error, status = "Choose who should own this card.", 400
    else:
        try:
            actions.assign_owner(
                task=task,
                owner=owner,
                actor=request.user,
                expected_version=_int(request.POST.get("version")),
            )
        except actions.WorkflowError as exc:
            error, status = str(exc), 409 if isinstance(exc, actions.StaleCard) else 400
        task = Task.objects.for_list().get(pk=pk)
    if not request.htmx:
        return redirect("dispatch")
    rows = DispatchRows(_people_with_load(), csrf_token=get_token(request))
    return HttpResponse(rows.row(task, error=error, done=not error), status=status)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _work_cards(cards):
    """Cards as My work shows them: with their row's relations, whether a timer of theirs
    is breached and their next deadline (the page's list and a quick action's card)."""
    open_timers = SlaTimer.objects.filter(task=OuterRef("pk"), stopped_at__isnull=True)
    return cards.for_list().annotate(
        breached=Exists(open_timers.filter(state=TimerState.BREACHED)),
        # A subquery per card (index one_timer_per_cycle), not a join of every timer
        # grouped by card: at 1M cards that join sorted all 2M timers.
        next_due=Subquery(
            open_timers.order_by(F("due_at").asc(nulls_last=True)).values("due_at")[:1]
        ),
    )


@require_GET
def my_work(request: HttpRequest) -> HttpResponse:
    user = request.user
    # Owned or performed, as a union of two index reads (an OR with a subquery made
    # PostgreSQL overestimate the cards 20x and compile the query with JIT: +400 ms).
    owned = Task.objects.open().filter(owner=user).order_by().values("pk")
    performed = Task.performers.through.objects.filter(user=user).values("task_id")
    mine = _work_cards(Task.objects.open().filter(pk__in=owned.union(performed, all=True)))
    mine = mine.order_by("-breached", F("next_due").asc(nulls_last=True), "created_at", "pk")
    cards = list(mine[:200])
    reasons = BlockingReason.objects.filter(active=True)
    card = WorkCards(reasons, csrf_token=get_token(request)).card
    context = {
        "cards": [card(task) for task in cards],
        "without_next_step": [t for t in cards if not t.next_step],
    }
    return render(request, "tasks/my_work.html", context)


@require_POST
def my_work_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Quick actions from My work (take into work, waiting with a reason, done)."""
    task = Task.objects.for_list().filter(pk=pk).first()
    if task is None:
        return HttpResponse("This card no longer exists.", status=404)
    if not permissions.can_work(request.user, task):
        return forbidden(request, "You may not change this card.")
    form = StatusForm(request.POST)
    error, status = "", 200
    if form.is_valid():
        try:
            actions.change_status(
                task=task,
                to=form.cleaned_data["to"],
                actor=request.user,
                blocking_reason=form.cleaned_data["blocking_reason"],
                expected_version=form.cleaned_data["version"],
            )
        except actions.WorkflowError as exc:
            error, status = str(exc), 409 if isinstance(exc, actions.StaleCard) else 400
    else:
        error = " ".join(e for errors in form.errors.values() for e in errors)
        status = 400
    if not request.htmx:
        return redirect("my_work")
    task = _work_cards(Task.objects.filter(pk=pk)).get()
    cards = WorkCards(BlockingReason.objects.filter(active=True), csrf_token=get_token(request))
    return HttpResponse(cards.card(task, error=error), status=status)
