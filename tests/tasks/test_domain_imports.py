"""The card domain imports nothing from the apps above it (sla, reports), not even inside a
function: sla follows cards through the card-change hook of tasks.actions instead."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TASKS = Path(__file__).resolve().parents[2] / "tasks"
DOMAIN = [
    "models.py",
    "states.py",
    *(f"actions/{path.name}" for path in sorted((TASKS / "actions").glob("*.py"))),
    "queries.py",
    "permissions.py",
    "roles.py",
    "auth_backend.py",
    "forms.py",
    "timeline.py",
    "admin.py",
    "demo.py",
    "demo_data.py",
    "middleware.py",
    "management/commands/setup_roles.py",
]
ABOVE = ("sla", "reports")


def imported_modules(source: str) -> list[str]:
    """Every module an `import` or `from … import` names, at any depth of the file."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("module", DOMAIN)
def test_the_card_domain_imports_nothing_from_sla_or_reports(module):
    imported = imported_modules((TASKS / module).read_text())
    above = [name for name in imported if name.split(".")[0] in ABOVE]
    assert above == [], f"tasks/{module} imports {above}"
    assert not any(name in ("importlib", "django.utils.module_loading") for name in imported)


def test_the_check_sees_an_import_inside_a_function():
    source = "def f():\n    from sla.actions import sync_timers\n"
    assert imported_modules(source) == ["sla.actions"]
