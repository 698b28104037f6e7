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
from django.contrib.auth.models import Group, Permission
from django.db.models import CharField, F, Value

# What each row of the one query is: a permission held directly, through a group, or (for
# superusers) any permission; or the name of one of the user's groups.
_USER, _GROUP, _ANY, _ROLE = "u", "g", "a", "r"


def _tagged(queryset, tag: str, first: str, second: str | None = None):
    """Rows (tag, first, second) of a queryset; `second` empty when not given."""
    return queryset.annotate(
        source=Value(tag, output_field=CharField()),
        second=F(second) if second else Value("", output_field=CharField()),
    ).values_list("source", first, "second")


def load_roles(user) -> None:
    """Read the user's permissions (own and through groups) and group names in one query,
    and cache them on the user object as ModelBackend caches permissions."""
    names = _tagged(Group.objects.filter(user=user), _ROLE, "name")
    if user.is_superuser:
        perms = [_tagged(Permission.objects.all(), _ANY, "content_type__app_label", "codename")]
    else:
        perms = [
            _tagged(Permission.objects.filter(user=user), _USER, "content_type__app_label",
                    "codename"),
            _tagged(Permission.objects.filter(group__user=user), _GROUP,
                    "content_type__app_label", "codename"),
        ]  # fmt: skip
    own, through_groups, roles = set(), set(), set()
    for source, first, second in names.order_by().union(*(p.order_by() for p in perms), all=True):
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
