"""The workflow: every change through tasks.actions, with typed history."""

from datetime import UTC, datetime

import pytest

from tasks import actions
from tasks.actions import TRANSITIONS, WorkflowError, core
from tasks.models import Priority, Status, Task, TaskEvent
from tasks.timeline import timeline
from tests.factories import (
    BlockingReasonFactory,
    RequestTypeFactory,
    TeamFactory,
    UserFactory,
    make_task,
)

Kind = TaskEvent.Kind
pytestmark = pytest.mark.django_db


def kinds(task):
    return list(task.events.values_list("kind", flat=True))


def test_a_card_without_owner_starts_new_and_with_owner_starts_assigned(dispatcher, performer):
    unowned = make_task(actor=dispatcher)
    owned = make_task(actor=dispatcher, owner=performer)
    assert unowned.status == Status.NEW
    assert owned.status == Status.ASSIGNED
    assert kinds(owned) == [Kind.CREATED]
    created = owned.events.get()
    assert created.new_value["owner"] == performer.pk
    assert created.new_value["priority"] == "normal"


def test_team_defaults_to_the_request_types_team(dispatcher, request_type, team):
    task = make_task(actor=dispatcher, request_type=request_type)
    assert task.team == team


def test_assigning_an_owner_to_a_new_card_moves_it_to_assigned(dispatcher, performer):
    task = make_task(actor=dispatcher)
    actions.assign_owner(task=task, owner=performer, actor=dispatcher)
    task.refresh_from_db()
    assert task.status == Status.ASSIGNED
    changed = task.events.get(kind=Kind.OWNER_CHANGED)
    assert (changed.old_value, changed.new_value, changed.actor) == (None, performer.pk, dispatcher)
    status = task.events.get(kind=Kind.STATUS_CHANGED)
    assert (status.old_value, status.new_value) == ("new", "assigned")


def test_only_a_new_card_may_lose_its_owner(dispatcher, performer):
    task = make_task(actor=dispatcher, owner=performer)
    with pytest.raises(WorkflowError, match="Only a new card"):
        actions.assign_owner(task=task, owner=None, actor=dispatcher)


def test_an_owner_must_be_in_the_cards_team_whoever_assigns(
    dispatcher, manager, performer, outsider, request_type
):
    task = make_task(actor=dispatcher, request_type=request_type)
    message = "Otto Outsider is not in Sales: choose one of Sales's people as the owner"
    with pytest.raises(WorkflowError, match=message):
        actions.assign_owner(task=task, owner=outsider, actor=dispatcher)
    with pytest.raises(WorkflowError, match=message):
        actions.assign_people(task=task, owner=outsider, performers=[], approver=None,
                              actor=dispatcher)  # fmt: skip
    task.refresh_from_db()
    assert (task.owner, task.status, kinds(task)) == (None, Status.NEW, [Kind.CREATED])
    with pytest.raises(WorkflowError, match=message):
        make_task(actor=dispatcher, request_type=request_type, owner=outsider, title="Theirs")
    assert not Task.objects.filter(title="Theirs").exists()
    # Its team's manager may own it, and any worker a card of no team.
    actions.assign_owner(task=task, owner=manager, actor=dispatcher)
    loose = make_task(actor=dispatcher, request_type=RequestTypeFactory(name="Loose"),
                      owner=outsider)  # fmt: skip
    assert (task.owner, loose.owner) == (manager, outsider)


def test_a_card_handed_to_another_team_keeps_its_owner(dispatcher, performer, request_type):
    task = make_task(actor=dispatcher, request_type=request_type, owner=performer)
    actions.change_team(task=task, team=TeamFactory(name="Legal"), actor=dispatcher)
    task.refresh_from_db()
    assert (task.team.name, task.owner) == ("Legal", performer)


def test_waiting_requires_a_blocking_reason_and_leaving_clears_it(performer):
    task = make_task(actor=performer, owner=performer)
    with pytest.raises(WorkflowError, match="blocking reason"):
        actions.change_status(task=task, to=Status.WAITING, actor=performer)
    reason = BlockingReasonFactory(name="Waiting for customer")
    actions.change_status(task=task, to=Status.WAITING, actor=performer, blocking_reason=reason)
    assert task.blocking_reason == reason
    actions.change_status(task=task, to=Status.IN_PROGRESS, actor=performer)
    task.refresh_from_db()
    assert task.blocking_reason is None
    assert kinds(task)[-4:] == [
        Kind.STATUS_CHANGED,
        Kind.BLOCKING_REASON_SET,
        Kind.STATUS_CHANGED,
        Kind.BLOCKING_REASON_CLEARED,
    ]


