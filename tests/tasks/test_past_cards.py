"""tasks.actions.record_past_cards: old cards written in bulk with their history, through
the checks of create_task and change_status, and the past-card hook. (That the result equals
replaying the same history through the actions: tests/reports/test_import_cards.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasks import actions
from tasks.actions import Move, PastCardSpec, WorkflowError, core
from tasks.models import Status, Task, TaskEvent

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture
def past_batches(monkeypatch) -> list[list[actions.PastCard]]:
    """Each call of the past-card listeners, recorded by a listener registered after the
    real ones (sla.replay) for this test only."""
    calls: list[list[actions.PastCard]] = []

    def record(*, cards) -> None:
        calls.append(list(cards))

    monkeypatch.setattr(core, "_past_card_listeners", list(core._past_card_listeners))
    actions.listen_to_past_cards(record)
    return calls


def spec(request_type, owner=None, moves=(), **fields) -> PastCardSpec:
    values = {"title": "Old card", "priority": "normal", "created_at": T0, **fields}
    return PastCardSpec(request_type=request_type, owner=owner, moves=tuple(moves), **values)


def test_a_batch_is_written_with_versions_events_and_one_call_of_the_hook(
    request_type, performer, dispatcher, default_policy, past_batches
):
    done = spec(request_type, performer, [Move(Status.IN_PROGRESS, T0 + H, performer),
                                          Move(Status.DONE, T0 + 3 * H, performer)])  # fmt: skip
    new = spec(request_type, title="Never touched")

    cards = actions.record_past_cards([done, new], actor=dispatcher)

    first, second = (Task.objects.get(pk=c.task.pk) for c in cards)
    assert (first.status, first.version, first.updated_at) == (Status.DONE, 3, T0 + 3 * H)
    assert (first.first_response_at, first.resolved_at) == (T0 + H, T0 + 3 * H)
    assert (second.status, second.version) == (Status.NEW, 1)
    assert list(first.events.values_list("kind", "actor", "new_value")) == [
        (TaskEvent.Kind.CREATED, dispatcher.pk, {
            "title": "Old card", "priority": "normal", "status": "assigned",
            "request_type": request_type.pk, "owner": performer.pk,
            "team": request_type.default_team_id, "related_object": None,
        }),
        (TaskEvent.Kind.STATUS_CHANGED, performer.pk, "in_progress"),
        (TaskEvent.Kind.STATUS_CHANGED, performer.pk, "done"),
    ]  # fmt: skip
    assert len(past_batches) == 1 and [c.task.pk for c in past_batches[0]] == [
        first.pk,
        second.pk,
    ]
    assert [(s.status, s.at, s.first_response_at) for s in cards[0].steps] == [
        (Status.ASSIGNED, T0, None),
        (Status.IN_PROGRESS, T0 + H, T0 + H),
        (Status.DONE, T0 + 3 * H, T0 + H),
    ]
    assert first.timers.count() == 2  # sla.replay answered the hook


@pytest.mark.parametrize(
    ("owner", "moves", "message"),
    [
        (None, [Move(Status.IN_PROGRESS, T0 + H, None)], "Assign an owner"),
        ("performer", [Move(Status.DONE, T0 + H, None), Move(Status.DONE, T0 + 2 * H, None)],
         "already done"),
        ("performer", [Move(Status.IN_PROGRESS, T0 - H, None)], "in order of time"),
        ("performer", [Move(Status.WAITING, T0 + H, None)], "choose a blocking reason"),
        ("inactive", [], "not an active user"),
    ],
)  # fmt: skip
def test_a_card_the_workflow_refuses_leaves_the_whole_batch_unwritten(
    request_type, performer, default_policy, past_batches, owner, moves, message
):
    from tests.factories import UserFactory

    people = {"performer": performer, "inactive": UserFactory(is_active=False), None: None}
    good = spec(request_type, performer, title="Fine")
    bad = spec(request_type, people[owner], moves)

    with pytest.raises(WorkflowError, match=message):
        actions.check_past_card(bad)
    with pytest.raises(WorkflowError, match=message):
        actions.record_past_cards([good, bad], actor=None)

    assert not Task.objects.exists() and past_batches == []


@pytest.mark.postgresql(reason="the search vector is PostgreSQL full-text search")
def test_past_cards_are_found_by_the_search_as_created_cards_are(
    request_type, performer, dispatcher, default_policy, manager
):
    from tasks import search

    [card] = actions.record_past_cards(
        [spec(request_type, performer, title="Quarterly hydrant inspection")], actor=dispatcher
    )

    found = search.find(manager, search.parse("hydrant"))

    assert found.ids == [card.task.pk]
