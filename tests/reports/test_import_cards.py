"""`manage.py import_cards`: each row becomes the card, history, timers and threshold events
that replaying it through tasks.actions would leave (compared row for row below), written in
bulk in one transaction; a row imported before is left alone; the report tables follow.
Bad input: tests/reports/test_import_bad_input.py."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.forms.models import model_to_dict

from reports import rollup
from reports.models import CardFacts, ImportedCard, StageInterval
from sla.escalation import replaying_history
from sla.models import (
    EscalationRule,
    Notification,
    SlaEvent,
    SlaPause,
    SlaRetarget,
    SlaTimer,
    TimerState,
)
from tasks import actions
from tasks.models import Priority, RelatedObject, RequestType, Status, Task, TaskEvent, Team
from tests.reports.conftest import H, _policy, berlin

pytestmark = pytest.mark.django_db

HEADER = "title,request_type,priority,created_at,owner,team,client,first_response_at,resolved_at\n"


class Terminal(StringIO):
    """An output that says it is a terminal, as a shell's stderr does."""

    def isatty(self) -> bool:
        return True


def run(tmp_path, body: str, header: str = HEADER, *args: str, stderr=None):
    path = tmp_path / "cards.csv"
    path.write_text(header + body, encoding="utf-8")
    out, err = StringIO(), stderr if stderr is not None else StringIO()
    try:
        call_command("import_cards", str(path), *args, stdout=out, stderr=err)
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
    assert out.startswith("1 created, 0 unchanged (imported before): 1 row(s) in ")
    assert "Report tables refreshed (1 card(s))." in out
    task = Task.objects.get(title="Printer jam")
    assert (task.status, task.owner, task.priority) == (Status.DONE, performer, "high")
    assert task.created_at == berlin(2026, 11, 16, 9)
    assert task.first_response_at == berlin(2026, 11, 16, 9, 20)
    assert task.resolved_at == berlin(2026, 11, 16, 10)
    assert task.related_object == RelatedObject.objects.get(name="ACME")
    assert task.related_object.root_id == task.related_object.pk
    kinds = list(task.events.values_list("kind", flat=True))
    assert kinds == [TaskEvent.Kind.CREATED, TaskEvent.Kind.STATUS_CHANGED,
                     TaskEvent.Kind.STATUS_CHANGED]  # fmt: skip
    resolution = SlaTimer.objects.get(task=task, kind="resolution")
    assert (resolution.state, resolution.consumed) == (TimerState.MET, H)
    assert CardFacts.objects.get(task=task).resolution_business == H  # ready to calibrate


def test_importing_a_card_that_breached_long_ago_records_the_breach_but_tells_nobody(
    tmp_path, policies, support, performer, mailoutbox
):
    standard = policies[0]
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


# --- The same rows through the actions, one change at a time (the importer before issue 12) --

ROWS = [
    # title, type, priority, created, owner, team, client, first response, resolved
    ("Open new", "Support", "normal", (16, 9), None, None, "", None, None),
    ("Open assigned", "Support", "high", (16, 10), "paula", None, "ACME", None, None),
    ("Responded", "Support", "normal", (16, 9), "paula", None, "", (16, 9, 20), None),
    ("Done fast", "Support", "normal", (16, 9), "paula", None, "ACME", (16, 9, 20), (16, 10)),
    ("Done late", "Support", "high", (16, 9), "paula", None, "NewCo", (16, 11), (17, 16)),
    ("Done directly", "Support", "normal", (16, 9), "paula", None, "", None, (16, 15)),
    ("No SLA", "Support", "low", (16, 9), "paula", None, "", (16, 9, 5), (18, 9)),
    ("Lead", "Sales lead", "normal", (16, 9), "paula", None, "", (16, 12), (17, 11)),
    ("Field", "Field work", "normal", (16, 9), "paula", None, "", (16, 14), (17, 10)),
    ("Field open", "Field work", "normal", (16, 9), "paula", None, "", None, None),
    ("Other team", "Support", "normal", (18, 9), "paula", "Sales", "ACME", (18, 9, 30), None),
]