def test_an_inactive_blocking_reason_cannot_be_chosen(performer):
    task = make_task(actor=performer, owner=performer)
    retired = BlockingReasonFactory(name="Old reason", active=False)
    with pytest.raises(WorkflowError, match="no longer in use"):
        actions.change_status(task=task, to="waiting", actor=performer, blocking_reason=retired)


def test_a_blocking_reason_outside_waiting_is_refused(performer):
    task = make_task(actor=performer, owner=performer)
    reason = BlockingReasonFactory()
    with pytest.raises(WorkflowError, match="only when the card is waiting"):
        actions.change_status(task=task, to="in_progress", actor=performer, blocking_reason=reason)


@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s in Status for t in Status if s != t and t not in TRANSITIONS[s]],
)
def test_every_move_outside_the_transition_table_is_refused(performer, source, target):
    task = make_task(actor=performer, owner=performer)
    task.status = source  # arrange the starting point directly; the move under test is real
    task.save()
    with pytest.raises(WorkflowError, match="cannot move"):
        actions.change_status(task=task, to=target, actor=performer)
    task.refresh_from_db()
    assert task.status == source


def test_leaving_new_needs_an_owner_but_cancelling_does_not(dispatcher):
    task = make_task(actor=dispatcher)
    with pytest.raises(WorkflowError, match="Assign an owner"):
        actions.change_status(task=task, to=Status.IN_PROGRESS, actor=dispatcher)
    actions.change_status(task=task, to=Status.CANCELLED, actor=dispatcher)
    assert task.status == Status.CANCELLED


def test_an_unknown_status_is_a_workflow_error(performer):
    task = make_task(actor=performer, owner=performer)
    with pytest.raises(WorkflowError, match="Unknown status"):
        actions.change_status(task=task, to="archived", actor=performer)


def test_on_approval_needs_an_approver(performer, manager):
    task = make_task(actor=performer, owner=performer)
    with pytest.raises(WorkflowError, match="approver"):
        actions.change_status(task=task, to=Status.ON_APPROVAL, actor=performer)
    actions.set_approver(task=task, approver=manager, actor=performer)
    actions.change_status(task=task, to=Status.ON_APPROVAL, actor=performer)
    assert task.status == Status.ON_APPROVAL


def test_first_response_resolution_and_reopen_timestamps(performer):
    created = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    taken = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    done = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    reopened = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
    task = make_task(actor=performer, owner=performer, at=created)
    actions.change_status(task=task, to="in_progress", actor=performer, at=taken)
    actions.change_status(task=task, to="done", actor=performer, at=done)
    assert (task.first_response_at, task.resolved_at) == (taken, done)
    actions.change_status(task=task, to="in_progress", actor=performer, at=reopened)
    task.refresh_from_db()
    assert task.first_response_at == taken
    assert task.resolved_at is None
    assert task.events.filter(kind=Kind.STATUS_CHANGED).last().old_value == "done"


def test_priority_change_is_recorded_as_codes_not_labels(dispatcher, performer):
    task = make_task(actor=dispatcher, owner=performer)
    actions.change_priority(task=task, priority=Priority.CRITICAL, actor=dispatcher)
    event = task.events.get(kind=Kind.PRIORITY_CHANGED)
    assert (event.old_value, event.new_value) == ("normal", "critical")
    with pytest.raises(WorkflowError, match="Unknown priority"):
        actions.change_priority(task=task, priority="urgent!!", actor=dispatcher)


def test_performers_and_next_step_and_comment_are_history(dispatcher, performer, other_performer):
    task = make_task(actor=dispatcher, owner=performer)
    actions.set_performers(task=task, users=[other_performer, performer], actor=dispatcher)
    event = task.events.get(kind=Kind.PERFORMERS_CHANGED)
    assert event.new_value == sorted([performer.pk, other_performer.pk])
    due = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    actions.set_next_step(task=task, text="Call back", due=due, actor=performer)
    assert task.next_step == "Call back"
    comment = actions.add_comment(task=task, text="  Called, no answer  ", actor=performer)
    assert comment.text == "Called, no answer"
    assert task.events.get(kind=Kind.COMMENTED).comment == comment
    with pytest.raises(WorkflowError, match="empty"):
        actions.add_comment(task=task, text="   ", actor=performer)


