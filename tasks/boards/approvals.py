"""The approver's queue (`/approvals/`): cards on approval waiting for the viewer's decision,
oldest first since the decision was asked, each with how long it has waited in business
hours and an "Open to decide" link (the card's page has the Approve / Reject buttons).

Two scopes, the same rule as `tasks.permissions.decider_role`:

- "Waiting for me" (`mine`, the default): the cards whose named approver is the viewer;
- "All pending in my teams" (`teams`, for team managers): those, and every card on approval
  of a team the viewer manages (she may decide them as the team's manager).

The time waiting comes from the card's open time-to-decision timer (its consumed business
time plus the running stretch to now, on its calendar: `SlaTimer.progress`); a card without
one (no SLA policy, or a policy without an approval target) shows calendar time since the
decision was asked, labelled as such. Rows are read in a constant number of queries: the
page, then its timers, senders and approval steps for the 50 rows shown. The nav's count
(`waiting_count`) is one COUNT over the partial index `task_approval_queue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser, User
from django.core.paginator import Paginator
from django.db.models import DateTimeField, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from sla.models import SlaTimer, TimerKind
from tasks.models import ApprovalStep, Status, Task, TaskEvent, Team
from tasks.views import forbidden

Kind = TaskEvent.Kind
MINE, TEAMS = "mine", "teams"
SCOPES = {MINE: "Waiting for me", TEAMS: "All pending in my teams"}
PAGE_SIZE = 50
# The events that ask a decision: sending (status change), the next step (approved), another
# approver named while the card waits (approver changed). The latest of them asked it.
ASKING = (Kind.STATUS_CHANGED, Kind.APPROVED, Kind.APPROVER_CHANGED)


def may_approve(user: AbstractBaseUser) -> bool:
    """Whoever may decide approvals: holders of `tasks.approve_task`, and team managers (the
    manager of a card's team decides it too)."""
    return user.has_perm("tasks.approve_task") or manages_a_team(user)


def manages_a_team(user: AbstractBaseUser) -> bool:
    return Team.objects.filter(manager_id=user.pk).exists()


def waiting_count(user: AbstractBaseUser) -> int:
    """Decisions waiting for `user` as the named approver (the nav's badge): one COUNT."""
    return Task.objects.filter(status=Status.ON_APPROVAL, approver_id=user.pk).count()


def waiting_for(user: AbstractBaseUser, scope: str) -> QuerySet[Task]:
    """Cards on approval for the scope, oldest asked first, each annotated `asked_at`."""
    cards = Task.objects.filter(status=Status.ON_APPROVAL)
    if scope == TEAMS:
        cards = cards.filter(Q(approver_id=user.pk) | Q(team__manager_id=user.pk))
    else:
        cards = cards.filter(approver_id=user.pk)
    timer = SlaTimer.objects.filter(
        task=OuterRef("pk"),
        kind=TimerKind.APPROVAL,
        cycle=OuterRef("approval_round"),
        stopped_at__isnull=True,
    )
    asked = TaskEvent.objects.filter(task=OuterRef("pk"), kind__in=ASKING).order_by("-at", "-pk")
    return cards.annotate(
        # The open timer's start when there is one (index one_timer_per_cycle); else the
        # latest asking event (index event_task_at), read only when there is no timer.
        asked_at=Coalesce(
            Subquery(timer.order_by().values("started_at")[:1]),  # one per cycle: no sort
            Subquery(asked.values("at")[:1]),
            F("updated_at"),
            output_field=DateTimeField(),
        )
    ).order_by("asked_at", "pk")


@dataclass
class Row:
    task: Task
    url: str  # the card's page (it has the Approve / Reject buttons)
    asked_at: datetime
    sent_by: User | None
    step: int
    steps: int
    step_name: str
    waiting: timedelta
    business: bool  # `waiting` is business time (from the timer), else calendar time
    deadline: datetime | None
    overdue: bool


def rows(cards: list[Task], now: datetime) -> list[Row]:
    """The page's rows: their timers, senders and approval steps in three queries."""
    ids = [t.pk for t in cards]
    timers = {
        (t.task_id, t.cycle): t
        for t in SlaTimer.objects.filter(
            task_id__in=ids, kind=TimerKind.APPROVAL, stopped_at__isnull=True
        ).select_related("calendar")
    }
    senders: dict[int, User | None] = {}
    sendings = TaskEvent.objects.filter(
        task_id__in=ids, kind=Kind.STATUS_CHANGED, new_value=Status.ON_APPROVAL
    ).select_related("actor")
    for event in sendings.order_by("at", "pk"):
        senders[event.task_id] = event.actor  # the latest sending wins
    steps: dict[int, dict[int, str]] = {}
    for type_id, position, name in ApprovalStep.objects.filter(
        request_type_id__in={t.request_type_id for t in cards}
    ).values_list("request_type_id", "position", "name"):
        steps.setdefault(type_id, {})[position] = name
    result = []
    for task in cards:
        chain = steps.get(task.request_type_id, {})
        step = max(task.approval_step, 1)
        timer = timers.get((task.pk, task.approval_round))
        if timer is not None:
            waiting, business = timer.progress(now).consumed, True
            deadline = timer.due_at
        else:
            waiting, business, deadline = now - task.asked_at, False, None
        result.append(
            Row(
                task=task,
                url=task.get_absolute_url(),
                asked_at=task.asked_at,
                sent_by=senders.get(task.pk),
                step=step,
                steps=max(len(chain), 1),
                step_name=chain.get(step, ""),
                waiting=waiting,
                business=business,
                deadline=deadline,
                overdue=bool(deadline and deadline <= now),
            )
        )
    return result


@require_GET
def approvals(request: HttpRequest) -> HttpResponse:
    user = request.user
    manager = manages_a_team(user)
    if not (manager or user.has_perm("tasks.approve_task")):
        return forbidden(
            request,
            "The approvals queue is for people who decide approvals (managers, and whoever "
            "an admin allows to approve cards). Your cards on approval are on My work.",
        )
    scope = request.GET.get("scope", MINE)
    if scope not in SCOPES or (scope == TEAMS and not manager):
        scope = MINE  # an unknown or unavailable scope: the default, never an error
    # What a row shows: the request type and, in the teams' view, the approver named.
    cards = (
        waiting_for(user, scope)
        .select_related("request_type", "approver")
        .defer("description", "source_url", "next_step", "dispatch_flag")
    )
    page = Paginator(cards, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": rows(list(page.object_list), timezone.now()),
        "scope": scope,
        "scopes": SCOPES if manager else {},
    }
    return render(request, "tasks/approvals.html", context)
