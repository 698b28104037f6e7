"""The dispatch board: cards without an owner, not taken into work in time, escalated to
dispatch, or without a next step (the first BOARD_LIMIT of each, with each list's true
count), of the viewer's teams or all teams (`scope`), and the assignment each row posts
where the viewer may assign (`tasks.permissions.assign_right`)."""

from __future__ import annotations

from django.contrib import messages
from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tasks import actions, bulk, permissions
from tasks.boards.load import owners_by_team, people_with_load
from tasks.boards.scope import TeamScope, team_scope
from tasks.filters import SORT_CHOICES, sort_headers, sort_order
from tasks.forms import DispatchAssignForm, form_errors
from tasks.models import Priority, Task
from tasks.queries import TaskQuerySet
from tasks.views import forbidden

BOARD_LIMIT = 50
SORTS = frozenset(choice for choice, _label in SORT_CHOICES)
BOARD_LISTS = ("unowned", "not_taken", "escalated", "no_next_step")
# Each list's heading and what it says when empty (templates/tasks/dispatch.html).
LIST_TEXTS = {
    "unowned": ("New, without owner", "Nothing waiting for an owner."),
    "not_taken": ("Not taken into work in time", "Every card was taken in time."),
    "escalated": ("Escalated to dispatch", "Nothing escalated to dispatch."),
    "no_next_step": ("Without a next step", "Every owned card has a next step."),
}
ROW_PARTIAL = "tasks/_dispatch_rows.html"  # templates/jinja2/, as tasks/dispatch.html renders it


def _board_cards(user, scope: TeamScope | None = None) -> TaskQuerySet:
    cards = Task.objects.visible_to(user).open()
    if scope is not None:
        cards = scope.cards(cards)
    return cards


def _lists(cards: TaskQuerySet) -> dict[str, TaskQuerySet]:
    """Each list's cards (a card can be in two: new, unowned and flagged)."""
    return {
        "unowned": cards.filter(owner__isnull=True),
        "not_taken": cards.not_taken_in_time(),
        "escalated": cards.escalated_to_dispatch(),
        "no_next_step": cards.filter(owner__isnull=False, next_step="", dispatch_flag=""),
    }


def board_lists(
    user, scope: TeamScope | None = None, sort: str | None = None
) -> dict[str, list[Task]]:
    """The board's lists (at most BOARD_LIMIT cards each, oldest first, or the first by
    `sort`, a column of the card list's: tasks.filters.SORT_COLUMNS) in one query: the
    cards of any list, marked with the lists whose first BOARD_LIMIT they are among (a card
    can be new, unowned and flagged as not taken in time)."""
    order = sort_order(sort.removeprefix("-"), sort.startswith("-")) if sort else None
    cards = _board_cards(user, scope).for_list().order_by(*(order or ("created_at", "pk")))
    firsts = {name: qs.values("pk")[:BOARD_LIMIT] for name, qs in _lists(cards).items()}
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


def board_counts(user, scope: TeamScope | None = None) -> dict[str, int]:
    """How many cards each list holds in all (its heading's count; the board shows the
    first BOARD_LIMIT), in one query: one count per list, each read from its list's partial
    index."""
    counts = [
        qs.order_by().values("pk").query.sql_with_params()
        for qs in _lists(_board_cards(user, scope)).values()
    ]
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM ({part}) AS list{i})"
                                for i, (part, _) in enumerate(counts))  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, tuple(p for _, params in counts for p in params))
        row = cursor.fetchone()
    return dict(zip(BOARD_LISTS, row, strict=True))


@require_GET
def dispatch(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("tasks.assign_task"):
        return forbidden(request, "The dispatch board is for dispatchers and managers.")
    return _board(request)


def _board(request: HttpRequest, status: int = 200) -> HttpResponse:
    """The board; after a refused assignment without htmx, with its error (messages) and
    the assignment's status."""
    user = request.user
    scope = team_scope(request)
    sort = request.GET.get("sort") or None
    if sort is not None and sort not in SORTS:
        # As the card list does (issue 12): named, ignored, the board still shown.
        messages.error(request, f"“{sort[:40]}” is not a column the board sorts by (ignored).")
        sort = None
    lists = board_lists(user, scope, sort)
    counts = board_counts(user, scope)
    context = {
        "lists": [
            {
                "name": name,
                "heading": heading,
                "empty": empty,
                "cards": lists[name],
                "count": counts[name],
            }
            for name, (heading, empty) in LIST_TEXTS.items()
        ],
        "people": (people := people_with_load()),
        "team_people": owners_by_team(people),
        "may_assign": permissions.assign_right(user, scope.teams),
        "bulk_moves": bulk.MOVES,
        "priorities": Priority.choices,
        "scope": scope,
        "scope_links": scope.links(request) if scope.can_switch else [],
        "sort": sort_headers(request.GET, sort),
        "unsorted_query": _without_sort(request) if sort else None,
    }
    return render(request, "tasks/dispatch.html", context, status=status)


def _without_sort(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("sort", None)
    return query.urlencode()


@require_POST
def dispatch_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign an owner from the board; HTMX gets the updated row back."""
    task = Task.objects.for_list().filter(pk=pk).first()
    if task is None:
        return HttpResponse("This card no longer exists.", status=404)
    if not permissions.can_assign(request.user, task):
        return forbidden(request, "Only dispatchers and managers of the card's team may assign.")
    # The owner among the people who may work cards, and the version the row was shown
    # for: without it (or with anything but a number) the stale check could not be made,
    # so the assignment is refused, never made unchecked.
    form = DispatchAssignForm(request.POST, task=task)
    error, status = "", 200
    if not form.is_valid():
        error, status = form_errors(form), 400
    else:
        try:
            actions.assign_owner(
                task=task,
                owner=form.cleaned_data["owner"],
                actor=request.user,
                expected_version=form.cleaned_data["version"],
            )
        except actions.WorkflowError as exc:
            error, status = str(exc), 409 if isinstance(exc, actions.StaleCard) else 400
        task = Task.objects.for_list().get(pk=pk)
    if not request.htmx:
        if not error:
            return redirect("dispatch")
        messages.error(request, f"Card #{task.pk}: {error}")
        return _board(request, status)
    # The board's own row partial, with this card only.
    context = {
        "tasks": [task],
        "people": (people := people_with_load()),
        "team_people": owners_by_team(people),
        "may_assign": permissions.assign_right(request.user),
        "error": error,
        "done": not error,
    }
    return render(request, ROW_PARTIAL, context, status=status, using="jinja2")
