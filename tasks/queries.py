"""Reads over many cards: chainable queryset methods used by pages, reports and jobs."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Exists, OuterRef, Q

from tasks.auth_backend import role_names
from tasks.states import CLOSED_STATUSES, Status

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


# Groups whose members see every card: they triage, review or are kept informed across
# teams (observers read only; see tasks.permissions).
SEE_ALL_GROUPS = ("manager", "dispatcher", "observer")

# The dispatch flag the scan writes when a card's response timer warns or breaches
# (`sla.escalation.flag_not_taken`; a test holds the two texts equal). Every other flag puts
# the card in front of the dispatchers for another reason: an escalation rule's "Escalated: …"
# (`sla.escalation._run_action`), or anyone's `tasks.actions.flag_for_dispatch`.
NOT_TAKEN_IN_TIME = "Not taken in time"
# A card still not taken into work: nobody has started it. Taking it into work clears its
# flag (`tasks.actions.change_status`), but a card moved on otherwise (waiting, on approval)
# keeps a flag that no longer says what it said.
NOT_TAKEN_STATUSES = (Status.NEW, Status.ASSIGNED)


def sees_all(user: AbstractBaseUser) -> bool:
    """Whether a user reads every card (staff, managers, dispatchers, observers)."""
    if user.is_superuser or user.is_staff:
        return True
    # Read with the user's permissions, once per request (tasks.auth_backend).
    return not role_names(user).isdisjoint(SEE_ALL_GROUPS)


class TaskQuerySet(models.QuerySet):
    def open(self) -> TaskQuerySet:
        """Cards not yet done or cancelled (the same test as `Task.is_open`)."""
        return self.exclude(status__in=CLOSED_STATUSES)

    def flaggable_for_dispatch(self) -> TaskQuerySet:
        """The cards a dispatch flag may be put on: open cards that carry no flag yet.

        The one rule of both `tasks.actions.flag_for_dispatch` and `flag_many_for_dispatch`:
        a card already in front of the dispatchers keeps its first reason (and makes no new
        event) until someone acts on it, since taking it into work, reassigning or closing
        it clears the flag; a closed card is never flagged.
        """
        return self.open().filter(dispatch_flag="")

    def not_taken_in_time(self) -> TaskQuerySet:
        """Open cards the dispatch board lists as "Not taken into work in time": flagged by
        the scan (NOT_TAKEN_IN_TIME) and still new or assigned. A card with that flag that
        was moved on (waiting, on approval) is no longer "not taken", so not among them.

        With `escalated_to_dispatch`, the one place that reads what a dispatch flag means:
        by its text (the scan's own, or any other) and, for the scan's, the card's status.
        Both are served by the partial index `task_flagged_open`."""
        return self.open().filter(dispatch_flag=NOT_TAKEN_IN_TIME, status__in=NOT_TAKEN_STATUSES)

    def escalated_to_dispatch(self) -> TaskQuerySet:
        """Open cards sent to the dispatchers for another reason than the scan's "not taken
        in time": an escalation rule's "Escalated: …" or anyone's `flag_for_dispatch`, in
        whatever open status (see `not_taken_in_time`)."""
        return self.open().exclude(dispatch_flag="").exclude(dispatch_flag=NOT_TAKEN_IN_TIME)

    def of_teams(self, team_ids: Collection[int]) -> TaskQuerySet:
        """Cards of these teams and cards of no team (which no team leads, so every team's
        dispatchers and managers see them): the screens' "My teams"."""
        return self.filter(Q(team__in=sorted(team_ids)) | Q(team__isnull=True))

    def visible_to(self, user: AbstractBaseUser) -> TaskQuerySet:
        """Cards a user may read: all for staff, managers, dispatchers and observers;
        otherwise cards of their teams and cards they own, perform, approve or observe."""
        if sees_all(user):
            return self
        through_performers = self.model.performers.through
        through_observers = self.model.observers.through
        through_members = self.model.team.field.related_model.members.through
        return self.filter(
            Q(owner=user)
            | Q(approver=user)
            | Exists(through_performers.objects.filter(task=OuterRef("pk"), user=user))
            | Exists(through_observers.objects.filter(task=OuterRef("pk"), user=user))
            | Exists(through_members.objects.filter(team=OuterRef("team"), user=user))
        )

    def for_list(self) -> TaskQuerySet:
        """Everything a card row shows, in a constant number of queries."""
        return self.select_related(
            "request_type", "related_object", "owner", "team", "blocking_reason"
        )


class TaskManager(models.Manager.from_queryset(TaskQuerySet)):  # type: ignore[misc]
    def get_queryset(self) -> TaskQuerySet:
        # The search vector (tasks.search_vector) is read in SQL by the search alone: lists
        # and the card page do not fetch it, and saving a card loaded this way leaves it as
        # it is (Django saves only the loaded fields).
        return super().get_queryset().defer("search_vector")
