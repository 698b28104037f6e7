"""Per-card rules and their set-based versions: `can_assign` one card at a time and
`assign_right` / `assignable_cards` for a page, equal over a grid of users and cards."""

import pytest
from django.contrib.auth.models import Permission

from tasks import permissions
from tasks.models import Task, Team
from tests.factories import RequestTypeFactory, TeamFactory, UserFactory, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def grid(roles):
    """Users of every kind the assignment rule tells apart, and one card of team A, one of
    team B and one without a team."""

    def user(name, role=None, **extra):
        person = UserFactory(username=name, **extra)
        if role:
            person.groups.add(roles[role])
        return person

    users = {
        "superuser": user("root", is_superuser=True),
        "dispatcher_of_a": user("disp_a", "dispatcher"),
        "dispatcher_of_no_team": user("disp_none", "dispatcher"),
        "manager_of_a": user("man_a", "manager"),  # manages A, not a member
        "manager_of_nothing": user("man_none", "manager"),
        "team_manager_without_role": user("boss_b"),  # manages B, no tasks.assign_task
        "performer_of_a": user("perf_a", "performer"),
        "observer": user("obs", "observer"),
        "direct_assigner_of_b": user("direct_b"),  # tasks.assign_task given to the user
        "inactive_dispatcher_of_a": user("gone_a", "dispatcher", is_active=False),
        "manager_and_member_of_b": user("man_b", "manager"),
    }
    users["direct_assigner_of_b"].user_permissions.add(
        Permission.objects.get(content_type__app_label="tasks", codename="assign_task")
    )
    team_a = TeamFactory(name="A", manager=users["manager_of_a"])
    team_a.members.add(users["dispatcher_of_a"], users["performer_of_a"],
                       users["inactive_dispatcher_of_a"])  # fmt: skip
    team_b = TeamFactory(name="B", manager=users["team_manager_without_role"])
    team_b.members.add(users["direct_assigner_of_b"], users["manager_and_member_of_b"])
    kind = RequestTypeFactory(name="Anything")
    cards = {
        "card_of_a": make_task(actor=None, request_type=kind, team=team_a, title="A"),
        "card_of_b": make_task(actor=None, request_type=kind, team=team_b, title="B"),
        "card_of_no_team": make_task(actor=None, request_type=kind, title="None"),
    }
    assert cards["card_of_no_team"].team is None
    return users, cards


def test_the_set_based_assignment_rule_is_can_assign_over_a_grid_of_users_and_cards(grid):
    users, cards = grid
    answers = {}
    for user_name, user in users.items():
        user = type(user).objects.get(pk=user.pk)  # fresh: no permission cache
        right = permissions.assign_right(user)
        assignable = set(permissions.assignable_cards(user).values_list("pk", flat=True))
        for card_name, card in cards.items():
            card = Task.objects.select_related("team").get(pk=card.pk)
            one = permissions.can_assign(user, card)
            assert right.allows(card) is one, (user_name, card_name)
            assert (card.pk in assignable) is one, (user_name, card_name)
            answers[user_name, card_name] = one
    # What the rule says, spelt out for a few: the grid is not all True or all False.
    assert all(answers["superuser", card] for card in cards)
    assert [answers["dispatcher_of_a", c] for c in cards] == [True, False, True]
    assert [answers["dispatcher_of_no_team", c] for c in cards] == [False, False, True]
    assert [answers["manager_of_a", c] for c in cards] == [True, False, True]
    assert [answers["team_manager_without_role", c] for c in cards] == [False, False, False]
    assert [answers["direct_assigner_of_b", c] for c in cards] == [False, True, True]
    assert not any(answers["performer_of_a", card] for card in cards)
    assert not any(answers["observer", card] for card in cards)
    assert not any(answers["inactive_dispatcher_of_a", card] for card in cards)


def test_teams_of_reads_membership_and_management_in_one_query(grid, django_assert_num_queries):
    users, _ = grid
    a, b = Team.objects.get(name="A"), Team.objects.get(name="B")
    b.members.add(users["manager_of_a"])
    with django_assert_num_queries(1):
        teams = permissions.teams_of(users["manager_of_a"])
    assert (teams.member_of, teams.manages, teams.all) == ({b.pk}, {a.pk}, {a.pk, b.pk})
    assert teams.every_team  # A and B are all the teams there are
    assert not permissions.teams_of(users["dispatcher_of_a"]).every_team
    assert permissions.teams_of(users["observer"]) == permissions.TeamsOf(frozenset(), frozenset())
    # Led teams: with tasks.assign_task, all of them; without, none.
    assert permissions.teams_led_by(users["manager_of_a"]) == {a.pk, b.pk}
    assert permissions.teams_led_by(users["team_manager_without_role"]) == frozenset()


def test_may_own_cards_of_her_teams_or_of_no_team(grid):
    users, _ = grid
    a, b = Team.objects.get(name="A"), Team.objects.get(name="B")
    performer = users["performer_of_a"]
    assert permissions.may_own_cards_of(performer, a)
    assert permissions.may_own_cards_of(performer, None)
    assert not permissions.may_own_cards_of(performer, b)
    assert permissions.may_own_cards_of(users["team_manager_without_role"], b)
    assert permissions.may_own_cards_of(users["superuser"], b)
