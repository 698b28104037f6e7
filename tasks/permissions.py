"""Who may do what to a card: group permissions combined with per-card relations.

Groups (created by `tasks.roles.ensure_role_groups`) grant model permissions; the functions
here add the per-card rule. Views, the API and admin actions all ask these functions.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Permission
from django.db.models import Q, QuerySet

from tasks.models import Status, Task

# The permission that makes someone a possible owner, performer or approver of a card.
WORK_PERMISSION = ("tasks", "work_task")
# The permission that makes someone a possible approver (managers have it).
APPROVE_PERMISSION = ("tasks", "approve_task")


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


def _holders(permission: tuple[str, str]) -> QuerySet:
    """Active users holding `permission` in a group or directly, and superusers."""
    app_label, codename = permission
    granted = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(pk__in=granted.values("user"))
            | Q(pk__in=granted.values("group__user"))
        )
    )


def people_who_may_approve() -> QuerySet:
    """Active users a card may be sent to for a decision: whoever holds `tasks.approve_task`
    (managers, and anyone an admin gives it) and superusers. An approval step's default
    approver must be one of them too (checked when a card is sent)."""
    return _holders(APPROVE_PERMISSION)


def decider_role(user: AbstractBaseUser, task: Task) -> str | None:
    """Who `user` is when deciding the approval the card waits for: "approver" (the card's
    approver) or "team_manager" (the manager of the card's team, recorded as such); None when
    she may not decide, or the card is not on approval."""
    if task.status != Status.ON_APPROVAL or not user.is_authenticated:
        return None
    if user.pk == task.approver_id:
        return "approver"
    if task.team_id is not None and task.team.manager_id == user.pk:
        return "team_manager"
    return None


def can_decide(user: AbstractBaseUser, task: Task) -> bool:
    return decider_role(user, task) is not None


def can_move(user: AbstractBaseUser, task: Task) -> bool:
    """Move the card along the workflow (the status moves other than a decision). A card on
    approval waits for its decision: only whoever leads its team (or decides it) may still
    cancel it; everyone else waits."""
    if task.status == Status.ON_APPROVAL:
        return can_decide(user, task) or can_assign(user, task)
    return can_work(user, task)


def can_watch(user: AbstractBaseUser, task: Task) -> bool:
    """Anyone who may see a card may follow it."""
    return can_view(user, task)


def people_who_may_work_cards() -> QuerySet:
    """Active users who may be a card's owner, performers or approver: superusers and whoever
    holds `tasks.work_task` (performers, dispatchers, managers), in a group or directly.
    Observers and users without a role are not among them: a card they owned would be
    worked by nobody. The one rule of the people forms and of `tasks.actions`' assignments."""
    return _holders(WORK_PERMISSION)


def may_work_cards(user: AbstractBaseUser) -> bool:
    """Whether `user` is one of `people_who_may_work_cards` (one query)."""
    return people_who_may_work_cards().filter(pk=user.pk).exists()


def can_comment(user: AbstractBaseUser, task: Task) -> bool:
    """Comment: whoever works the card, and anyone who may work cards and can see this one
    (its creator, a manager of another team asking about it). Observers only read."""
    if can_work(user, task):
        return True
    return user.has_perm("tasks.work_task") and can_view(user, task)


def can_assign(user: AbstractBaseUser, task: Task) -> bool:
    """Change owner, performers, approver, priority and request type: dispatchers and
    managers of the card's team."""
    if user.is_superuser:
        return True
    if not user.has_perm("tasks.assign_task"):
        return False
    return _leads_team(user, task)