def _when(day_time):
    return berlin(2026, 11, *day_time) if day_time else None


def _csv(rows) -> str:
    def text(value):
        return "" if value is None else value

    return "".join(
        ",".join([t, rt, p, f"{_when(c):%Y-%m-%d %H:%M}", text(o), text(tm), cl,
                  f"{_when(r):%Y-%m-%d %H:%M}" if r else "",
                  f"{_when(d):%Y-%m-%d %H:%M}" if d else ""]) + "\n"
        for t, rt, p, c, o, tm, cl, r, d in rows
    )  # fmt: skip


def _through_actions(rows) -> None:
    """What `import_cards` did before the bulk path: create_task, then change_status at the
    first response and at the resolution, each row in its own transaction, replaying."""
    from django.contrib.auth.models import User

    with replaying_history():
        for title, rtype, priority, created, owner, team, client, responded, resolved in rows:
            with transaction.atomic():
                user = User.objects.get(username=owner) if owner else None
                related = None
                if client:
                    related, _ = RelatedObject.objects.get_or_create(
                        kind=RelatedObject.Kind.CLIENT, name=client, parent=None
                    )
                task = actions.create_task(
                    title=title,
                    request_type=RequestType.objects.get(name=rtype),
                    priority=priority,
                    actor=None,
                    owner=user,
                    team=Team.objects.get(name=team) if team else None,
                    related_object=related,
                    at=_when(created),
                )
                if responded:
                    actions.change_status(
                        task=task, to=Status.IN_PROGRESS, actor=user, at=_when(responded)
                    )
                if resolved:
                    actions.change_status(task=task, to=Status.DONE, actor=user, at=_when(resolved))


def _snapshot() -> dict:
    """Everything a card leaves behind, keyed by card title instead of ids."""
    title = dict(Task.objects.values_list("pk", "title"))

    def rows(queryset, card_of, exclude=()):
        out = []
        for obj in queryset:
            values = model_to_dict(obj, exclude=["id", *exclude])
            out.append((title[card_of(obj)], sorted(values.items(), key=str)))
        return sorted(out, key=str)

    def by_timer(model):
        return rows(model.objects.select_related("timer"), lambda o: o.timer.task_id, ["timer"])

    return {
        "cards": rows(Task.objects.all(), lambda o: o.pk, ["performers", "observers"]),
        "events": rows(TaskEvent.objects.all(), lambda o: o.task_id, ["task", "comment"]),
        "timers": rows(SlaTimer.objects.all(), lambda o: o.task_id, ["task", "updated_at"]),
        "sla events": by_timer(SlaEvent),
        "pauses": by_timer(SlaPause),
        "retargets": by_timer(SlaRetarget),
        "facts": rows(CardFacts.objects.all(), lambda o: o.task_id,
                      ["task", "computed_at", "timers_seen"]),
        "stages": rows(StageInterval.objects.all(), lambda o: o.task_id, ["task"]),
        "notifications": Notification.objects.count(),
        "clients": sorted(RelatedObject.objects.values_list("name", "root__name")),
    }  # fmt: skip


@pytest.fixture
def varied_policies(policies, office, support, request_type, team, performer):
    """Standard (with warning, breach, after-breach and a rule action), Leads observe, and
    a Field work policy whose clocks pause while a card is assigned."""
    standard = policies[0]
    EscalationRule.objects.create(policy=standard, trigger="warning", in_app=True)
    EscalationRule.objects.create(
        policy=standard, trigger="breach", email=True, action=EscalationRule.Action.RAISE_PRIORITY
    )
    EscalationRule.objects.create(policy=standard, trigger="after_breach", minutes_after_breach=60)
    field = RequestType.objects.create(name="Field work")
    _policy("Field", office, {Priority.NORMAL: (2 * H, 6 * H)}, order=5, request_type=field,
            pausing_statuses=[Status.ASSIGNED])  # fmt: skip
    RelatedObject.objects.create(kind=RelatedObject.Kind.CLIENT, name="ACME")
    return policies


