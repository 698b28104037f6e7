"""Who may do what to a card: group permissions combined with per-card relations.

Groups (created by `tasks.roles.ensure_role_groups`) grant model permissions; the functions
here add the per-card rule. Views, the API and admin actions all ask these functions.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from tasks.models import Task


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
