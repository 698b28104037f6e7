"""`manage.py import_cards`: good rows are replayed through the action layer with their real
timestamps; bad rows are reported by line number and leave nothing behind."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reports.models import CardFacts
from sla.models import SlaTimer, TimerState
from tasks.models import RelatedObject, Status, Task, TaskEvent
from tests.reports.conftest import H, berlin

pytestmark = pytest.mark.django_db

HEADER = "title,request_type,priority,created_at,owner,team,client,first_response_at,resolved_at\n"


def run(tmp_path, body: str, header: str = HEADER) -> tuple[str, str, CommandError | None]:
    path = tmp_path / "cards.csv"
    path.write_text(header + body, encoding="utf-8")
    out, err = StringIO(), StringIO()
    try:
        call_command("import_cards", str(path), stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def test_a_good_row_replays_its_history_with_real_timestamps(
    tmp_path, policies, support, performer
):
    out, err, error = run(
        tmp_path,
        "Printer jam,Support,high,2026-11-16 09:00,paula,,ACME,2026-11-16 09:20,2026-11-16 10:00\n",
    )

    assert error is None and err == ""
    assert "Imported 1 card(s)." in out
    task = Task.objects.get(title="Printer jam")
    assert (task.status, task.owner, task.priority) == (Status.DONE, performer, "high")
    assert task.created_at == berlin(2026, 11, 16, 9)
    assert task.first_response_at == berlin(2026, 11, 16, 9, 20)
    assert task.resolved_at == berlin(2026, 11, 16, 10)
    assert task.related_object == RelatedObject.objects.get(name="ACME")
    kinds = list(task.events.values_list("kind", flat=True))
    assert kinds == [TaskEvent.Kind.CREATED, TaskEvent.Kind.STATUS_CHANGED,
                     TaskEvent.Kind.STATUS_CHANGED]  # fmt: skip
    resolution = SlaTimer.objects.get(task=task, kind="resolution")
    assert (resolution.state, resolution.consumed) == (TimerState.MET, H)
    assert CardFacts.objects.get(task=task).resolution_business == H  # ready to calibrate


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("X,Support,,2026-02-30 09:00,,,,,", "created_at '2026-02-30 09:00' is not a date"),
        ("X,Support,,yesterday,,,,,", "is not a date and time"),
        ("X,Nope,,2026-11-16 09:00,,,,,", "Unknown request type 'Nope'"),
        ("X,Support,,2026-11-16 09:00,ghost,,,,", "Unknown user 'ghost'"),
        ("X,Support,,2026-11-16 09:00,,Nowhere,,,", "Unknown team 'Nowhere'"),
        ("X,Support,urgent,2026-11-16 09:00,,,,,", "Unknown priority 'urgent'"),
        ("X,Support,,2026-11-16 09:00,paula,,,2026-11-15 09:00,", "before created_at"),
        ("X,Support,,2026-11-16 09:00,,,,,2026-11-16 10:00", "needs an owner"),
        ("X,Support,,2999-01-01 09:00,,,,,", "lies in the future"),
        (",Support,,2026-11-16 09:00,,,,,", "The title is empty"),
    ],
)
def test_a_bad_row_is_reported_with_its_line_and_writes_nothing(
    tmp_path, policies, support, performer, row, message
):
    out, err, error = run(
        tmp_path,
        "Good one,Support,,2026-11-16 09:00,,,,,\n"
        f"{row}\n"
        "Good two,Support,,2026-11-16 10:00,paula,,NewCo,2026-11-16 11:00,\n",
    )

    assert err.startswith("line 3: ") and message in err
    assert "1 row(s) rejected" in str(error)
    assert "Imported 2 card(s)." in out
    assert sorted(Task.objects.values_list("title", flat=True)) == ["Good one", "Good two"]
    assert not RelatedObject.objects.exclude(name="NewCo").exists()


def test_a_rejected_row_leaves_no_client_behind(tmp_path, policies, support, performer):
    _, err, error = run(tmp_path, "X,Support,,2026-11-16 09:00,ghost,,Lonely Ltd,,\n")
    assert error is not None
    assert "line 2: Unknown user 'ghost'" in err
    assert not RelatedObject.objects.filter(name="Lonely Ltd").exists()
    assert not Task.objects.exists()


def test_a_file_without_the_required_columns_is_refused_before_anything(tmp_path, support):
    _, _, error = run(tmp_path, "Printer,Support\n", header="title,request_type\n")
    assert "lacks the column(s) created_at" in str(error)
    assert not Task.objects.exists()


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_cards", str(tmp_path / "nope.csv"))


def test_importing_a_card_that_breached_long_ago_records_the_breach_but_tells_nobody(
    tmp_path, policies, support, performer, mailoutbox
):
    from sla.models import EscalationRule, Notification, SlaEvent, SlaPolicy

    standard = SlaPolicy.objects.get(name="Standard")
    EscalationRule.objects.create(
        policy=standard, trigger="breach", notify_owner=True, in_app=True, email=True
    )
    # High priority: 2 h resolution; done the next day, so breached while being replayed.
    _out, err, error = run(
        tmp_path,
        "Old fire,Support,high,2026-11-16 09:00,paula,,ACME,2026-11-16 09:20,2026-11-17 16:00\n",
    )

    assert error is None, err
    resolution = SlaTimer.objects.get(task__title="Old fire", kind="resolution")
    assert resolution.state == TimerState.BREACHED
    assert SlaEvent.objects.filter(timer=resolution, kind="breach").exists()
    assert not Notification.objects.exists()
    assert mailoutbox == []