def test_a_stale_version_is_refused_and_nothing_is_written(dispatcher, performer):
    task = make_task(actor=dispatcher, owner=performer)
    stale = task.version
    actions.change_priority(task=task, priority="high", actor=dispatcher)
    events_before = task.events.count()
    with pytest.raises(actions.StaleCard):
        actions.change_status(task=task, to="in_progress", actor=performer, expected_version=stale)
    task.refresh_from_db()
    assert task.status == Status.ASSIGNED
    assert task.events.count() == events_before


def test_an_inactive_user_cannot_become_owner(dispatcher):
    task = make_task(actor=dispatcher)
    gone = UserFactory(username="gone", is_active=False)
    with pytest.raises(WorkflowError, match="not an active user"):
        actions.assign_owner(task=task, owner=gone, actor=dispatcher)


def test_every_action_bumps_the_version_except_comments(dispatcher, performer):
    task = make_task(actor=dispatcher, owner=performer)
    assert task.version == 1
    # Written by the insert itself (no update after it), with the creation time.
    assert Task.objects.values_list("version", "updated_at").get(pk=task.pk) == (
        1,
        task.created_at,
    )
    actions.change_priority(task=task, priority="low", actor=dispatcher)
    assert task.version == 2
    actions.add_comment(task=task, text="hi", actor=performer)
    task.refresh_from_db()
    assert task.version == 2


# ---------------------------------------------------------------- the card-change hook


@pytest.fixture
def card_changes(monkeypatch) -> list[tuple[int, int]]:
    """Each call of the card-change listeners, as (card, version), recorded by a listener
    registered after the real ones (the SLA timers) for this test only."""
    calls: list[tuple[int, int]] = []

    def record(*, task, at, events) -> None:
        calls.append((task.pk, task.version))

    monkeypatch.setattr(core, "_card_listeners", list(core._card_listeners))
    actions.listen_to_card_changes(record)
    return calls


def test_sla_registers_its_card_change_listener_once_however_often_it_is_ready():
    from django.apps import apps

    from sla.card_changes import follow_card_change

    apps.get_app_config("sla").ready()
    assert core._card_listeners.count(follow_card_change) == 1


def test_a_change_of_a_card_still_moves_its_timers(dispatcher, performer, default_policy):
    task = make_task(actor=dispatcher, owner=performer)
    assert task.timers.filter(stopped_at__isnull=True).count() == 2
    actions.change_status(task=task, to=Status.CANCELLED, actor=dispatcher)
    assert task.timers.filter(stopped_at__isnull=True).count() == 0


def test_every_change_calls_the_listeners_once_after_saving(dispatcher, performer, card_changes):
    task = make_task(actor=dispatcher, owner=performer)
    actions.change_priority(task=task, priority="high", actor=dispatcher)
    actions.change_priority(task=task, priority="high", actor=dispatcher)  # no change
    actions.add_comment(task=task, text="hi", actor=performer)  # not a change of the card
    assert card_changes == [(task.pk, 1), (task.pk, 2)]


# ---------------------------------------------------------------- details


def test_editing_the_details_records_each_changed_field_in_one_change(
    dispatcher, performer, card_changes
):
    task = make_task(actor=dispatcher, owner=performer, title="Old", description="Before")
    actions.update_details(
        task=task, title="  New title ", description="After", source_url="", actor=performer
    )
    task.refresh_from_db()
    assert (task.title, task.description, task.version) == ("New title", "After", 2)
    changed = task.events.filter(kind=Kind.DETAILS_CHANGED).order_by("pk")
    assert [(e.field, e.old_value, e.new_value, e.actor) for e in changed] == [
        ("title", "Old", "New title", performer),
        ("description", "Before", "After", performer),
    ]
    assert card_changes == [(task.pk, 1), (task.pk, 2)]


