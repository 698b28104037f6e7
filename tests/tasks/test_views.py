"""Card pages: login, permissions, bad input, escaping, HTMX partials and query budgets."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tasks import actions
from tasks.models import Status, Task, TaskEvent
from tests.factories import BlockingReasonFactory, RelatedObjectFactory, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(dispatcher, performer, request_type):
    return make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Lead")


def client_for(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", ["home", "task_list", "task_create"])
def test_every_page_requires_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_card_pages_require_login_too(client, card):
    for name in ("task_detail", "task_timers"):
        response = client.get(reverse(name, args=[card.pk]))
        assert response.status_code == 302
    response = client.post(reverse("task_status", args=[card.pk]), {"to": "done"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.status == Status.ASSIGNED


def test_login_page_logs_a_user_in(client, performer):
    response = client.post(reverse("login"), {"username": "paula", "password": "pw"})
    assert response.status_code == 302
    assert client.get(reverse("task_list")).status_code == 200


def test_owner_moves_the_card_and_sees_the_updated_card_partial(performer, card):
    response = client_for(performer).post(
        reverse("task_status", args=[card.pk]),
        {"to": "in_progress", "version": card.version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b'id="card"' in response.content
    assert b"<html" not in response.content  # the partial, not the page
    card.refresh_from_db()
    assert card.status == Status.IN_PROGRESS


def test_without_htmx_a_status_change_redirects_back_to_the_card(performer, card):
    response = client_for(performer).post(
        reverse("task_status", args=[card.pk]), {"to": "in_progress", "version": card.version}
    )
    assert response.status_code == 302
    assert response["Location"] == card.get_absolute_url()


def test_waiting_without_reason_is_a_400_with_a_clear_message(performer, card):
    response = client_for(performer).post(
        reverse("task_status", args=[card.pk]),
        {"to": "waiting", "version": card.version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert b"Say what the card is waiting for" in response.content
    card.refresh_from_db()
    assert card.status == Status.ASSIGNED


def test_waiting_with_reason_is_accepted(performer, card):
    reason = BlockingReasonFactory(name="Waiting for customer")
    client_for(performer).post(
        reverse("task_status", args=[card.pk]),
        {"to": "waiting", "blocking_reason": reason.pk, "version": card.version},
    )
    card.refresh_from_db()
    assert (card.status, card.blocking_reason) == (Status.WAITING, reason)


def test_a_disallowed_transition_is_a_400_not_a_500(performer, card):
    actions.change_status(task=card, to="cancelled", actor=performer)
    response = client_for(performer).post(
        reverse("task_status", args=[card.pk]), {"to": "in_progress", "version": card.version}
    )
    assert response.status_code == 400
    assert b"cannot move from cancelled" in response.content


def test_a_stale_form_is_a_409_and_does_not_overwrite(performer, dispatcher, card):
    old_version = card.version
    actions.change_priority(task=card, priority="high", actor=dispatcher)
    response = client_for(performer).post(
        reverse("task_status", args=[card.pk]), {"to": "done", "version": old_version}
    )
    assert response.status_code == 409
    assert b"changed by someone else" in response.content
    card.refresh_from_db()
    assert card.status == Status.ASSIGNED


def test_an_observer_can_read_but_not_act(observer, card):
    client = client_for(observer)
    assert client.get(reverse("task_detail", args=[card.pk])).status_code == 200
    for name, data in [
        ("task_status", {"to": "done", "version": card.version}),
        ("task_comment", {"text": "hi"}),
        ("task_assign", {"owner": observer.pk, "version": card.version}),
        ("task_next_step", {"text": "x", "version": card.version}),
    ]:
        assert client.post(reverse(name, args=[card.pk]), data).status_code == 403
    assert client.get(reverse("task_create")).status_code == 403
    card.refresh_from_db()
    assert card.status == Status.ASSIGNED
    assert not card.comments.exists()


def test_a_performer_cannot_assign_but_a_dispatcher_of_the_team_can(
    performer, other_performer, dispatcher, card
):
    data = {"owner": other_performer.pk, "version": card.version}
    url = reverse("task_assign", args=[card.pk])
    assert client_for(performer).post(url, data).status_code == 403
    assert client_for(dispatcher).post(url, data).status_code == 302
    card.refresh_from_db()
    assert card.owner == other_performer


def test_a_card_of_another_team_is_forbidden_to_outsiders(outsider, card):
    client = client_for(outsider)
    assert client.get(reverse("task_detail", args=[card.pk])).status_code == 403
    response = client.post(reverse("task_comment", args=[card.pk]), {"text": "sneaky"})
    assert response.status_code == 403
    assert not card.comments.exists()
    assert card not in client.get(reverse("task_list")).context["page"].object_list


def test_unknown_card_ids_are_404(performer):
    client = client_for(performer)
    assert client.get(reverse("task_detail", args=[999999])).status_code == 404
    assert client.post(reverse("task_status", args=[999999]), {"to": "done"}).status_code == 404


def test_a_post_without_csrf_token_is_rejected(performer, card):
    client = client_for(performer, enforce_csrf_checks=True)
    response = client.post(
        reverse("task_status", args=[card.pk]), {"to": "in_progress", "version": card.version}
    )
    assert response.status_code == 403
    card.refresh_from_db()
    assert card.status == Status.ASSIGNED


def test_the_csrf_token_rides_on_body_for_htmx(performer, card):
    response = client_for(performer).get(reverse("task_detail", args=[card.pk]))
    assert b'hx-headers=\'{"x-csrftoken": "' in response.content


def test_hidden_fields_cannot_set_status_or_team_on_create(performer, request_type, team):
    response = client_for(performer).post(
        reverse("task_create"),
        {
            "title": "Smuggler",
            "request_type": request_type.pk,
            "priority": "normal",
            "owner": "",  # nobody: to dispatch
            "status": "done",
            "team": "",
        },
    )
    assert response.status_code == 302
    task = Task.objects.get(title="Smuggler")
    assert task.owner is None  # she chose nobody: the card goes to dispatch
    assert task.status == Status.NEW
    assert task.team == team  # the type's default, not the smuggled value


def test_a_performer_creates_a_card_she_owns_by_default_and_works_it(performer, request_type):
    client = client_for(performer)
    form = client.get(reverse("task_create")).content.decode()
    owner = form.split('name="owner"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r"<option[^>]*>[^<]*</option>", owner) == [
        '<option value="">nobody (to dispatch)</option>',
        f'<option value="{performer.pk}" selected>Paula Performer</option>',
    ]
    assert 'name="team"' not in form
    response = client.post(
        reverse("task_create"),
        {"title": "My own", "request_type": request_type.pk, "priority": "normal",
         "owner": performer.pk},
    )  # fmt: skip
    task = Task.objects.get(title="My own")
    assert response["Location"] == task.get_absolute_url()
    assert (task.owner, task.status) == (performer, Status.ASSIGNED)
    # Hers to take into work and comment on.
    taken = client.post(reverse("task_status", args=[task.pk]),
                        {"to": "in_progress", "version": task.version})  # fmt: skip
    assert taken.status_code == 302
    said = client.post(reverse("task_comment", args=[task.pk]), {"text": "On it"})
    assert said.status_code == 302
    task.refresh_from_db()
    assert task.status == Status.IN_PROGRESS
    assert task.comments.get().text == "On it"


def test_a_performer_may_not_give_a_new_card_to_someone_else(
    performer, other_performer, request_type
):
    response = client_for(performer).post(
        reverse("task_create"),
        {"title": "Forged", "request_type": request_type.pk, "priority": "normal",
         "owner": other_performer.pk},
    )  # fmt: skip
    assert response.status_code == 400
    assert "You may make only yourself the owner of a new card" in response.content.decode()
    assert not Task.objects.exists()


def test_a_performer_owns_only_cards_of_her_teams(outsider, request_type):
    """Otto works in the Warehouse; a Sales lead he creates goes to Sales' dispatchers."""
    client = client_for(outsider)
    data = {"title": "For Sales", "request_type": request_type.pk, "priority": "normal"}
    refused = client.post(reverse("task_create"), {**data, "owner": outsider.pk})
    assert refused.status_code == 400
    assert "Cards of Sales are owned by its people: choose nobody" in refused.content.decode()
    assert not Task.objects.exists()
    assert client.post(reverse("task_create"), {**data, "owner": ""}).status_code == 302
    assert Task.objects.get().owner is None


