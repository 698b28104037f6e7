"""Card pages. Each view parses input, checks permission, calls a query or an action,
renders. HTMX requests get the partial they swap; plain requests get the whole page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sla.explain import explain_timers
from tasks import actions, bulk, moves, permissions
from tasks.filters import TaskFilter, sort_headers
from tasks.forms import (
    AssignForm,
    ClassifyForm,
    CommentForm,
    NextStepForm,
    TaskCreateForm,
)
from tasks.models import Priority, Status, Task, TaskEvent
from tasks.move_forms import DecideForm, MoveForm, WatchForm
from tasks.timeline import timeline

PAGE_SIZE = 25
MAY_NOT_MOVE = (
    "Only the card's owner, performers, approver or team lead may change its status; "
    "a card on approval waits for its approver's decision."
)


def display_name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    cards = Task.objects.visible_to(request.user).for_list().order_by("-created_at", "-pk")
    filterset = TaskFilter(request.GET or None, queryset=cards)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sort = filterset.form.cleaned_data.get("sort") if filterset.is_bound else None
    context = {
        "filter": filterset,
        "page": page,
        "query": query.urlencode(),
        "sort": sort_headers(request.GET, sort),
        # The bulk bar's owners (one query, read when the bar is rendered).
        "bulk_owners": permissions.people_who_may_work_cards(),
        "bulk_moves": bulk.MOVES,
        "priorities": Priority.choices,
    }
    template = "tasks/task_list.html#rows" if request.htmx else "tasks/task_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def task_create(request: HttpRequest) -> HttpResponse:
    if not permissions.can_create(request.user):
        return forbidden(request, "You may not create cards.")
    user = request.user
    can_assign = user.has_perm("tasks.assign_task")
    # A performer may make herself the owner (tasks.forms.TaskCreateForm); a forged owner is
    # refused (400) and nothing is created.
    creator = user if not can_assign and permissions.may_work_cards(user) else None
    form = TaskCreateForm(request.POST or None, can_assign=can_assign, creator=creator)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                task = actions.create_task(actor=request.user, **form.cleaned_data)
            except actions.WorkflowError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Card #{task.pk} created.")
                return redirect(task)
        status = 400
    return render(request, "tasks/task_form.html", {"form": form}, status=status)


def _card_or_error(request: HttpRequest, pk: int) -> Task | HttpResponse:
    task = get_object_or_404(Task.objects.for_list(), pk=pk)
    if not permissions.can_view(request.user, task):
        return forbidden(request, "This card belongs to a team you are not part of.")
    return task


def _approval_state(task: Task, events: list, steps: list) -> dict[str, Any]:
    """What the card page says about the card's approval, read from its events (already
    loaded): who it waits for and since when, or the rejection the performer must answer."""
    sent = decided = rejected = None
    for event in events:
        if event.kind == TaskEvent.Kind.STATUS_CHANGED and event.new_value == Status.ON_APPROVAL:
            sent = decided = event
        elif event.kind == TaskEvent.Kind.APPROVED:
            decided = event
        elif event.kind == TaskEvent.Kind.REJECTED:
            rejected = event
    state: dict[str, Any] = {"waiting_for_decision": None, "rejection": None}
    if task.status == Status.ON_APPROVAL:
        total = max(len(steps), 1)
        step = min(max(task.approval_step, 1), total)
        state["waiting_for_decision"] = {
            "approver": task.approver,
            "step": step,
            "of": total,
            "name": steps[step - 1].name if steps else "",
            "since": decided.at if decided else None,
        }
        following = steps[step] if step < len(steps) else None
        state["needs_next_approver"] = following is not None and following.approver_id is None
        state["next_step_name"] = following.name if following else ""
    elif rejected is not None and task.is_open and (sent is None or sent.pk < rejected.pk):
        state["rejection"] = rejected
    return state


def _following(user: Any, task: Task, observers: list) -> dict[str, Any]:
    """Who follows the card (watchers hearing something, observers not muted) and how the
    viewer does. Anyone who sees the card may follow it (`permissions.can_watch` is
    `can_view`, which the page has checked)."""
    watches = list(task.watches.all())
    rows = {w.user_id: w for w in watches}
    hearing = {w.user_id for w in watches if w.status_changes or w.breaches or w.decisions}
    hearing |= {u.pk for u in observers if u.pk not in rows}
    mine = rows.get(user.pk)
    is_observer = any(u.pk == user.pk for u in observers)
    kinds = {k: getattr(mine, k) if mine else True for k in WatchForm.KINDS}
    return {
        "can_watch": True,
        "followers": len(hearing),
        "my_watch": mine,
        "is_observer": is_observer,
        "following": is_observer or mine is not None,
        "muted": mine is not None and not any(kinds.values()),
        "watch_kinds": kinds,
    }


def _card_context(
    request: HttpRequest, task: Task, *, open_move: str = "", **forms: Any
) -> dict[str, Any]:
    user = request.user
    can_work = permissions.can_work(user, task)
    can_assign = permissions.can_assign(user, task)
    initial = {"version": task.version}
    events = list(task.events.select_related("actor", "comment__author"))
    steps = actions.approval_steps(task)
    offered = moves.moves_for(user, task)
    if moves.move_named(open_move, offered) is None:
        open_move = ""  # a move not offered is not opened (?move=… of another status)
    observers = list(task.observers.all())
    first_step = steps[0] if steps else None
    default_approver = (first_step.approver_id if first_step else None) or task.approver_id
    context = {
        "task": task,
        "performers": list(task.performers.all()),
        "observers": observers,
        "timers": explain_timers(task),
        "timeline": timeline(events, step_names={s.position: s.name for s in steps}),
        "can_work": can_work,
        "can_comment": can_work or permissions.can_comment(user, task),
        "can_assign": can_assign,
        "moves": offered,
        "open_move": open_move,
        "move_form": MoveForm(initial={**initial, "approver": default_approver}),
        "decide_form": DecideForm(initial=initial),
        "watch_form": WatchForm(),
        "comment_form": CommentForm(),
        "next_step_form": NextStepForm(
            initial={**initial, "text": task.next_step, "due": task.next_step_due}
        ),
        "assign_form": AssignForm(
            task=task,
            initial={
                **initial,
                "owner": task.owner_id,
                "approver": task.approver_id,
                "performers": [u.pk for u in task.performers.all()],
            },
        ),
        "classify_form": ClassifyForm(
            initial={
                **initial,
                "priority": task.priority,
                "request_type": task.request_type_id,
                "team": task.team_id,
            }
        ),
        **_approval_state(task, events, steps),
        **_following(user, task, observers),
    }
    context.update(forms)
    watch_form = forms.get("watch_form")
    if watch_form is not None and watch_form.is_bound:  # refused: the boxes as ticked
        context["watch_kinds"] = {k: bool(watch_form.data.get(k)) for k in WatchForm.KINDS}
    return context


@require_GET
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The card page. `?move=<slug>` opens that move's small form (its input, or "are you
    sure?"): the buttons of the moves that ask something are GET forms, so they work without
    JavaScript; with htmx the answer is the #card partial."""
    task = _card_or_error(request, pk)
    if isinstance(task, HttpResponse):
        return task
    context = _card_context(request, task, open_move=request.GET.get("move", "")[:20])
    template = "tasks/task_detail.html#card" if request.htmx else "tasks/task_detail.html"
    return render(request, template, context)


