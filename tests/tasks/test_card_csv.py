"""The card list as CSV (`/cards/export.csv`): the list's cards with the list's filters, for
the same viewer, every cell formula-safe, times in the viewer's timezone, a constant number
of queries however many cards; bad filters ignored and named as on the list, never a 500."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sla.models import SlaTimer, TimerKind
from tasks.models import Priority, Task
from tests.factories import RelatedObjectFactory, RequestTypeFactory, TeamFactory, make_task
from tests.tasks.bad_input import client_for
from tests.tasks.test_bad_query_strings import LIST_QUERIES

pytestmark = pytest.mark.django_db
EXPORT = reverse("task_list_csv")


def download(client, query=None) -> tuple[list[str], list[dict[str, str]], object]:
    response = client.get(EXPORT, query or {})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="cards-')
    text = b"".join(response.streaming_content).decode()
    header, *lines = csv.reader(io.StringIO(text))
    return header, [dict(zip(header, line, strict=True)) for line in lines], response


def ids(rows) -> list[int]:
    return [int(row["Card"]) for row in rows]


@pytest.fixture
def warehouse_card(manager, outsider):
    """A card of another team (Warehouse), owned by the outsider."""
    stock = RequestTypeFactory(name="Stock check", default_team=TeamFactory(name="Warehouse"))
    return make_task(actor=manager, owner=outsider, request_type=stock, title="Count pallets")


def test_the_list_page_links_the_csv_with_its_filters(manager, card):
    response = client_for(manager).get(reverse("task_list"), {"priority": "high", "q": "x y"})
    assert f'href="{EXPORT}?priority=high&amp;q=x+y"' in response.content.decode()
    htmx = client_for(manager).get(reverse("task_list"), {"q": "Lead"}, HTTP_HX_REQUEST="true")
    assert f'href="{EXPORT}?q=Lead"' in htmx.content.decode()  # the swapped rows keep it


def test_a_card_row_has_the_columns_a_user_expects(manager, performer, world, card):
    client = client_for(manager)
    client.cookies["tz"] = "Asia/Tokyo"
    header, rows, _ = download(client)
    assert header[:8] == ["Card", "Title", "Status", "Priority", "Request type", "Team",
                          "Owner", "Related object"]  # fmt: skip
    (row,) = rows
    assert row["Card"] == str(card.pk) and row["Title"] == "Lead"
    assert row["Status"] == card.get_status_display()
    assert row["Priority"] == card.get_priority_display()
    assert row["Request type"] == world["request_type"].name
    assert row["Team"] == "Sales" and row["Owner"] == "Paula Performer"
    assert row["Related object"] == ""
    created = datetime.fromisoformat(row["Created"])
    assert created.utcoffset().total_seconds() == 9 * 3600  # the viewer's zone, with offset
    assert created == card.created_at
    due = SlaTimer.objects.get(task=card, kind=TimerKind.RESOLUTION).due_at
    assert datetime.fromisoformat(row["Resolution due"]) == due
    assert row["Resolution due"].endswith("+09:00")


@pytest.mark.parametrize(
    "query",
    [
        {"priority": "high"},
        {"q": "invoice"},
        {"status": ["new"]},
        {"status": ["assigned", "done"]},
        {"no_owner": "true"},
        {"q": "invoice", "priority": "high", "open": "true"},
    ],
)
def test_the_csv_has_exactly_the_cards_of_the_lists_filters(query, manager, performer, team):
    for n, (priority, title, owner) in enumerate([
        (Priority.HIGH, "Invoice missing", performer),
        (Priority.NORMAL, "Invoice late", None),
        (Priority.HIGH, "New desk", None),
        (Priority.LOW, "Printer", performer),
    ]):  # fmt: skip
        make_task(actor=manager, owner=owner, priority=priority, title=f"{title} {n}",
                  request_type=RequestTypeFactory(name="Lead", default_team=team))  # fmt: skip
    client = client_for(manager)
    listed = client.get(reverse("task_list"), query).context["filter"].qs
    _, rows, response = download(client, query)
    assert ids(rows) == [task.pk for task in listed]
    assert 0 < len(rows) < Task.objects.count()
    assert "X-Ignored-Filters" not in response


def test_another_teams_card_is_never_exported(performer, card, warehouse_card):
    client = client_for(performer)
    assert ids(download(client)[1]) == [card.pk]
    team = warehouse_card.team_id
    assert ids(download(client, {"team": team})[1]) == []
    assert ids(download(client, {"q": f"#{warehouse_card.pk}"})[1]) == []
    assert ids(download(client, {"q": "pallets"})[1]) == []


def test_a_manager_exports_every_team(manager, card, warehouse_card):
    assert ids(download(client_for(manager))[1]) == [warehouse_card.pk, card.pk]


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://evil","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
     "\t=1+1", "\r=1+1"],
)  # fmt: skip
def test_a_cell_starting_like_a_formula_is_made_text(text, manager, performer, request_type):
    client = client_for(manager)
    about = RelatedObjectFactory(name=text)
    title = text if text[0] not in "\t\r" else "Plain title"  # a title is one line
    make_task(actor=manager, owner=performer, request_type=request_type, title=title,
              related_object=about)  # fmt: skip
    (row,) = download(client)[1]
    assert row["Related object"] == "'" + text
    assert row["Title"] == ("'" + text if title == text else title)
    assert int(row["Card"]) > 0  # the number stays a number


@pytest.mark.parametrize("text", ["Acme", "a=b", " =1", "'=1"])
def test_other_cells_are_left_alone(text, manager, performer, request_type):
    about = RelatedObjectFactory(name=text)
    make_task(actor=manager, owner=performer, request_type=request_type, related_object=about)
    (row,) = download(client_for(manager))[1]
    assert row["Related object"] == text


def test_login_is_required(client, card):
    response = client.get(EXPORT)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_only_get(manager, card):
    client = client_for(manager)
    assert client.post(EXPORT).status_code == 405
    assert client.head(EXPORT).status_code == 405


@pytest.mark.parametrize(("query", "flagged"), LIST_QUERIES)
def test_bad_filters_are_ignored_and_named_as_on_the_list(query, flagged, world, card):
    _, rows, response = download(client_for(world["performer"]), query)
    assert ids(rows) in ([card.pk], [])  # ignored filters; a search may match nothing
    if flagged:
        assert flagged in response["X-Ignored-Filters"].split(", ")
    else:
        assert "X-Ignored-Filters" not in response


def _queries(client, query) -> int:
    with CaptureQueriesContext(connection) as queries:
        download(client, query)
    return len(queries)


def test_the_query_count_does_not_grow_with_the_cards(manager, performer, request_type, team):
    client = client_for(manager)
    query = {"team": team.pk, "owner": performer.pk, "open": "true"}
    make_task(actor=manager, owner=performer, request_type=request_type, title="First")
    few = _queries(client, query)
    for n in range(30):
        about = RelatedObjectFactory()
        make_task(actor=manager, owner=performer, request_type=request_type, title=f"Card {n}",
                  related_object=about)  # fmt: skip
    assert len(download(client, query)[1]) == 31
    assert _queries(client, query) == few <= 8
