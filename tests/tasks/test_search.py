"""The nav's search (tasks.search, tasks.search_views): what it finds and by which field, how it
ranks, the jump by card number, permissions, bad input, query budget, and the fallback used
off PostgreSQL (run here on whichever database the suite uses)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tasks import actions, search
from tasks.models import Task
from tests.factories import RelatedObjectFactory, RequestTypeFactory, make_task

pytestmark = pytest.mark.django_db

URL = reverse("search")


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def found(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [card.pk for card in response.context["cards"]]


@pytest.fixture
def card(dispatcher, performer, request_type):
    return make_task(
        actor=dispatcher, owner=performer, request_type=request_type,
        title="Quarterly invoice for Acme", description="Customer disputes the freight line.",
        related_object=RelatedObjectFactory(name="Globex Holdings", external_ref="INV-2024-001"),
    )  # fmt: skip


@pytest.fixture
def elsewhere(roles, outsider):
    """A card of the outsider's team (Warehouse) that Sales people may not see."""
    warehouse = outsider.teams.get()
    kind = RequestTypeFactory(name="Stock check", default_team=warehouse)
    return make_task(
        actor=outsider, owner=outsider, request_type=kind,
        title="Secret pallet recount", description="Quarterly invoice audit.",
    )  # fmt: skip


@pytest.mark.parametrize(
    "words",
    ["quarterly", "INVOICE acme", "freight", "globex", "INV-2024-001", '"quarterly invoice"'],
)
def test_finds_a_card_by_its_title_description_related_object_and_reference(performer, card, words):
    assert found(client_for(performer).get(URL, {"q": words})) == [card.pk]


def test_finds_a_card_by_a_comment_and_by_what_its_details_and_client_now_say(performer, card):
    client = client_for(performer)
    assert found(client.get(URL, {"q": "pallets"})) == []
    actions.add_comment(task=card, text="Two pallets arrived damaged", actor=performer)
    assert found(client.get(URL, {"q": "pallets"})) == [card.pk]

    actions.update_details(task=card, actor=performer, title="Annual statement")
    assert found(client.get(URL, {"q": "annual"})) == [card.pk]
    assert found(client.get(URL, {"q": "quarterly"})) == []

    client_object = card.related_object
    client_object.name = "Initech"
    client_object.save()
    assert found(client.get(URL, {"q": "initech"})) == [card.pk]
    assert found(client.get(URL, {"q": "globex"})) == []


def test_every_word_must_match(performer, card):
    client = client_for(performer)
    assert found(client.get(URL, {"q": "quarterly zebra"})) == []
    assert found(client.get(URL, {"q": "zebra"})) == []


@pytest.mark.postgresql(reason="websearch_to_tsquery")
def test_or_minus_and_quotes_work_as_on_a_search_engine(performer, card):
    client = client_for(performer)
    assert found(client.get(URL, {"q": "quarterly or zebra"})) == [card.pk]
    assert found(client.get(URL, {"q": "quarterly -acme"})) == []
    assert found(client.get(URL, {"q": '"invoice quarterly"'})) == []  # a phrase, in order


def test_a_title_match_ranks_above_an_older_and_a_newer_description_match(
    dispatcher, performer, request_type
):
    def card(title, description=""):
        return make_task(actor=dispatcher, owner=performer, request_type=request_type,
                         title=title, description=description)  # fmt: skip

    older = card("Renewal", "The contract for the warehouse lease")
    in_title = card("Warehouse lease renewal")
    newer = card("Renewal", "About the warehouse lease, see attached")
    in_comment = card("Renewal")
    actions.add_comment(task=in_comment, text="warehouse is closed", actor=performer)

    ranked = found(client_for(performer).get(URL, {"q": "warehouse"}))
    assert ranked[0] == in_title.pk
    assert ranked[1:3] == [newer.pk, older.pk]  # equal ranks: newest first
    assert ranked[3] == in_comment.pk


def test_card_number_jumps_to_the_card(performer, card):
    client = client_for(performer)
    for typed in (f"#{card.pk}", str(card.pk), f"  #{card.pk} "):
        response = client.get(URL, {"q": typed})
        assert response.status_code == 302
        assert response["Location"] == card.get_absolute_url()


def test_never_shows_nor_jumps_to_a_card_the_user_may_not_see(
    performer, outsider, observer, card, elsewhere
):
    actions.add_comment(task=elsewhere, text="freight damaged", actor=outsider)
    sales = client_for(performer)
    for words in ("quarterly", "invoice", "freight", "pallet", "secret"):
        assert elsewhere.pk not in found(sales.get(URL, {"q": words}))
    # Another team's card by number: the same answer as a card that does not exist.
    hidden = sales.get(URL, {"q": f"#{elsewhere.pk}"})
    missing = sales.get(URL, {"q": "#987654"})
    assert found(hidden) == found(missing) == []
    assert b"among the cards you can see" in hidden.content
    assert b"Secret" not in hidden.content
    # A bare number of a hidden card is searched as a word, and finds nothing of it either.
    assert elsewhere.pk not in found(sales.get(URL, {"q": str(elsewhere.pk)}))
    # The outsider sees their own card, not Sales'; an observer reads every card.
    assert found(client_for(outsider).get(URL, {"q": "quarterly"})) == [elsewhere.pk]
    assert client_for(outsider).get(URL, {"q": f"#{card.pk}"}).status_code == 200
    assert set(found(client_for(observer).get(URL, {"q": "quarterly"}))) == {
        card.pk,
        elsewhere.pk,
    }
    assert client_for(observer).get(URL, {"q": f"#{elsewhere.pk}"}).status_code == 302


