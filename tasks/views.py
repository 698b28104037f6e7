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
from tasks import actions, permissions
from tasks.filters import TaskFilter
from tasks.forms import (
    AssignForm,
    ClassifyForm,
    CommentForm,
    NextStepForm,
    StatusForm,
    TaskCreateForm,
)
from tasks.models import Task
from tasks.timeline import timeline

PAGE_SIZE = 25


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    cards = Task.objects.visible_to(request.user).for_list().order_by("-created_at", "-pk")
    filterset = TaskFilter(request.GET or None, queryset=cards)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filter": filterset, "page": page, "query": query.urlencode()}
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


def _card_context(request: HttpRequest, task: Task, **forms: Any) -> dict[str, Any]:
    user = request.user
    can_work = permissions.can_work(user, task)
    can_assign = permissions.can_assign(user, task)
    initial = {"version": task.version}
    events = list(task.events.select_related("actor", "comment__author"))
    context = {
        "task": task,
        "performers": list(task.performers.all()),
        "observers": list(task.observers.all()),
        "timers": explain_timers(task),
        "timeline": timeline(events),
        "can_work": can_work,
        "can_assign": can_assign,
        "transitions": actions.allowed_transitions(task) if can_work else [],
        "status_form": StatusForm(initial=initial),
        "comment_form": CommentForm(),
        "next_step_form": NextStepForm(
            initial={**initial, "text": task.next_step, "due": task.next_step_due}
        ),
        "assign_form": AssignForm(
            initial={
                **initial,
                "owner": task.owner_id,
                "approver": task.approver_id,
                "performers": [u.pk for u in task.performers.all()],
            }
        ),
        "classify_form": ClassifyForm(
            initial={
                **initial,
                "priority": task.priority,
                "request_type": task.request_type_id,
                "team": task.team_id,
            }
        ),
    }
    context.update(forms)
    return context


@require_GET
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = _card_or_error(request, pk)
    if isinstance(task, HttpResponse):
        return task
    return render(request, "tasks/task_detail.html", _card_context(request, task))


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
) -> HttpResponse:
    """The shape every card POST shares: permission, form, one action, re-render."""
    task = _card_or_error(request, pk)
    if isinstance(task, HttpResponse):
        return task
    if not allowed(request.user, task):
        return forbidden(request, denied)
    form = form_class(request.POST)
    status = 400
    if form.is_valid():
        try:
            done = perform(task, form.cleaned_data)  # one action, atomic in itself
        except actions.StaleCard as error:
            form.add_error(None, str(error))
            status = 409
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
    context = _card_context(request, task, **{form_name: form})
    template = "tasks/task_detail.html#card" if request.htmx else "tasks/task_detail.html"
    return render(request, template, context, status=status)


@require_POST
def task_status(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(task: Task, data: dict[str, Any]) -> str:
        actions.change_status(
            task=task,
            to=data["to"],
            actor=request.user,
            blocking_reason=data["blocking_reason"],
            note=data["note"],
            expected_version=data["version"],
        )
        return f"Card moved to {task.get_status_display().lower()}."

    return _card_action(
        request, pk, form_class=StatusForm, form_name="status_form",
        allowed=permissions.can_work, denied="Only the card's owner, performers, approver "
        "or team lead may change its status.", perform=perform,
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
        "team may assign it.", perform=perform,
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