def test_the_bulk_import_leaves_exactly_what_replaying_through_the_actions_leaves(
    tmp_path, varied_policies, mailoutbox, support, performer
):
    support.default_team.members.add(performer)  # create_task gives her only her teams' cards
    _through_actions(ROWS)
    rollup.refresh()
    reference = _snapshot()
    Task.objects.all().delete()
    assert not SlaTimer.objects.exists() and not CardFacts.objects.exists()

    _out, err, error = run(tmp_path, _csv(ROWS))

    assert error is None, err
    assert _snapshot() == reference
    # The comparison covers what matters: breaches, escalations, pauses, observe, no SLA.
    kinds = {kind for _, values in reference["sla events"] for key, kind in values if key == "kind"}
    assert kinds == {"warning", "breach", "escalation"}
    assert reference["pauses"] and reference["facts"]
    assert {t for t, _ in reference["timers"]} == {t for t, *_ in ROWS} - {"No SLA"}
    assert reference["notifications"] == 0 and mailoutbox == []


# --- Re-importing, --partial, progress -----------------------------------------------------


def _counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Task, TaskEvent, SlaTimer, SlaEvent, ImportedCard))


GOOD = (
    "One,Support,,2026-11-16 09:00,,,,,\n"
    "Two,Support,high,2026-11-16 10:00,paula,,ACME,2026-11-16 11:00,2026-11-16 12:00\n"
    "Three,Support,,2026-11-16 10:00,paula,,,2026-11-16 11:00,\n"
)


def test_importing_the_same_rows_again_writes_nothing(tmp_path, policies, support, performer):
    out, err, error = run(tmp_path, GOOD)
    assert error is None, err
    assert out.startswith("3 created, 0 unchanged")
    after_first = _counts()
    facts = list(CardFacts.objects.order_by("task_id").values_list("task_id", "version"))

    out, err, error = run(tmp_path, GOOD)

    assert error is None, err
    assert out.startswith("0 created, 3 unchanged (imported before)")
    assert _counts() == after_first
    assert list(CardFacts.objects.order_by("task_id").values_list("task_id", "version")) == facts


def test_a_file_that_grew_imports_only_its_new_rows(tmp_path, policies, support, performer):
    run(tmp_path, GOOD)
    more = "Four,Support,low,2026-11-17 09:00,,,,,\n"

    out, err, error = run(tmp_path, GOOD.replace("\n", "\r\n") + more)  # re-saved on Windows

    assert error is None, err
    assert out.startswith("1 created, 3 unchanged")
    assert sorted(Task.objects.values_list("title", flat=True)) == ["Four", "One", "Three", "Two"]


def test_rows_with_a_ref_are_known_by_it(tmp_path, policies, support, performer):
    header = HEADER.replace("\n", ",ref\n")
    rows = (
        "Printer,Support,,2026-11-16 09:00,,,,,,T-1\nScanner,Support,,2026-11-16 09:00,,,,,,T-2\n"
    )
    run(tmp_path, rows, header)
    before = _counts()

    _, err, error = run(tmp_path, rows.replace("Printer", "Printer (edited)"), header)

    assert error is not None and "nothing was imported" in str(error)
    assert "line 2, ref: 'T-1' was imported before with other values" in err
    assert _counts() == before
    out, _, error = run(tmp_path, rows, header)
    assert error is None and out.startswith("0 created, 2 unchanged")


def test_partial_keeps_the_good_rows_lists_the_others_and_refreshes_the_reports(
    tmp_path, policies, support, performer
):
    body = GOOD + "Bad date,Support,,2026-13-01 09:00,,,,,\n" + "X,Nope,,2026-11-16 09:00,,,,,\n"

    out, err, error = run(tmp_path, body, HEADER, "--partial")

    assert error is None
    assert "line 5, created_at: '2026-13-01 09:00' is not a date and time" in err
    assert "line 6, request_type: unknown request type 'Nope'" in err
    assert out.startswith("3 created, 0 unchanged (imported before), 2 skipped (line 5, 6)")
    assert sorted(Task.objects.values_list("title", flat=True)) == ["One", "Three", "Two"]
    assert CardFacts.objects.count() == 3