@require_GET
def task_timers(request: HttpRequest, pk: int) -> HttpResponse:
    """The live timers block, polled by the card page."""
    task = _card_or_error(request, pk)
    if isinstance(task, HttpResponse):
        return task
    return render(request, "tasks/_timers.html", {"task": task, "timers": explain_timers(task)})


def _card_action(
    request: HttpRequest,
    pk: int,
    *,
    form_class: type,
    form_name: str,
    allowed: Callable[[Any, Task], bool],
    denied: str,
    perform: Callable[[Task, dict[str, Any]], str],
    conflict: Callable[[Task], str] | None = None,
    reopen: Callable[[Task, Any], str] | None = None,
    of_card: bool = False,
) -> HttpResponse:
    """The shape every card POST shares: permission, form, one action, re-render.

    `conflict` names a state of the card in which the post makes no sense any more (a
    decision on a card already decided: 409, before the permission, which would say no);
    `reopen` names the move whose small form shows a refused post's errors; `of_card`:
    the form is given the card (its choices depend on it: `tasks.forms.CardOwnerForm`)."""
    task = _card_or_error(request, pk)
    if isinstance(task, HttpResponse):
        return task
    form = form_class(request.POST, task=task) if of_card else form_class(request.POST)
    status = 400
    stale = conflict(task) if conflict else ""
    if stale:
        form.is_valid()
        form.add_error(None, stale)
        status = 409
    elif not allowed(request.user, task):
        return forbidden(request, denied)
    elif form.is_valid():
        try:
            done = perform(task, form.cleaned_data)  # one action, atomic in itself
        except actions.StaleCard as error:
            form.add_error(None, str(error))
            status = 409
        except actions.NotAllowed as error:
            return forbidden(request, str(error))
        except actions.WorkflowError as error:
            form.add_error(None, str(error))
        else:
            if not request.htmx:
                messages.success(request, done)
                return redirect(task)
            task = Task.objects.for_list().get(pk=task.pk)
            context = _card_context(request, task)
            context["flash"] = done
            return render(request, "tasks/task_detail.html#card", context)
    task.refresh_from_db()
    open_move = reopen(task, form) if reopen else ""
    context = _card_context(request, task, open_move=open_move, **{form_name: form})
    template = "tasks/task_detail.html#card" if request.htmx else "tasks/task_detail.html"
    return render(request, template, context, status=status)