def test_details_left_out_are_not_touched_and_unchanged_details_change_nothing(
    dispatcher, performer
):
    task = make_task(actor=dispatcher, owner=performer, title="Title", description="Text")
    actions.update_details(task=task, description="Text", title="Title ", actor=performer)
    actions.update_details(task=task, actor=performer)
    task.refresh_from_db()
    assert (task.title, task.description, task.version) == ("Title", "Text", 1)
    assert not task.events.filter(kind=Kind.DETAILS_CHANGED).exists()


@pytest.mark.parametrize("title", ["Two\nlines", "Carriage\rreturn", "   ", "x" * 201])
def test_a_title_that_is_empty_too_long_or_not_one_line_is_refused(dispatcher, title):
    task = make_task(actor=dispatcher, title="Kept")
    with pytest.raises(WorkflowError):
        actions.update_details(task=task, title=title, actor=dispatcher)
    with pytest.raises(WorkflowError):
        make_task(actor=dispatcher, title=title)
    task.refresh_from_db()
    assert (task.title, task.version) == ("Kept", 1)


def test_editing_details_on_a_stale_card_is_refused(dispatcher, performer):
    task = make_task(actor=dispatcher, owner=performer, title="Old")
    stale = task.version
    actions.change_priority(task=task, priority="high", actor=dispatcher)
    with pytest.raises(actions.StaleCard):
        actions.update_details(task=task, title="New", actor=performer, expected_version=stale)
    task.refresh_from_db()
    assert task.title == "Old"


def test_the_timeline_tells_what_details_changed(dispatcher, performer):
    task = make_task(actor=dispatcher, owner=performer, title="Old")
    actions.update_details(
        task=task, title="New", description="More", source_url="https://x.test/1", actor=performer
    )
    actions.update_details(task=task, description="", actor=performer)
    texts = [e.text for e in timeline(list(task.events.all())) if e.kind == Kind.DETAILS_CHANGED]
    assert texts == [
        "renamed it from “Old” to “New”",
        "edited the description",
        "set the source link to https://x.test/1",
        "removed the description",
    ]


# ---------------------------------------------------------------- composite changes


def test_assigning_people_is_one_change_with_one_version_and_one_timer_sync(
    dispatcher, performer, other_performer, manager, card_changes
):
    task = make_task(actor=dispatcher)
    actions.assign_people(
        task=task, owner=performer, performers=[other_performer], approver=manager,
        actor=dispatcher, expected_version=1,
    )  # fmt: skip
    task.refresh_from_db()
    assert (task.owner, task.approver, task.status, task.version) == (
        performer, manager, Status.ASSIGNED, 2,
    )  # fmt: skip
    assert list(task.performers.all()) == [other_performer]
    assert kinds(task) == [
        Kind.CREATED,
        Kind.OWNER_CHANGED,
        Kind.STATUS_CHANGED,
        Kind.PERFORMERS_CHANGED,
        Kind.APPROVER_CHANGED,
    ]
    assert card_changes == [(task.pk, 1), (task.pk, 2)]


def test_assigning_the_same_people_again_changes_nothing(dispatcher, performer, card_changes):
    task = make_task(actor=dispatcher, owner=performer)
    actions.assign_people(
        task=task, owner=performer, performers=[], approver=None, actor=dispatcher
    )
    task.refresh_from_db()
    assert task.version == 1
    assert card_changes == [(task.pk, 1)]


def test_assigning_people_on_a_stale_card_is_refused_and_nothing_is_written(
    dispatcher, performer, other_performer
):
    task = make_task(actor=dispatcher)
    stale = task.version
    actions.change_priority(task=task, priority="high", actor=dispatcher)
    with pytest.raises(actions.StaleCard):
        actions.assign_people(
            task=task, owner=performer, performers=[other_performer], approver=None,
            actor=dispatcher, expected_version=stale,
        )  # fmt: skip
    task.refresh_from_db()
    assert (task.owner, task.version) == (None, 2)
    assert not task.performers.exists()


def test_assigning_people_is_all_or_nothing_when_one_rule_refuses(
    dispatcher, performer, other_performer
):
    task = make_task(actor=dispatcher)
    gone = UserFactory(username="gone", is_active=False)
    with pytest.raises(WorkflowError, match="not an active user"):
        actions.assign_people(
            task=task, owner=performer, performers=[other_performer], approver=gone,
            actor=dispatcher,
        )  # fmt: skip
    task.refresh_from_db()
    assert (task.owner, task.status, task.version) == (None, Status.NEW, 1)
    assert not task.performers.exists()
    assert kinds(task) == [Kind.CREATED]


