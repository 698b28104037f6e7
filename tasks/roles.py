"""Role groups and their model permissions, created idempotently (migrations and make run)."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "manager": [
        "tasks.view_task",
        "tasks.add_task",
        "tasks.assign_task",
        "tasks.work_task",
        "tasks.approve_task",
        "tasks.view_taskevent",
        "sla.view_slatimer",
        "sla.view_slapolicy",
        # Managers set their targets from calibration (one click on the calibration page).
        "sla.add_slatarget",
        "sla.change_slatarget",
        "reports.view_reports",
    ],
    "dispatcher": [
        "tasks.view_task",
        "tasks.add_task",
        "tasks.assign_task",
        "tasks.work_task",
        "sla.view_slatimer",
    ],
    "performer": ["tasks.view_task", "tasks.add_task", "tasks.work_task", "sla.view_slatimer"],
    "observer": ["tasks.view_task", "sla.view_slatimer"],
}


def ensure_role_groups() -> dict[str, Group]:
    """Create the role groups and set exactly their permissions. Safe to run any number of
    times; returns the groups by name."""
    groups = {}
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
        groups[name] = group
    return groups
