"""Recurring jobs, declared by each app beside its jobs and registered by `sync_schedules`.

Convention: an app that has recurring jobs lists them as `SCHEDULES` in its own `jobs.py`
(`sla/jobs.py`, `reports/jobs.py`), each a `ScheduleSpec` named "<app label>: what it does".
`collect()` finds them through the installed apps, so no app imports another to register its
jobs. The dotted name django-q2 calls comes from the function object, so a renamed or moved
job cannot leave a schedule pointing at nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from django.apps import AppConfig, apps
from django_q.models import Schedule


def dotted_name(func: Callable[..., object]) -> str:
    """The name django-q2 imports a job by: module and qualified name of the function."""
    return f"{func.__module__}.{func.__qualname__}"


@dataclass(frozen=True)
class ScheduleSpec:
    """One recurring job: every `minutes` minutes, or on a `cron` line (one of the two).

    A new schedule on minutes first runs at the next full minute, not at once (each deploy
    would fire it); a new cron schedule first runs at its next slot (a weekly digest is not
    sent straight after the first deploy)."""

    name: str
    func: Callable[..., object]
    minutes: int | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if (self.minutes is None) == (self.cron is None):
            raise ValueError(f"{self.name}: give either minutes or cron")

    @property
    def dotted_name(self) -> str:
        return dotted_name(self.func)

    @property
    def schedule_type(self) -> str:
        return Schedule.CRON if self.cron is not None else Schedule.MINUTES

    def fields(self) -> dict[str, object]:
        """The values of its django-q2 Schedule row (besides the name and next_run)."""
        return {
            "func": self.dotted_name,
            "schedule_type": self.schedule_type,
            "minutes": self.minutes,
            "cron": self.cron,
        }


def jobs_module(app: AppConfig) -> ModuleType | None:
    """The app's `jobs` module, or None if it has none (an error inside one is raised)."""
    name = f"{app.name}.jobs"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None
        raise


def collect() -> dict[str, list[ScheduleSpec]]:
    """Every installed app's declared schedules, by app label: apps whose `jobs` module has
    a `SCHEDULES` list (an app that drops its last schedule keeps `SCHEDULES = []`, so
    `sync_schedules` removes the old one)."""
    found: dict[str, list[ScheduleSpec]] = {}
    names: set[str] = set()
    for app in apps.get_app_configs():
        module = jobs_module(app)
        if module is None or not hasattr(module, "SCHEDULES"):
            continue
        specs = list(module.SCHEDULES)
        for spec in specs:
            if not spec.name.startswith(f"{app.label}: "):
                raise ValueError(f"{spec.name!r}: schedules of {app.label} start '{app.label}: '")
            if spec.name in names:
                raise ValueError(f"{spec.name!r}: declared twice")
            names.add(spec.name)
        found[app.label] = specs
    return found
