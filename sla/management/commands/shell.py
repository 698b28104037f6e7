"""Django's `shell`, with the settings' historical models auto-imported from where they live.

django-simple-history names a historical model's module after the app (`sla`) when the model
sits in a package (`sla.models.calendar`), so Django 5.2's auto-import could not find them
and said so at every start (django-simple-history issue #1479). They are importable from the
module of the model they record.
"""

from __future__ import annotations

import sys

from django.apps import apps
from django.core.management.commands import shell


class Command(shell.Command):
    def get_auto_imports(self) -> list[str] | None:
        paths = super().get_auto_imports()
        if paths is None:
            return None
        return [_importable(path) for path in paths]


def _importable(path: str) -> str:
    """`app.HistoricalX` as the module that holds it (`app.models.<module>.HistoricalX`)."""
    module, _, name = path.rpartition(".")
    if not name.startswith("Historical") or module not in apps.app_configs:
        return path
    prefix = f"{apps.get_app_config(module).name}.models"
    for loaded_name, loaded in list(sys.modules.items()):
        if loaded_name.startswith(prefix) and hasattr(loaded, name):
            return f"{loaded_name}.{name}"
    return path