def test_reclassifying_is_one_change_with_one_version_and_one_timer_sync(
    dispatcher, performer, card_changes
):
    task = make_task(actor=dispatcher, owner=performer)
    other_type, other_team = RequestTypeFactory(name="Other"), TeamFactory(name="Other team")
    actions.reclassify(
        task=task, request_type=other_type, priority=Priority.HIGH, team=other_team,
        actor=dispatcher, expected_version=1,
    )  # fmt: skip
    task.refresh_from_db()
    assert (task.request_type, task.priority, task.team, task.version) == (
        other_type, Priority.HIGH, other_team, 2,
    )  # fmt: skip
    assert kinds(task)[1:] == [
        Kind.PRIORITY_CHANGED,
        Kind.REQUEST_TYPE_CHANGED,
        Kind.TEAM_CHANGED,
    ]
    assert card_changes == [(task.pk, 1), (task.pk, 2)]


def test_reclassifying_a_stale_card_or_to_an_unknown_priority_is_refused(dispatcher, performer):
    task = make_task(actor=dispatcher, owner=performer)
    stale = task.version
    actions.change_priority(task=task, priority="high", actor=dispatcher)
    with pytest.raises(actions.StaleCard):
        actions.reclassify(
            task=task, request_type=task.request_type, priority="low", team=None,
            actor=dispatcher, expected_version=stale,
        )  # fmt: skip
    with pytest.raises(WorkflowError, match="Unknown priority"):
        actions.reclassify(
            task=task, request_type=task.request_type, priority="urgent", team=None,
            actor=dispatcher,
        )  # fmt: skip
    task.refresh_from_db()
    assert (task.priority, task.version) == (Priority.HIGH, 2)


# ---------------------------------------------------------------- the dispatch flag


def _flag_grid(dispatcher, performer) -> list[Task]:
    """One card in each state the dispatch rule distinguishes."""
    new = make_task(actor=dispatcher, title="new")
    owned = make_task(actor=dispatcher, owner=performer, title="owned")
    same = make_task(actor=dispatcher, title="flagged with this reason")
    other = make_task(actor=dispatcher, title="flagged with another reason")
    done = make_task(actor=dispatcher, owner=performer, title="done")
    cancelled = make_task(actor=dispatcher, title="cancelled")
    Task.objects.filter(pk=same.pk).update(dispatch_flag="Not taken in time")
    Task.objects.filter(pk=other.pk).update(dispatch_flag="Escalated")
    actions.change_status(task=done, to=Status.DONE, actor=performer)
    actions.change_status(task=cancelled, to=Status.CANCELLED, actor=dispatcher)
    return [new, owned, same, other, done, cancelled]


@pytest.mark.parametrize("path", ["one by one", "set-based"])
def test_both_ways_of_flagging_for_dispatch_follow_the_one_rule(dispatcher, performer, path):
    cards = _flag_grid(dispatcher, performer)
    ids = [c.pk for c in cards]
    flaggable = set(
        Task.objects.flaggable_for_dispatch().filter(pk__in=ids).values_list("pk", flat=True)
    )
    assert flaggable == {cards[0].pk, cards[1].pk}  # open and not flagged yet
    before = {t.pk: (t.dispatch_flag, t.version) for t in Task.objects.filter(pk__in=ids)}
    at = datetime(2025, 6, 2, 12, tzinfo=UTC)
    if path == "one by one":
        for card in cards:
            actions.flag_for_dispatch(task=card, reason="Not taken in time", at=at)
    else:
        assert actions.flag_many_for_dispatch(task_ids=ids, reason="Not taken in time", at=at) == 2
    after = {t.pk: (t.dispatch_flag, t.version) for t in Task.objects.filter(pk__in=ids)}
    for pk in ids:
        if pk in flaggable:
            assert after[pk] == ("Not taken in time", before[pk][1] + 1)
        else:
            assert after[pk] == before[pk]
    flagged = TaskEvent.objects.filter(task__in=ids, kind=Kind.DISPATCH_FLAGGED)
    assert sorted(e.task_id for e in flagged) == sorted(flaggable)
    assert {(e.old_value, e.new_value) for e in flagged} == {("", "Not taken in time")}