def test_dispatchers_keep_the_whole_owner_field_and_the_team(
    dispatcher, performer, other_performer, request_type
):
    form = client_for(dispatcher).get(reverse("task_create")).content.decode()
    owner = form.split('name="owner"', 1)[1].split("</select>", 1)[0]
    assert f'value="{performer.pk}"' in owner and f'value="{other_performer.pk}"' in owner
    # Nobody chosen for them, said in words (not "---------").
    assert '<option value="" selected>Nobody (to dispatch)</option>' in owner
    assert 'name="team"' in form


def test_create_with_bad_input_is_a_400_and_writes_nothing(dispatcher):
    response = client_for(dispatcher).post(
        reverse("task_create"), {"title": "", "request_type": 424242, "priority": "urgent"}
    )
    assert response.status_code == 400
    assert b"This field is required" in response.content
    assert not Task.objects.exists()


def test_dispatcher_creates_an_owned_card(dispatcher, performer, request_type):
    client = client_for(dispatcher)
    response = client.post(
        reverse("task_create"),
        {
            "title": "Call ACME",
            "request_type": request_type.pk,
            "priority": "high",
            "owner": performer.pk,
        },
    )
    task = Task.objects.get(title="Call ACME")
    assert response["Location"] == task.get_absolute_url()
    assert (task.owner, task.status, task.priority) == (performer, Status.ASSIGNED, "high")