def _reopen_status_move(task: Task, form: Any) -> str:
    """The named move a refused status post was (its small form shows the errors); none
    for a move without a form: the errors then show above the buttons."""
    move = moves.move_of_post(task, to=str(form.data.get("to", "")))
    return move.slug if move and move.asks else ""


@require_POST
def task_status(request: HttpRequest, pk: int) -> HttpResponse:
    """A named move of the card (tasks.moves): a status, and what the move asks for."""

    def perform(task: Task, data: dict[str, Any]) -> str:
        actions.change_status(
            task=task,
            to=data["to"],
            actor=request.user,
            blocking_reason=data["blocking_reason"],
            note=data["note"],
            approver=data["approver"] if data["to"] == Status.ON_APPROVAL else None,
            expected_version=data["version"],
        )
        if task.status == Status.ON_APPROVAL and task.approver:
            return f"Sent for approval to {display_name(task.approver)}."
        return f"Card moved to {task.get_status_display().lower()}."

    return _card_action(
        request, pk, form_class=MoveForm, form_name="move_form",
        allowed=permissions.can_move, denied=MAY_NOT_MOVE, perform=perform,
        reopen=_reopen_status_move,
    )  # fmt: skip


def _not_waiting_for_a_decision(task: Task) -> str:
    if task.status != Status.ON_APPROVAL:
        return "This card is not waiting for a decision (any more): reload it to see why."
    return ""


def _reopen_decision(task: Task, form: Any) -> str:
    move = moves.move_of_post(task, decision=str(form.data.get("decision", "")))
    return move.slug if move and task.status == Status.ON_APPROVAL else ""


