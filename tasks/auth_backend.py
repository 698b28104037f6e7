"""Authentication: Django's ModelBackend, with a user's permissions and role groups read in
one query instead of three.

ModelBackend reads the user's own permissions and their groups' permissions in two queries
(cached on the user object for the request), and `tasks.queries.sees_all` asked for the
user's groups in a third. Every dashboard needs all three, so they are one `UNION ALL` here,
cached on the user object under ModelBackend's own attribute names: the semantics stay
ModelBackend's (superusers hold every permission, inactive and anonymous users none, object
permissions none), only the number of round trips changes.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.db import connection

# What each row of the one query is: a permission held directly, through a group, or (for
# superusers) any permission; or the name of one of the user's groups.
_USER, _GROUP, _ANY, _ROLE = "u", "g", "a", "r"

# The one query, as SQL: it is asked on every request that checks a permission (every API
# call), and building it from three annotated querysets and their union cost more CPU than
# the database took to answer it. Rows (tag, first, second): a group's name, or a
# permission's app label and codename.
_GROUPS = """
    SELECT %s, g.name, '' FROM auth_group g
    JOIN auth_user_groups ug ON ug.group_id = g.id WHERE ug.user_id = %s"""
_PERMISSION = """
    SELECT %s, ct.app_label, p.codename FROM auth_permission p
    JOIN django_content_type ct ON ct.id = p.content_type_id"""
_ROLES_SQL = f"""{_GROUPS}
    UNION ALL {_PERMISSION}
    JOIN auth_user_user_permissions up ON up.permission_id = p.id WHERE up.user_id = %s
    UNION ALL {_PERMISSION}
    JOIN auth_group_permissions gp ON gp.permission_id = p.id
    JOIN auth_user_groups ugp ON ugp.group_id = gp.group_id WHERE ugp.user_id = %s"""
_SUPERUSER_ROLES_SQL = f"{_GROUPS} UNION ALL {_PERMISSION}"


def _role_rows(user) -> list[tuple[str, str, str]]:
    with connection.cursor() as cursor:
        if user.is_superuser:
            cursor.execute(_SUPERUSER_ROLES_SQL, [_ROLE, user.pk, _ANY])
        else:
            cursor.execute(_ROLES_SQL, [_ROLE, user.pk, _USER, user.pk, _GROUP, user.pk])
        return cursor.fetchall()


def load_roles(user) -> None:
    """Read the user's permissions (own and through groups) and group names in one query,
    and cache them on the user object as ModelBackend caches permissions."""
    own, through_groups, roles = set(), set(), set()
    for source, first, second in _role_rows(user):
        if source == _ROLE:
            roles.add(first)
            continue
        perm = f"{first}.{second}"
        if source in (_USER, _ANY):
            own.add(perm)
        if source in (_GROUP, _ANY):
            through_groups.add(perm)
    user._user_perm_cache = own
    user._group_perm_cache = through_groups
    user._role_names_cache = frozenset(roles)


def role_names(user) -> frozenset[str]:
    """The names of the user's groups, read with their permissions (one query per request,
    none when permissions were already checked)."""
    if user.is_anonymous:
        return frozenset()
    if not hasattr(user, "_role_names_cache"):
        load_roles(user)
    return user._role_names_cache


class RoleBackend(ModelBackend):
    """ModelBackend whose permission reads are one query (with the group names)."""

    def _get_permissions(self, user_obj, obj, from_name):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        perm_cache_name = f"_{from_name}_perm_cache"
        if not hasattr(user_obj, perm_cache_name):
            load_roles(user_obj)
        return getattr(user_obj, perm_cache_name)
