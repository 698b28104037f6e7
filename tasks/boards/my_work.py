"""My work: a performer's open cards (owned or performed), the breached and the soonest due
first, each with its quick actions."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.db.models import Exists, F, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from sla.models import SlaTimer
from tasks import actions, moves, permissions
from tasks.forms import StatusForm, form_errors
from tasks.models import BlockingReason, Task
from tasks.views import forbidden

# The named moves (tasks.moves) a card offers on My work, where it allows them; the others
# (approval, cancel, reopen, back) are on the card's own page.
QUICK_MOVES = frozenset({moves.TAKE.slug, moves.RESUME.slug, moves.WAIT.slug, moves.DONE.slug})
CARDS_PARTIAL = "tasks/_work_cards.html"  # templates/jinja2/, as tasks/my_work.html renders it


def quick_moves(task: Task) -> list[moves.CardMove]:
    """The quick actions of an open card: its named moves of QUICK_MOVES, the primary first
    (none for a closed card, none for a card on approval: it waits for its decision).

    My work lists the viewer's own cards (owned or performed), which she may move
    (`permissions.can_move`) unless they are on approval; on approval the only move left
    to anyone but the decider is none of these. So no per-card permission query: the page
    keeps its query count whatever the cards."""
    if not task.is_open:
        return []
    offered = moves.moves(task, may_move=True, may_decide=False)
    return [move for move in offered if move.slug in QUICK_MOVES]


def work_cards(cards, now: datetime):
    """Cards as My work shows them: with their row's relations, whether a timer of theirs
    is breached at `now` (stamped or overdue, as the queue has it) and their next deadline
    (the page's list and a quick action's card)."""
    open_timers = SlaTimer.objects.open().filter(task=OuterRef("pk"))
    return (
        cards.for_list()
        .select_related("approver")
        .annotate(
            breached=Exists(SlaTimer.objects.breached(now).filter(task=OuterRef("pk"))),
            # A subquery per card (index one_timer_per_cycle), not a join of every timer
            # grouped by card: that join sorts every timer in the table.
            next_due=Subquery(
                open_timers.order_by(F("due_at").asc(nulls_last=True)).values("due_at")[:1]
            ),
        )
    )


def may_work_own_cards(user) -> bool:
    """`tasks.permissions.can_work` for every card of My work at once: they are her own or
    she performs them, so it holds unless she may not work cards at all (a role taken away):
    then no quick action is offered, as each would answer "not allowed"."""
    return user.is_superuser or user.has_perm("tasks.work_task")


def _card_pk(request: HttpRequest) -> int | None:
    value = request.GET.get("card", "")
    return int(value) if value.isdigit() and len(value) < 12 else None


@require_GET
def my_work(request: HttpRequest) -> HttpResponse:
    """The page. `?card=<pk>&confirm=done` asks "Mark #N done?" on that card (its Done is a
    GET form, so the question works without JavaScript); with htmx the answer is that card's
    partial alone (`?card=<pk>` without `confirm`: the card as it was, "Keep open")."""
    pk = _card_pk(request)
    confirm = pk if request.GET.get("confirm") == moves.DONE.slug else None
    if request.htmx and pk is not None:
        card = work_cards(_open_mine(request.user), timezone.now()).filter(pk=pk).first()
        if card is None:
            return HttpResponse("This card is no longer open in your work.", status=404)
        context = {
            "tasks": [card],
            "reasons": BlockingReason.objects.filter(active=True),
            "confirm": confirm,
            "work_url": reverse("my_work"),
            "may_work": may_work_own_cards(request.user),
        }
        return render(request, CARDS_PARTIAL, context, using="jinja2")
    return _page(request, confirm=confirm)


def _open_mine(user):
    """Open cards the user owns or performs, as a union of two index reads (an OR with a
    subquery made PostgreSQL overestimate the cards by an order of magnitude and compile the
    query with JIT)."""
    owned = Task.objects.open().filter(owner=user).order_by().values("pk")
    performed = Task.performers.through.objects.filter(user=user).values("task_id")
    return Task.objects.open().filter(pk__in=owned.union(performed, all=True))


def _page(request: HttpRequest, status: int = 200, confirm: int | None = None) -> HttpResponse:
    """The page; after a refused quick action without htmx, with its error (messages) and
    the action's status."""
    mine = work_cards(_open_mine(request.user), timezone.now())
    mine = mine.order_by("-breached", F("next_due").asc(nulls_last=True), "created_at", "pk")
    cards = list(mine[:200])
    context = {
        "cards": cards,
        "reasons": BlockingReason.objects.filter(active=True),
        "without_next_step": [t for t in cards if not t.next_step],
        "confirm": confirm,
        "work_url": reverse("my_work"),
        "may_work": may_work_own_cards(request.user),
    }
    return render(request, "tasks/my_work.html", context, status=status)


@require_POST
def my_work_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Quick actions from My work (take into work, waiting with a reason, done)."""
    task = Task.objects.for_list().filter(pk=pk).first()
    if task is None:
        return HttpResponse("This card no longer exists.", status=404)
    if not permissions.can_move(request.user, task):
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
        error, status = form_errors(form), 400
    if not request.htmx:
        if not error:
            return redirect("my_work")
        # A plain form post: the page again, with the error on it and the action's status.
        messages.error(request, f"Card #{task.pk}: {error}")
        return _page(request, status)
    # The page's own card partial, with this card only.
    context = {
        "tasks": [work_cards(Task.objects.filter(pk=pk), timezone.now()).get()],
        "reasons": BlockingReason.objects.filter(active=True),
        "may_work": True,  # `can_work` checked above
        "error": error,
        "confirm": None,
        "work_url": reverse("my_work"),
    }
    return render(request, CARDS_PARTIAL, context, status=status, using="jinja2")