def test_html_in_titles_comments_and_names_is_escaped(dispatcher, performer, request_type):
    related = RelatedObjectFactory(name="<img src=x onerror=alert(1)>")
    task = make_task(
        actor=dispatcher,
        owner=performer,
        request_type=request_type,
        title="<script>alert('t')</script>",
        related_object=related,
    )
    actions.add_comment(task=task, text="<b>bold</b>", actor=performer)
    client = client_for(performer)
    for url in (reverse("task_detail", args=[task.pk]), reverse("task_list")):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "<b>bold</b>" not in html
    assert "&lt;script&gt;" in client.get(reverse("task_detail", args=[task.pk])).content.decode()


def test_bogus_filter_values_give_a_message_not_a_500(manager, card):
    response = client_for(manager).get(
        reverse("task_list"), {"status": "bogus", "owner": "999999", "team": "abc", "page": "x"}
    )
    assert response.status_code == 200
    assert b"Some filters were not understood" in response.content


def test_filters_narrow_the_list_and_htmx_gets_only_the_rows(manager, performer, card):
    make_task(actor=manager, title="Other", priority="low")
    client = client_for(manager)
    response = client.get(reverse("task_list"), {"priority": "low"}, HTTP_HX_REQUEST="true")
    assert b'id="rows"' in response.content
    assert b"<html" not in response.content
    assert b"Other" in response.content
    assert b"Lead" not in response.content
    response = client.get(reverse("task_list"), {"owner": performer.pk})
    assert [t.title for t in response.context["page"]] == ["Lead"]


def test_card_list_query_count_does_not_grow_with_rows(
    manager, performer, request_type, django_assert_max_num_queries
):
    client = client_for(manager)
    for n in range(60):
        make_task(actor=manager, owner=performer, request_type=request_type, title=f"Card {n}")
    with django_assert_max_num_queries(13):
        response = client.get(reverse("task_list"))
    assert response.status_code == 200
    assert len(response.context["page"]) == 25


def test_card_page_query_count_does_not_grow_with_history(
    performer, card, django_assert_max_num_queries
):
    for n in range(40):
        actions.add_comment(task=card, text=f"Comment {n}", actor=performer)
        actions.set_next_step(task=card, text=f"Step {n}", due=None, actor=performer)
    client = client_for(performer)
    with django_assert_max_num_queries(30):
        response = client.get(reverse("task_detail", args=[card.pk]))
    assert response.status_code == 200
    assert card.events.filter(kind=TaskEvent.Kind.COMMENTED).count() == 40
    assert response.content.count(b"Comment 3") >= 1


def test_a_finished_timer_says_what_was_to_spare_not_what_is_left(
    default_policy, performer, dispatcher, request_type
):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type)
    actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)
    page = client_for(performer).get(reverse("task_detail", args=[card.pk])).content.decode()
    response = page[page.index('data-kind="response"') :]
    response = response[: response.index("</article>")]
    assert "met at " in response and "to spare" in response
    assert "remaining" not in response and " left" not in response
    resolution = page[page.index('data-kind="resolution"') :]
    assert " remaining" in resolution[: resolution.index("</article>")]  # still running
    # First response before Resolution.
    assert page.index('data-kind="response"') < page.index('data-kind="resolution"')