@require_POST
def task_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or Reject the approval step the card waits for (the approver or the team's
    manager only: 403 for anyone else; 409 when the card no longer waits for a decision)."""

    def perform(task: Task, data: dict[str, Any]) -> str:
        actions.decide(
            task=task, decision=data["decision"], actor=request.user, reason=data["reason"],
            next_approver=data["next_approver"], expected_version=data["version"],
        )  # fmt: skip
        if data["decision"] == actions.REJECT:
            return "Rejected: the card is back with its performer, with your reason."
        if task.status == Status.ON_APPROVAL:
            return f"Approved: the next step goes to {display_name(task.approver)}."
        return f"Approved: the card is {task.get_status_display().lower()}."

    return _card_action(
        request, pk, form_class=DecideForm, form_name="decide_form",
        allowed=permissions.can_decide, denied="Only the card's approver or its team's "
        "manager may decide.", perform=perform, conflict=_not_waiting_for_a_decision,
        reopen=_reopen_decision,
    )  # fmt: skip


@require_POST
def task_watch(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow the card with the kinds of events chosen, or stop following it. An observer of
    the card follows it already: she chooses kinds (none: muted)."""

    def perform(task: Task, data: dict[str, Any]) -> str:
        kinds = {kind: data[kind] for kind in WatchForm.KINDS}
        observer = task.observers.filter(pk=request.user.pk).exists()
        if data["follow"] == "unfollow":
            actions.unfollow(task=task, user=request.user)
            if observer:
                return "You hear every event of this card again, as its observer."
            return "You no longer follow this card."
        if not any(kinds.values()) and not observer:
            raise actions.WorkflowError(
                "Choose at least one kind of event to follow (or unfollow the card)."
            )
        actions.follow(task=task, user=request.user, **kinds)
        if not any(kinds.values()):
            return "Muted: this card's events no longer reach you."
        return "You follow this card."

    return _card_action(
        request, pk, form_class=WatchForm, form_name="watch_form",
        allowed=permissions.can_watch, denied="You may not see this card.", perform=perform,
    )  # fmt: skip


@require_POST
def task_comment(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(task: Task, data: dict[str, Any]) -> str:
        actions.add_comment(task=task, text=data["text"], actor=request.user)
        return "Comment added."

    return _card_action(
        request, pk, form_class=CommentForm, form_name="comment_form",
        allowed=permissions.can_comment, denied="You may not comment on this card.",
        perform=perform,
    )  # fmt: skip


@require_POST
def task_assign(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(task: Task, data: dict[str, Any]) -> str:
        actions.assign_people(
            task=task, owner=data["owner"], performers=data["performers"],
            approver=data["approver"], actor=request.user, expected_version=data["version"],
        )  # fmt: skip
        return "People updated."

    return _card_action(
        request, pk, form_class=AssignForm, form_name="assign_form",
        allowed=permissions.can_assign, denied="Only dispatchers and managers of the card's "
        "team may assign it.", perform=perform, of_card=True,
    )  # fmt: skip


@require_POST
def task_classify(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(task: Task, data: dict[str, Any]) -> str:
        actions.reclassify(
            task=task, request_type=data["request_type"], priority=data["priority"],
            team=data["team"], actor=request.user, expected_version=data["version"],
        )  # fmt: skip
        return "Classification updated."

    return _card_action(
        request, pk, form_class=ClassifyForm, form_name="classify_form",
        allowed=permissions.can_assign, denied="Only dispatchers and managers of the card's "
        "team may reclassify it.", perform=perform,
    )  # fmt: skip


@require_POST
def task_next_step(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(task: Task, data: dict[str, Any]) -> str:
        actions.set_next_step(
            task=task, text=data["text"], due=data["due"], actor=request.user,
            expected_version=data["version"],
        )  # fmt: skip
        return "Next step saved."

    return _card_action(
        request, pk, form_class=NextStepForm, form_name="next_step_form",
        allowed=permissions.can_work, denied="You may not change this card's next step.",
        perform=perform,
    )  # fmt: skip
