"""The work model's admin: configuration is editable, cards change only through the actions,
history is read-only."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from sla.models import (
    BusinessCalendar,
    SlaPolicy,
    SlaTarget,
    TimerKind,
    TimerState,
    WorkingInterval,
)
from tasks import actions
from tasks.models import BlockingReason, Priority, RelatedObject, Status, Task, TaskEvent, Team
from tests.factories import (
    BlockingReasonFactory,
    RelatedObjectFactory,
    RequestTypeFactory,
    TeamFactory,
    WorkerFactory,
    make_task,
)


@pytest.fixture
def policy(db) -> SlaPolicy:
    calendar = BusinessCalendar.objects.create(name="Office", timezone="Europe/Berlin")
    for weekday in range(5):
        WorkingInterval.objects.create(
            calendar=calendar, weekday=weekday, start=time(9), end=time(17)
        )
    policy = SlaPolicy.objects.create(name="Standard", is_default=True, calendar=calendar)
    for priority in Priority:
        SlaTarget.objects.create(
            policy=policy,
            priority=priority,
            response_target=timedelta(hours=1),
            resolution_target=timedelta(hours=8),
        )
    return policy


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def many_cards(actor, n: int = 32) -> list[Task]:
    """Cards with everything a row shows: owners, teams, types, related objects, history."""
    client = RelatedObjectFactory()
    cards = []
    for i in range(n):
        owner = WorkerFactory(username=f"owner{i % 7}")
        team = TeamFactory()
        team.members.add(owner)  # a card's owner is one of its team's people
        card = make_task(
            actor=actor,
            owner=owner,
            title=f"Card {i}",
            request_type=RequestTypeFactory(name=f"Type {i}", default_team=team),
            related_object=RelatedObjectFactory(parent=client, kind=RelatedObject.Kind.ORDER),
        )
        actions.add_comment(task=card, text=f"Note {i}", actor=actor)
        cards.append(card)
    return cards


CHANGELISTS = ["team", "requesttype", "relatedobject", "blockingreason", "task", "comment",
               "taskevent"]  # fmt: skip


@pytest.mark.parametrize("model", CHANGELISTS)
def test_each_changelist_loads_in_a_bounded_number_of_queries(
    admin_client, policy, dispatcher, model, django_assert_max_num_queries
):
    many_cards(dispatcher)
    for i in range(30):
        BlockingReasonFactory(name=f"Reason {i}")
    with django_assert_max_num_queries(14):
        response = admin_client.get(reverse(f"admin:tasks_{model}_changelist"))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 30


def test_the_card_changelist_shows_the_next_deadline(admin_client, policy, dispatcher):
    card = make_task(actor=dispatcher, owner=dispatcher)
    response = admin_client.get(reverse("admin:tasks_task_changelist"))
    row = response.context["cl"].result_list[0]
    assert row.next_due == card.timers.get(kind=TimerKind.RESPONSE).due_at


def test_the_card_page_shows_its_timers_and_history(admin_client, policy, dispatcher):
    card = make_task(actor=dispatcher, owner=dispatcher)
    actions.add_comment(task=card, text="Called the client", actor=dispatcher)
    response = admin_client.get(reverse("admin:tasks_task_change", args=[card.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "SLA timers" in html
    assert "First response" in html
    assert "Called the client" in html


def test_cards_cannot_be_added_or_deleted_in_the_admin(admin_client, policy, dispatcher):
    card = make_task(actor=dispatcher, owner=dispatcher)
    assert admin_client.get(reverse("admin:tasks_task_add")).status_code == 403
    delete = admin_client.post(reverse("admin:tasks_task_delete", args=[card.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert Task.objects.filter(pk=card.pk).exists()


EMPTY_INLINES = {
    f"{prefix}-{key}": 0
    for prefix in ("timers", "comments", "events")
    for key in ("TOTAL_FORMS", "INITIAL_FORMS")
}


def test_the_card_form_changes_descriptive_fields_and_never_workflow_fields(
    admin_client, policy, dispatcher, performer, observer
):
    card = make_task(actor=dispatcher, owner=dispatcher, title="Old title")
    version = card.version
    events = card.events.count()
    response = admin_client.post(
        reverse("admin:tasks_task_change", args=[card.pk]),
        {
            "title": "New title",
            "description": "",
            "source_url": "",
            "observers": [observer.pk],
            # Read-only in the admin: ignored even when posted.
            "status": Status.DONE,
            "owner": performer.pk,
            "priority": Priority.CRITICAL,
            **EMPTY_INLINES,
        },
    )
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.title == "New title"
    assert list(card.observers.all()) == [observer]
    assert (card.status, card.owner, card.priority) == (
        Status.ASSIGNED,
        dispatcher,
        Priority.NORMAL,
    )
    assert card.version == version + 1
    # The new title is history like any change of the card (through tasks.actions).
    assert card.events.count() == events + 1
    renamed = card.events.get(kind=TaskEvent.Kind.DETAILS_CHANGED)
    assert (renamed.field, renamed.old_value, renamed.new_value) == (
        "title",
        "Old title",
        "New title",
    )


def test_cancelling_selected_cards_goes_through_the_workflow(admin_client, policy, dispatcher):
    first, second = make_task(actor=dispatcher, owner=dispatcher), make_task(actor=dispatcher)
    response = admin_client.post(
        reverse("admin:tasks_task_changelist"),
        {"action": "cancel_cards", "_selected_action": [first.pk, second.pk]},
    )
    assert response.status_code == 302
    for card in (first, second):
        card.refresh_from_db()
        assert card.status == Status.CANCELLED
        event = card.events.get(kind=TaskEvent.Kind.STATUS_CHANGED)
        assert (event.new_value, event.actor.username) == (Status.CANCELLED, "admin")
        assert {t.state for t in card.timers.all()} == {TimerState.CANCELLED}
    assert "Cancelled 2 card(s)." in messages_of(response)


def test_a_card_the_workflow_cannot_cancel_is_reported_and_the_others_are_cancelled(
    admin_client, policy, dispatcher
):
    closed, open_card = make_task(actor=dispatcher, owner=dispatcher), make_task(actor=dispatcher)
    actions.change_status(task=closed, to=Status.CANCELLED, actor=dispatcher)
    response = admin_client.post(
        reverse("admin:tasks_task_changelist"),
        {"action": "cancel_cards", "_selected_action": [closed.pk, open_card.pk]},
    )
    sent = messages_of(response)
    assert f"{closed}: The card is already cancelled." in sent
    assert "Cancelled 1 card(s)." in sent
    open_card.refresh_from_db()
    assert open_card.status == Status.CANCELLED


def test_raising_priority_goes_one_step_through_the_workflow(admin_client, policy, dispatcher):
    normal = make_task(actor=dispatcher, owner=dispatcher, priority=Priority.NORMAL)
    critical = make_task(actor=dispatcher, owner=dispatcher, priority=Priority.CRITICAL)
    response = admin_client.post(
        reverse("admin:tasks_task_changelist"),
        {"action": "raise_priority", "_selected_action": [normal.pk, critical.pk]},
    )
    normal.refresh_from_db()
    assert normal.priority == Priority.HIGH
    event = normal.events.get(kind=TaskEvent.Kind.PRIORITY_CHANGED)
    assert (event.old_value, event.new_value) == (Priority.NORMAL, Priority.HIGH)
    assert not critical.events.filter(kind=TaskEvent.Kind.PRIORITY_CHANGED).exists()
    sent = messages_of(response)
    assert f"{critical}: already critical." in sent
    assert "Raised the priority of 1 card(s)." in sent


def test_history_cannot_be_added_changed_or_deleted(admin_client, policy, dispatcher):
    card = make_task(actor=dispatcher, owner=dispatcher)
    comment = actions.add_comment(task=card, text="Hello", actor=dispatcher)
    event = card.events.first()
    for model, obj in (("taskevent", event), ("comment", comment)):
        change = reverse(f"admin:tasks_{model}_change", args=[obj.pk])
        assert admin_client.get(change).status_code == 200  # view only
        assert admin_client.post(change, {"note": "rewritten", "text": "x"}).status_code == 403
        delete = reverse(f"admin:tasks_{model}_delete", args=[obj.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert admin_client.get(reverse(f"admin:tasks_{model}_add")).status_code == 403
    assert card.events.filter(pk=event.pk, note="").exists()
    comment.refresh_from_db()
    assert comment.text == "Hello"


def test_blocking_reasons_are_edited_in_the_list(admin_client, db):
    reason = BlockingReasonFactory(name="Waiting for customer", pauses_sla=True)
    response = admin_client.post(
        reverse("admin:tasks_blockingreason_changelist"),
        {
            "form-TOTAL_FORMS": 1,
            "form-INITIAL_FORMS": 1,
            "form-0-id": reason.pk,
            "form-0-active": "on",  # pauses_sla unticked
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    reason.refresh_from_db()
    assert (reason.pauses_sla, reason.active) == (False, True)
    assert BlockingReason.objects.count() == 1


def test_a_related_object_gets_its_root_from_its_parent(admin_client, db):
    client = RelatedObjectFactory(name="ACME")
    response = admin_client.post(
        reverse("admin:tasks_relatedobject_add"),
        {"kind": RelatedObject.Kind.ORDER, "name": "Order 1", "parent": client.pk},
    )
    assert response.status_code == 302
    assert RelatedObject.objects.get(name="Order 1").root == client
    page = admin_client.get(reverse("admin:tasks_relatedobject_change", args=[client.pk]))
    assert 'name="root"' not in page.content.decode()  # shown, not editable


@pytest.mark.parametrize("model", ["team", "requesttype", "relatedobject", "blockingreason"])
def test_configuration_can_be_added_in_the_admin(admin_client, model):
    assert admin_client.get(reverse(f"admin:tasks_{model}_add")).status_code == 200


def test_a_team_is_created_with_a_manager_and_members(admin_client, manager, performer):
    response = admin_client.post(
        reverse("admin:tasks_team_add"),
        {"name": "Support", "manager": manager.pk, "members": [performer.pk, manager.pk]},
    )
    assert response.status_code == 302
    team = Team.objects.get(name="Support")
    assert team.manager == manager
    assert set(team.members.all()) == {performer, manager}


def card_form(card: Task, **changes) -> dict:
    return {
        "title": card.title,
        "description": card.description,
        "source_url": card.source_url,
        **EMPTY_INLINES,
        **changes,
    }


def test_editing_the_description_in_the_admin_is_a_change_of_the_card_with_history(
    admin_client, admin_user, policy, dispatcher
):
    card = make_task(actor=dispatcher, owner=dispatcher, title="Card", description="Before")
    url = reverse("admin:tasks_task_change", args=[card.pk])
    response = admin_client.post(url, card_form(card, description="After"))
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.description, card.version) == ("After", 2)
    edited = card.events.get(kind=TaskEvent.Kind.DETAILS_CHANGED)
    assert (edited.field, edited.old_value, edited.new_value, edited.actor) == (
        "description",
        "Before",
        "After",
        admin_user,
    )


def test_the_admin_form_refuses_a_title_of_two_lines_as_the_actions_do(
    admin_client, policy, dispatcher
):
    card = make_task(actor=dispatcher, owner=dispatcher, title="Card")
    url = reverse("admin:tasks_task_change", args=[card.pk])
    response = admin_client.post(url, card_form(card, title="Two\nlines"))
    assert response.status_code == 200
    assert "single line" in response.content.decode()
    card.refresh_from_db()
    assert (card.title, card.version) == ("Card", 1)


def test_an_unchanged_card_form_writes_nothing(admin_client, policy, dispatcher):
    card = make_task(actor=dispatcher, owner=dispatcher, title="Card")
    url = reverse("admin:tasks_task_change", args=[card.pk])
    assert admin_client.post(url, card_form(card)).status_code == 302
    card.refresh_from_db()
    assert card.version == 1
    assert not card.events.filter(kind=TaskEvent.Kind.DETAILS_CHANGED).exists()
