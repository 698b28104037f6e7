"""The dispatch board: cards without an owner, not taken in time, or without a next step
(at most BOARD_LIMIT each), and the assignment each row posts."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tasks import actions, permissions
from tasks.boards.load import people_with_load
from tasks.forms import DispatchAssignForm, form_errors
from tasks.models import Task
from tasks.views import forbidden

BOARD_LIMIT = 50
BOARD_LISTS = ("unowned", "not_taken", "no_next_step")
ROW_PARTIAL = "tasks/_dispatch_rows.html"  # templates/jinja2/, as tasks/dispatch.html renders it


def _board_cards(user):
    return Task.objects.visible_to(user).open().for_list().order_by("created_at", "pk")


def board_lists(user) -> dict[str, list[Task]]:
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
    return _board(request)


def _board(request: HttpRequest, status: int = 200) -> HttpResponse:
    """The board; after a refused assignment without htmx, with its error (messages) and
    the assignment's status."""
    context = {**board_lists(request.user), "people": people_with_load()}
    return render(request, "tasks/dispatch.html", context, status=status)


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
    form = DispatchAssignForm(request.POST)
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
    context = {"tasks": [task], "people": people_with_load(), "error": error, "done": not error}
    return render(request, ROW_PARTIAL, context, status=status, using="jinja2")
