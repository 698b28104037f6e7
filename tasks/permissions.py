"""Who may do what to a card: group permissions combined with per-card relations.

Groups (created by `tasks.roles.ensure_role_groups`) grant model permissions; the functions
here add the per-card rule. Views, the API and admin actions all ask these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Permission
from django.db.models import Count, Q, QuerySet, Value

from tasks.models import Status, Task, Team
from tasks.queries import sees_all

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


def people_who_may_own(team: Team | None) -> QuerySet:
    """Active users who may own a card of `team`: those of `people_who_may_work_cards` who are
    in the team (a member or its manager). Admins and the people of other teams are not
    among them; a card without a team may be owned by anyone who may work cards. The owner
    fields, the dispatch board's rows and the people picker (`tasks.pickers`) offer these."""
    return _owners_of(team.pk if team is not None else None)


def _owners_of(team_id: int | None) -> QuerySet:
    workers = people_who_may_work_cards()
    if team_id is None:
        return workers
    return workers.filter(
        Q(pk__in=Team.members.through.objects.filter(team_id=team_id).values("user_id"))
        | Q(pk__in=Team.objects.filter(pk=team_id, manager__isnull=False).values("manager_id"))
    )


def may_own(user: AbstractBaseUser, task: Task) -> bool:
    """Whether `user` is one of `people_who_may_own(task.team)` (one query, the card's team
    not read)."""
    return _owners_of(task.team_id).filter(pk=user.pk).exists()


def people_seen_by(viewer: AbstractBaseUser) -> QuerySet:
    """Active people `viewer` may find in a people picker: everyone for those who read every
    card (staff, managers, dispatchers, observers: `TaskQuerySet.visible_to`'s rule); for
    anyone else herself and the people (members and managers) of her teams."""
    people = get_user_model().objects.filter(is_active=True)
    if viewer.is_anonymous:
        return people.none()
    if sees_all(viewer):
        return people
    her_teams = Team.objects.filter(Q(members=viewer) | Q(manager=viewer)).values("pk")
    return people.filter(
        Q(pk=viewer.pk)
        | Q(pk__in=Team.members.through.objects.filter(team__in=her_teams).values("user"))
        | Q(pk__in=Team.objects.filter(pk__in=her_teams).values("manager"))
    )


def can_comment(user: AbstractBaseUser, task: Task) -> bool:
    """Comment: whoever works the card, and anyone who may work cards and can see this one
    (its creator, a manager of another team asking about it). Observers only read."""
    if can_work(user, task):
        return True
    return user.has_perm("tasks.work_task") and can_view(user, task)


def can_assign(user: AbstractBaseUser, task: Task) -> bool:
    """Change owner, performers, approver, priority and request type: dispatchers and
    managers of the card's team. For many cards at once (a board's rows), `assign_right`:
    the same rule, read once per page."""
    if user.is_superuser:
        return True
    if not user.has_perm("tasks.assign_task"):
        return False
    return _leads_team(user, task)


@dataclass(frozen=True)
class TeamsOf:
    """The teams a user is in: those she is a member of and those she manages (`teams_of`),
    and whether they are every team there is."""

    member_of: frozenset[int]
    manages: frozenset[int]
    every_team: bool = False

    @property
    def all(self) -> frozenset[int]:
        return self.member_of | self.manages


_MEMBER, _MANAGER, _TEAM_COUNT = 0, 1, 2


def teams_of(user: AbstractBaseUser) -> TeamsOf:
    """The teams `user` is a member or the manager of, and whether they are all the teams, in
    one query (the screens' "My teams" and `assign_right`'s teams)."""
    if user.is_anonymous:
        return TeamsOf(frozenset(), frozenset())
    member_of = (
        Team.members.through.objects.filter(user=user)
        .annotate(row=Value(_MEMBER))
        .values_list("team_id", "row")
        .order_by()
    )
    manages = (
        Team.objects.filter(manager=user)
        .annotate(row=Value(_MANAGER))
        .values_list("pk", "row")
        .order_by()
    )
    count = (
        Team.objects.annotate(row=Value(_TEAM_COUNT))
        .values("row")
        .annotate(n=Count("pk"))
        .values_list("n", "row")
        .order_by()
    )
    rows = list(member_of.union(manages, count, all=True))
    teams = TeamsOf(
        member_of=frozenset(team for team, row in rows if row == _MEMBER),
        manages=frozenset(team for team, row in rows if row == _MANAGER),
    )
    how_many = next((n for n, row in rows if row == _TEAM_COUNT), 0)
    return replace(teams, every_team=bool(teams.all) and len(teams.all) == how_many)


def may_own_cards_of(user: AbstractBaseUser, team: Team | None) -> bool:
    """Whether `user` may make herself the owner of a card of `team` when she creates it
    without the right to assign (New card): a card of one of her teams (member or manager)
    or of no team. Who may work cards at all is `may_work_cards`'s rule, asked apart."""
    if user.is_superuser or team is None:
        return True
    return team.manager_id == user.pk or team.members.filter(pk=user.pk).exists()


@dataclass(frozen=True)
class AssignRight:
    """`can_assign` for many cards at once, from what is read once per page (`assign_right`):
    a board asks `allows(card)` of each row without a query per row. The same rule as `can_assign`
    (tests hold the two equal over a grid of users and cards)."""

    every_card: bool  # a superuser
    teamless: bool  # cards without a team: every holder of tasks.assign_task
    teams: frozenset[int]  # the teams she leads (`teams_led_by`)

    def allows(self, task: Task) -> bool:
        if self.every_card:
            return True
        if task.team_id is None:
            return self.teamless
        return task.team_id in self.teams

    def cards(self) -> Q:
        """The rule as a filter of cards (`assignable_cards`)."""
        if self.every_card:
            return Q()
        rule = Q(team__in=sorted(self.teams))
        if self.teamless:
            rule |= Q(team__isnull=True)
        return rule


def teams_led_by(user: AbstractBaseUser, teams: TeamsOf | None = None) -> frozenset[int]:
    """The teams whose cards `user` may assign (`_leads_team` for a holder of
    tasks.assign_task): those she manages and those she is a member of. Without
    tasks.assign_task, none. `teams`: `teams_of(user)` when already read."""
    if not user.has_perm("tasks.assign_task"):
        return frozenset()
    return (teams or teams_of(user)).all


def assign_right(user: AbstractBaseUser, teams: TeamsOf | None = None) -> AssignRight:
    """Which cards `user` may assign (`can_assign`), set-based: superusers every card; holders
    of tasks.assign_task the cards of the teams they lead and the cards without a team; anyone
    else none. At most one query (`teams_of`), none when `teams` is given or the answer does
    not depend on teams."""
    if user.is_superuser:
        return AssignRight(every_card=True, teamless=True, teams=frozenset())
    if not user.has_perm("tasks.assign_task"):
        return AssignRight(every_card=False, teamless=False, teams=frozenset())
    return AssignRight(every_card=False, teamless=True, teams=teams_led_by(user, teams))


def assignable_cards(user: AbstractBaseUser) -> QuerySet:
    """The cards `user` may assign, as a queryset (`assign_right` as a filter)."""
    right = assign_right(user)
    if not (right.every_card or right.teamless or right.teams):
        return Task.objects.none()
    return Task.objects.filter(right.cards())
