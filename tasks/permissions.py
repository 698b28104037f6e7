"""Who may do what to a card: group permissions combined with per-card relations.

Groups (created by `tasks.roles.ensure_role_groups`) grant model permissions; the functions
here add the per-card rule. Views, the API and admin actions all ask these functions.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Permission
from django.db.models import Q, QuerySet

from tasks.models import Task

# The permission that makes someone a possible owner, performer or approver of a card.
WORK_PERMISSION = ("tasks", "work_task")


def _leads_team(user: AbstractBaseUser, task: Task) -> bool:
    """The card's team manager, or a member of the card's team allowed to assign
    (a dispatcher of that team). Cards without a team are led by every dispatcher."""
    if task.team_id is None:
        return user.has_perm("tasks.assign_task")
    if task.team.manager_id == user.pk:
        return True
    return user.has_perm("tasks.assign_task") and task.team.members.filter(pk=user.pk).exists()


def can_view(user: AbstractBaseUser, task: Task) -> bool:
    return Task.objects.visible_to(user).filter(pk=task.pk).exists()


def can_create(user: AbstractBaseUser) -> bool:
    return user.has_perm("tasks.add_task")


def can_work(user: AbstractBaseUser, task: Task) -> bool:
    """Move the card's status, set its next step, comment: owner, performers, approver,
    and whoever leads the card's team."""
    if user.is_superuser:
        return True
    if not user.has_perm("tasks.work_task"):
        return False
    if user.pk in (task.owner_id, task.approver_id):
        return True
    if task.performers.filter(pk=user.pk).exists():
        return True
    return _leads_team(user, task)


def people_who_may_work_cards() -> QuerySet:
    """Active users who may be a card's owner, performers or approver: superusers and whoever
    holds `tasks.work_task` (performers, dispatchers, managers), in a group or directly.
    Observers and users without a role are not among them: a card they owned would be
    worked by nobody. The one rule of the people forms and of `tasks.actions`' assignments."""
    app_label, codename = WORK_PERMISSION
    work = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(pk__in=work.values("user"))
            | Q(pk__in=work.values("group__user"))
        )
    )


def may_work_cards(user: AbstractBaseUser) -> bool:
    """Whether `user` is one of `people_who_may_work_cards` (one query)."""
    return people_who_may_work_cards().filter(pk=user.pk).exists()


def can_comment(user: AbstractBaseUser, task: Task) -> bool:
    return can_work(user, task)


def can_assign(user: AbstractBaseUser, task: Task) -> bool:
    """Change owner, performers, approver, priority and request type: dispatchers and
    managers of the card's team."""
    if user.is_superuser:
        return True
    if not user.has_perm("tasks.assign_task"):
        return False
    return _leads_team(user, task)