@pytest.mark.parametrize(
    ("typed", "status", "says"),
    [
        ("", 200, b"Type a word of a card"),
        ("   ", 200, b"Type a word of a card"),
        ("x" * 1000, 400, b"at most 200 characters"),
        ("freight\x00line", 400, b"cannot contain NUL"),
        ("!!! ... ---", 200, b"at least one letter or digit"),
        ("& | ! ( ) : *", 200, b"at least one letter or digit"),
        ("freight & line | !(x):* 'y'", 200, b"match"),
        ("#abc", 200, b"match"),
        ("#999999999999999999999", 200, b"among the cards you can see"),
        ("#0", 200, b"among the cards you can see"),
        ("99999999999999999999999", 200, b"match"),
        ("\\ ' \" %_ ", 200, b"at least one letter or digit"),
    ],
)
def test_bad_input_gets_a_clear_answer_never_a_500(performer, card, typed, status, says):
    response = client_for(performer).get(URL, {"q": typed})
    assert response.status_code == status
    assert says in response.content


def test_the_page_needs_a_login_and_answers_get_only(client, performer):
    assert client.get(URL, {"q": "x"}).status_code == 302
    assert client_for(performer).post(URL, {"q": "x"}).status_code == 405


def test_the_nav_has_the_search_box_on_every_page(performer):
    response = client_for(performer).get(reverse("task_list"))
    assert b'aria-label="Search cards"' in response.content
    assert f'action="{URL}"'.encode() in response.content


def test_results_are_paged_and_the_query_count_does_not_grow_with_them(
    dispatcher, performer, request_type, card
):
    client = client_for(performer)
    client.get(URL, {"q": "warm"})  # session, permissions cached as for any request

    def queries(words, page=1):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(URL, {"q": words, "page": page})
        return response, len(captured.captured_queries)

    none, with_none = queries("zebra")
    one, with_one = queries("quarterly")
    for n in range(55):
        make_task(actor=dispatcher, owner=performer, request_type=request_type,
                  title=f"Batch {n} of bulk work")  # fmt: skip
    first, with_first = queries("bulk")
    second, with_second = queries("bulk", page=2)
    assert (len(found(none)), len(found(one)), len(found(first)), len(found(second))) == (
        0, 1, search.PAGE_SIZE, 55 - search.PAGE_SIZE,
    )  # fmt: skip
    assert with_one == with_first == with_second <= 7
    assert with_none == with_one - 1  # no result: no cards to read
    assert b"55 cards match" in first.content
    assert b"Page 2 of 2" in second.content


def test_past_the_candidates_the_page_says_so_and_keeps_the_newest(
    monkeypatch, dispatcher, performer, request_type
):
    monkeypatch.setattr(search, "CANDIDATES", 3)
    cards = [
        make_task(actor=dispatcher, owner=performer, request_type=request_type,
                  title=f"Invoice run {n}").pk
        for n in range(5)
    ]  # fmt: skip
    response = client_for(performer).get(URL, {"q": "invoice"})
    assert found(response) == cards[:1:-1]
    assert b"More than 3 cards match" in response.content


def test_the_fallback_matches_every_field_and_weights_the_title_first(
    dispatcher, performer, request_type
):
    """The icontains search used off PostgreSQL, run on this database."""

    def card(title, **kwargs):
        return make_task(actor=dispatcher, owner=performer, request_type=request_type,
                         title=title, **kwargs)  # fmt: skip

    in_title = card("Lease renewal")
    by_ref = card("Other", related_object=RelatedObjectFactory(name="X", external_ref="LEASE-7"))
    in_description = card("Other", description="About the lease")
    in_comment = card("Other")
    actions.add_comment(task=in_comment, text="lease signed", actor=performer)
    card("Unrelated")
    visible = Task.objects.visible_to(performer)

    rows = search._fallback(visible, "LEASE")
    ranked = [pk for pk, _ in sorted(rows, key=lambda row: (-row[1], -row[0]))]
    assert ranked == [in_title.pk, by_ref.pk, in_description.pk, in_comment.pk]
    assert [pk for pk, _ in search._fallback(visible, "lease signed")] == [in_comment.pk]
    assert search._fallback(visible, "lease zebra") == []


def test_later_changes_of_the_same_card_object_keep_it_findable(performer, dispatcher, card):
    """The actions save every field of a card but its search vector (tasks.search_vector writes
    it): a card object that came from create_task, changed again, stays findable."""
    actions.change_status(task=card, to="in_progress", actor=performer)
    actions.change_priority(task=card, priority="high", actor=dispatcher)
    assert found(client_for(performer).get(URL, {"q": "quarterly"})) == [card.pk]


@pytest.mark.postgresql(reason="the search vector and its GIN index exist on PostgreSQL only")
def test_the_migration_fills_the_vectors_of_existing_cards(performer, card):
    import importlib

    migration = importlib.import_module("tasks.migrations.0002_search_vector")
    actions.add_comment(task=card, text="pallets", actor=performer)
    Task.objects.filter(pk=card.pk).update(search_vector=None)
    client = client_for(performer)
    assert found(client.get(URL, {"q": "pallets"})) == []
    with connection.cursor() as cursor:  # as a migration runs: no deferred checks pending
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with connection.schema_editor() as editor:
        migration.fill_and_index(None, editor)
    for words in ("quarterly", "globex", "freight", "pallets"):
        assert found(client.get(URL, {"q": words})) == [card.pk]