def test_progress_is_shown_on_a_terminal_only(tmp_path, policies, support, performer):
    terminal = Terminal()
    _, shown, error = run(tmp_path, GOOD, HEADER, stderr=terminal)
    assert error is None
    assert "\rwriting: 3/3 cards (" in shown and "\rrefreshing the report tables…" in shown
    assert shown.endswith("\r")  # the status line is wiped before the summary
    assert "\n" not in shown

    Task.objects.all().delete()
    ImportedCard.objects.all().delete()
    _, plain, error = run(tmp_path, GOOD)
    assert error is None and plain == ""


def test_progress_counts_the_rows_checked_in_a_large_file(tmp_path, policies, support):
    body = "".join(f"Card {n},Support,,2026-11-16 09:00,,,,,\n" for n in range(2500))
    terminal = Terminal()

    out, shown, error = run(tmp_path, body, HEADER, stderr=terminal)

    assert error is None
    assert "\rchecking: 1,000 rows" in shown
    assert "\rwriting: 2,500/2,500 cards" in shown
    assert out.startswith("2500 created")
    assert SlaTimer.objects.filter(task__title="Card 2499").count() == 2


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_cards", str(tmp_path / "nope.csv"))


def test_an_unknown_timezone_or_actor_is_a_clear_error(tmp_path, support):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + GOOD)
    with pytest.raises(CommandError, match="Unknown timezone 'Mars/Base'"):
        call_command("import_cards", str(path), "--timezone", "Mars/Base")
    with pytest.raises(CommandError, match="Unknown user 'ghost'"):
        call_command("import_cards", str(path), "--actor", "ghost")
    assert not Task.objects.exists()


def test_times_without_an_offset_are_read_in_the_given_timezone(tmp_path, policies, support):
    path = tmp_path / "c.csv"
    path.write_text(
        HEADER + "Tokyo,Support,,2026-11-16 09:00,,,,,\nUTC,Support,,2026-11-16T09:00Z,,,,,\n"
    )
    call_command("import_cards", str(path), "--timezone", "Asia/Tokyo", stdout=StringIO())
    tokyo = Task.objects.get(title="Tokyo").created_at
    assert tokyo == berlin(2026, 11, 16, 9) - timedelta(hours=8)
    assert Task.objects.get(title="UTC").created_at == berlin(2026, 11, 16, 10)


@pytest.mark.postgresql(reason="two connections importing at once")
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_write_it_once(tmp_path, policies, support, performer):
    """Both check the file while neither has written (their key inserts wait on a lock held
    here), then one writes it and the other fails on the import key, writing nothing."""
    import threading
    import time

    from django.db import connection, connections

    path = tmp_path / "cards.csv"
    path.write_text(HEADER + GOOD)
    results: list[str] = []

    def run():
        try:
            call_command("import_cards", str(path), stdout=StringIO(), stderr=StringIO())
            results.append("imported")
        except CommandError as error:
            results.append(str(error))
        finally:
            connection.close()

    holder = connections.create_connection("default")
    try:
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute("LOCK TABLE reports_importedcard IN SHARE MODE")
            threads = [threading.Thread(target=run) for _ in range(2)]
            for thread in threads:
                thread.start()
            for _ in range(600):  # both wait to insert their keys: both checked the file
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted"
                    " AND relation = 'reports_importedcard'::regclass"
                )
                if cursor.fetchone()[0] == 2:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the imports never reached their key inserts")
        holder.rollback()
    finally:
        holder.close()
    for thread in threads:
        thread.join()

    assert sorted(results)[0].startswith("Another import wrote some of these rows meanwhile")
    assert sorted(results)[1] == "imported"
    assert Task.objects.count() == 3 and ImportedCard.objects.count() == 3
