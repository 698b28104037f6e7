"""`manage.py sync_schedules` registers the recurring jobs every app declares in its jobs.py
with django-q2, idempotently."""

from __future__ import annotations

import ast
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.utils.module_loading import import_string
from django_q.models import Schedule

import reports.jobs
import sla
import sla.jobs
import tasks.jobs
from sla import escalation, schedules
from sla.schedules import ScheduleSpec
from tests.sla.conftest import MON, berlin

SCHEDULES = [spec for specs in schedules.collect().values() for spec in specs]

pytestmark = pytest.mark.django_db

FIELDS = ("name", "func", "schedule_type", "minutes", "cron", "repeats", "next_run", "kwargs")
SLA_JOBS = {
    "sla: scan due timers": "sla.jobs.scan_due_timers",
    "sla: deliver notifications": "sla.jobs.send_pending_notifications",
}


def sync(at) -> str:
    out = StringIO()
    with time_machine.travel(at, tick=False):
        call_command("sync_schedules", stdout=out)
    return out.getvalue()


def rows() -> list[tuple]:
    return list(Schedule.objects.order_by("name").values_list(*FIELDS))


def test_running_twice_leaves_one_row_per_job_with_unchanged_values():
    first = sync(berlin(*MON, 10, 0, 30))
    before = rows()
    second = sync(berlin(*MON, 10, 7, 45))

    assert rows() == before
    assert len(before) == len(SCHEDULES)
    assert first.count("Created") == len(SCHEDULES)
    assert second.count("Up to date") == len(SCHEDULES)
    sla = {s.name: s for s in Schedule.objects.filter(name__in=SLA_JOBS)}
    assert {name: s.func for name, s in sla.items()} == SLA_JOBS
    for schedule in sla.values():
        assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (
            Schedule.MINUTES,
            1,
            -1,
        )


def test_first_run_of_the_sla_jobs_is_the_next_minute_not_now():
    sync(berlin(*MON, 10, 0, 30))

    next_runs = {s.next_run for s in Schedule.objects.filter(name__in=SLA_JOBS)}
    assert next_runs == {berlin(*MON, 10, 1)}


def test_first_run_of_a_cron_schedule_is_its_next_slot_not_the_next_minute():
    now = berlin(*MON, 10, 0, 30)
    sync(now)

    for schedule in Schedule.objects.filter(schedule_type=Schedule.CRON):
        with time_machine.travel(now, tick=False):
            assert schedule.next_run == schedule.calculate_next_run()
        assert schedule.next_run > berlin(*MON, 10, 1)


def test_a_changed_schedule_is_put_back_and_keeps_its_next_run():
    sync(berlin(*MON, 10, 0, 30))
    Schedule.objects.filter(name="sla: scan due timers").update(minutes=15)

    sync(berlin(*MON, 11))

    scan = Schedule.objects.get(name="sla: scan due timers")
    assert scan.minutes == 1
    assert scan.next_run == berlin(*MON, 10, 1)


def test_old_sla_schedules_are_removed_and_others_left_alone():
    Schedule.objects.create(name="sla: old nightly job", func="sla.jobs.gone")
    Schedule.objects.create(name="housekeeping", func="django.core.management.call_command")

    out = sync(berlin(*MON, 10))

    assert "Removed 1 old schedule(s)." in out
    names = set(Schedule.objects.values_list("name", flat=True))
    assert names == {s.name for s in SCHEDULES} | {"housekeeping"}


def test_old_schedules_of_any_app_that_declares_schedules_are_removed():
    Schedule.objects.create(name="reports: monthly digest", func="reports.jobs.gone")
    Schedule.objects.create(name="axes: something by hand", func="axes.gone")

    out = sync(berlin(*MON, 10))

    assert "Removed 1 old schedule(s)." in out
    assert Schedule.objects.filter(name="axes: something by hand").exists()


def test_each_app_declares_its_own_schedules_in_its_jobs_module():
    declared = schedules.collect()

    assert declared == {
        "sla": sla.jobs.SCHEDULES,
        "reports": reports.jobs.SCHEDULES,
        "tasks": tasks.jobs.SCHEDULES,
    }
    assert [s.name for s in declared["tasks"]] == ["tasks: forget old idempotency keys"]
    assert [s.name for s in declared["sla"]] == list(SLA_JOBS)
    assert {s.name for s in declared["reports"]} == {
        "reports: refresh derived tables",
        "reports: weekly review digest",
    }


def test_every_registered_dotted_name_imports_the_declared_job():
    sync(berlin(*MON, 10))

    for spec in SCHEDULES:
        func = Schedule.objects.get(name=spec.name).func
        assert func == f"{spec.func.__module__}.{spec.func.__qualname__}"
        assert import_string(func) is spec.func and callable(spec.func)


def test_the_reports_schedules_are_registered_though_sla_imports_nothing_of_reports():
    sync(berlin(*MON, 10))

    registered = set(Schedule.objects.values_list("func", flat=True))
    assert {"reports.jobs.refresh_report_tables", "reports.jobs.send_weekly_digest"} <= registered
    for path in Path(sla.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            assert not any(m.split(".")[0] == "reports" for m in modules), path


def test_a_schedule_runs_every_so_many_minutes_or_on_a_cron_line_not_both():
    def job() -> None:
        pass

    with pytest.raises(ValueError, match="either minutes or cron"):
        ScheduleSpec("sla: both", job, minutes=5, cron="0 7 * * 1")
    with pytest.raises(ValueError, match="either minutes or cron"):
        ScheduleSpec("sla: neither", job)


def test_the_delivery_a_scan_enqueues_by_name_is_the_scheduled_job(monkeypatch):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, **kw: queued.append(func))

    escalation.enqueue_delivery()

    assert [import_string(func) for func in queued] == [sla.jobs.send_pending_notifications]


@pytest.mark.parametrize(
    ("name", "error"),
    [("scan due timers", "start 'sla: '"), ("sla: deliver notifications", "declared twice")],
)
def test_a_schedule_must_be_named_after_its_app_and_only_once(monkeypatch, name, error):
    extra = ScheduleSpec(name, sla.jobs.scan_due_timers, minutes=1)
    real = schedules.jobs_module

    def with_extra(app):
        module = real(app)
        if app.label != "sla":
            return module
        return type("Jobs", (), {"SCHEDULES": [*module.SCHEDULES, extra]})

    monkeypatch.setattr(schedules, "jobs_module", with_extra)
    with pytest.raises(ValueError, match=error):
        schedules.collect()
