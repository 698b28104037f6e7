"""My work's quick actions are named moves (tasks.moves): Done asks "Mark #N done?" first
(without JavaScript too), a card on approval offers nothing but who it waits for, and the
page's query count does not grow with the cards."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from tasks import actions
from tasks.models import Status
from tests.factories import make_task
from tests.tasks.bad_input import client_for

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def working(dispatcher, performer, request_type, default_policy):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Go")
    return actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)


def test_done_asks_for_confirmation_without_js(performer, working):
    client = client_for(performer)
    page = client.get(reverse("my_work")).content.decode()
    assert '<button type="submit" class="contrast">Done</button>' in page
    assert f"Mark #{working.pk} done?" not in page
    asked = client.get(reverse("my_work"), {"card": working.pk, "confirm": "done"})
    html = asked.content.decode()
    assert asked.status_code == 200 and "<h1>My work</h1>" in html
    assert f"<strong>Mark #{working.pk} done?</strong>" in html
    assert ">Confirm</button>" in html and ">Keep open</a>" in html
    working.refresh_from_db()
    assert working.status == Status.IN_PROGRESS  # asking changes nothing
    confirmed = client.post(
        reverse("my_work_status", args=[working.pk]), {"to": "done", "version": working.version}
    )
    assert confirmed.status_code == 302
    working.refresh_from_db()
    assert working.status == Status.DONE


def test_with_htmx_the_question_and_keep_open_are_the_card_alone(performer, working):
    client = client_for(performer)
    asked = client.get(reverse("my_work"), {"card": working.pk, "confirm": "done"}, **HTMX)
    html = asked.content.decode().lstrip()
    assert html.startswith(f'<article id="work-{working.pk}"') and "<h1>" not in html
    assert f"Mark #{working.pk} done?" in html
    kept = client.get(reverse("my_work"), {"card": working.pk}, **HTMX).content.decode()
    assert "Mark #" not in kept and ">Done</button>" in kept
    for bogus in ("999999", "abc", "9" * 40):
        response = client.get(reverse("my_work"), {"card": bogus}, **HTMX)
        assert response.status_code in (200, 404)
        assert "Mark #" not in response.content.decode()


def test_someone_elses_card_is_not_asked_about(other_performer, working):
    response = client_for(other_performer).get(
        reverse("my_work"), {"card": working.pk, "confirm": "done"}, **HTMX
    )
    assert response.status_code == 404


def test_a_card_on_approval_offers_nothing_but_who_decides(performer, manager, working):
    actions.change_status(task=working, to=Status.ON_APPROVAL, actor=performer, approver=manager)
    page = client_for(performer).get(reverse("my_work")).content.decode()
    card = page[page.index(f'id="work-{working.pk}"') :]
    card = card[: card.index("</article>")]
    assert "Waiting for a decision by Maria Manager." in card
    assert "<button" not in card and "<form" not in card
    forged = client_for(performer).post(
        reverse("my_work_status", args=[working.pk]), {"to": "done", "version": working.version}
    )
    assert forged.status_code == 403
    working.refresh_from_db()
    assert working.status == Status.ON_APPROVAL


def test_my_work_query_count_is_constant_with_moves_confirmations_and_approvals(
    performer, manager, dispatcher, request_type, default_policy, django_assert_max_num_queries
):
    cards = [
        make_task(actor=dispatcher, owner=performer, request_type=request_type, title=f"C{n}")
        for n in range(30)
    ]
    for card in cards[:10]:
        actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)
    for card in cards[:5]:
        actions.change_status(task=card, to=Status.ON_APPROVAL, actor=performer,
                              approver=manager)  # fmt: skip
    client = client_for(performer)
    client.get(reverse("my_work"))
    cache.clear()
    with django_assert_max_num_queries(8):
        response = client.get(reverse("my_work"), {"card": cards[7].pk, "confirm": "done"})
    html = response.content.decode()
    assert html.count('class="work-card"') == 30
    assert html.count("Waiting for a decision by Maria Manager.") == 5
    assert f"Mark #{cards[7].pk} done?" in html
