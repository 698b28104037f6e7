"""tasks.auth_backend.RoleBackend answers exactly as Django's ModelBackend, in one query."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.auth_backend import RoleBackend, role_names
from tasks.queries import sees_all
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()

PERMS = ["tasks.assign_task", "tasks.work_task", "sla.view_slatimer", "reports.view_reports",
         "auth.add_user", "tasks.delete_task"]  # fmt: skip


@pytest.fixture
def people(roles):
    direct = Permission.objects.get(content_type__app_label="tasks", codename="delete_task")
    also_in_group = Permission.objects.get(content_type__app_label="tasks", codename="work_task")
    users = {
        "nobody": UserFactory(username="nobody"),
        "direct": UserFactory(username="direct"),
        "performer": UserFactory(username="performer"),
        "two_groups_and_direct": UserFactory(username="both"),
        "inactive_manager": UserFactory(username="gone", is_active=False),
        "superuser": UserFactory(username="root", is_superuser=True),
        "inactive_superuser": UserFactory(username="oldroot", is_superuser=True, is_active=False),
        "staff": UserFactory(username="staff", is_staff=True),
    }
    users["direct"].user_permissions.add(direct)
    users["performer"].groups.add(roles["performer"])
    users["two_groups_and_direct"].groups.add(roles["performer"], roles["observer"])
    users["two_groups_and_direct"].user_permissions.add(direct, also_in_group)
    users["inactive_manager"].groups.add(roles["manager"])
    users["superuser"].groups.add(roles["dispatcher"])
    return users


def _answers(backend, user):
    return {
        "user": backend.get_user_permissions(user),
        "group": backend.get_group_permissions(user),
        "all": backend.get_all_permissions(user),
        "has": {perm: backend.has_perm(user, perm) for perm in PERMS},
        "module": {app: backend.has_module_perms(user, app) for app in ("tasks", "auth", "x")},
        "object": backend.get_all_permissions(user, obj=user),
    }


def test_every_answer_is_model_backends(people):
    for name, user in people.items():
        expected = _answers(ModelBackend(), User.objects.get(pk=user.pk))
        assert _answers(RoleBackend(), User.objects.get(pk=user.pk)) == expected, name
    # The cases differ from one another (the comparison above could not pass by accident).
    assert people["two_groups_and_direct"].has_perm("tasks.delete_task")
    assert RoleBackend().get_user_permissions(people["direct"]) == {"tasks.delete_task"}
    assert "tasks.work_task" in RoleBackend().get_group_permissions(people["performer"])
    assert RoleBackend().get_all_permissions(people["inactive_manager"]) == set()
    assert len(RoleBackend().get_all_permissions(people["superuser"])) == Permission.objects.count()


def test_permissions_and_role_groups_cost_one_query(people):
    user = User.objects.get(pk=people["two_groups_and_direct"].pk)
    with CaptureQueriesContext(connection) as captured:
        assert user.has_perm("tasks.work_task") and not user.has_perm("tasks.assign_task")
        assert role_names(user) == {"performer", "observer"}
        assert sees_all(user)
        assert user.has_perm("sla.view_slatimer")
    assert len(captured) == 1


def test_sees_all_by_role_staff_or_superuser(people, manager, dispatcher, performer):
    for user in (manager, dispatcher, people["staff"], people["superuser"]):
        assert sees_all(User.objects.get(pk=user.pk))
    for user in (performer, people["nobody"], people["direct"]):
        assert not sees_all(User.objects.get(pk=user.pk))
    assert role_names(AnonymousUser()) == frozenset()
