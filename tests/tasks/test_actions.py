"""The workflow: every change through tasks.actions, with typed history."""

from datetime import UTC, datetime

import pytest

from tasks import actions
from tasks.actions import TRANSITIONS, WorkflowError
from tasks.models import Priority, Status, TaskEvent
from tests.factories import BlockingReasonFactory, UserFactory, make_task

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
    actions.change_priority(task=task, priority="low", actor=dispatcher)
    assert task.version == 2
    actions.add_comment(task=task, text="hi", actor=performer)
    task.refresh_from_db()
    assert task.version == 2
