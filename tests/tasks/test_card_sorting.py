"""Sorting the card list by its columns (`?sort=`): meaning order for priority and status,
empty values last, stable pages, headings that say how the list is sorted, bad values
ignored with a message, the CSV in the same order."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from tasks import actions
from tasks.models import Priority, Status
from tests.factories import make_task
from tests.tasks.bad_input import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def cards(manager, performer, other_performer, request_type):
    made = {}
    for title, priority, owner in (
        ("bravo", Priority.LOW, performer),
        ("Alpha", Priority.CRITICAL, None),
        ("charlie", Priority.HIGH, other_performer),
        ("delta", Priority.NORMAL, performer),
    ):
        made[title] = make_task(
            actor=manager, title=title, priority=priority, owner=owner, request_type=request_type
        )
    actions.change_status(task=made["delta"], to=Status.IN_PROGRESS, actor=performer)
    return made


def titles(client, **params) -> list[str]:
    response = client.get(reverse("task_list"), params)
    assert response.status_code == 200
    return [t.title for t in response.context["page"]]


def test_priority_sorts_by_urgency_not_alphabetically(manager, cards):
    client = client_for(manager)
    assert titles(client, sort="priority") == ["Alpha", "charlie", "delta", "bravo"]
    assert titles(client, sort="-priority") == ["bravo", "delta", "charlie", "Alpha"]


def test_status_title_and_owner_sort_with_empty_owners_last(manager, cards):
    client = client_for(manager)
    assert titles(client, sort="status")[-1] == "delta"  # in progress after new / assigned
    assert titles(client, sort="title") == ["Alpha", "bravo", "charlie", "delta"]  # any case
    by_owner = titles(client, sort="owner")
    assert by_owner[-1] == "Alpha"  # no owner: last either way
    assert titles(client, sort="-owner")[-1] == "Alpha"
    assert by_owner[:2] == ["bravo", "delta"] or by_owner[:2] == ["delta", "bravo"]


def test_equal_values_keep_a_stable_order_across_pages(manager, performer, request_type):
    for n in range(30):
        make_task(actor=manager, title=f"same {n}", owner=performer, request_type=request_type)
    client = client_for(manager)
    first = titles(client, sort="priority")
    second = titles(client, sort="priority", page=2)
    assert len(first) == 25 and len(second) == 5
    assert not set(first) & set(second)


def test_the_headings_link_to_their_sort_and_say_the_current_one(manager, cards):
    client = client_for(manager)
    page = client.get(reverse("task_list"), {"sort": "priority", "open": "true"}).content.decode()
    assert 'aria-sort="ascending"><a href="?sort=-priority&amp;open=true">Priority' in page
    assert 'aria-sort="none"><a href="?sort=title&amp;open=true">Card' in page


def test_an_unknown_sort_is_ignored_and_said(manager, cards):
    client = client_for(manager)
    response = client.get(reverse("task_list"), {"sort": "password"})
    assert response.status_code == 200
    assert "is not a column the list sorts by" in response.content.decode()
    assert len(response.context["page"]) == 4


def test_the_csv_follows_the_sort(manager, cards):
    response = client_for(manager).get(reverse("task_list_csv"), {"sort": "-priority"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    title = rows[0].index("Title")
    assert [r[title] for r in rows[1:]] == ["bravo", "delta", "charlie", "Alpha"]


def test_sorting_costs_no_extra_query(manager, cards, django_assert_max_num_queries):
    client = client_for(manager)
    with django_assert_max_num_queries(13):  # as unsorted (tests/tasks/test_views.py)
        response = client.get(reverse("task_list"), {"sort": "-owner"})
    assert response.status_code == 200


# --- the dispatch board: the same columns, each list sorted --------------------------------


def board(client, **params) -> dict[str, list[str]]:
    response = client.get(reverse("dispatch"), params)
    assert response.status_code == 200
    return {lst["name"]: [t.title for t in lst["cards"]] for lst in response.context["lists"]}


def test_the_dispatch_board_sorts_each_list_by_a_column(
    dispatcher, cards, django_assert_max_num_queries
):
    client = client_for(dispatcher)
    # Owned cards without a next step: bravo (low), charlie (high), delta (normal).
    assert board(client)["no_next_step"] == ["bravo", "charlie", "delta"]  # oldest first
    with django_assert_max_num_queries(12):
        by_priority = board(client, sort="priority")
    assert by_priority["no_next_step"] == ["charlie", "delta", "bravo"]
    assert board(client, sort="-priority")["no_next_step"] == ["bravo", "delta", "charlie"]
    assert board(client, sort="-title")["no_next_step"] == ["delta", "charlie", "bravo"]
    html = client.get(reverse("dispatch"), {"sort": "priority"}).content.decode()
    assert '<th aria-sort="ascending"><a href="?sort=-priority">Priority' in html
    assert '<th aria-sort="none"><a href="?sort=title">Card' in html
    assert "oldest first again" in html


def test_the_dispatch_board_ignores_a_bad_sort_with_a_message(dispatcher, cards):
    client = client_for(dispatcher)
    response = client.get(reverse("dispatch"), {"sort": "password"})
    assert response.status_code == 200
    assert "is not a column the board sorts by (ignored)" in response.content.decode()
    assert board(client, sort="password")["no_next_step"] == ["bravo", "charlie", "delta"]


# --- the at-risk queue: ranked by risk, or sorted by a column of the card ------------------


def queue(client, **params) -> list[str]:
    response = client.get(reverse("at_risk"), params, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    rows = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr ")[1:]
    return [re.search(r'<a href="[^"]*">#\d+ (.*?)</a>', row).group(1) for row in rows]


def test_the_at_risk_queue_sorts_by_a_column_and_back_to_the_risk_ranking(
    manager, default_policy, cards, django_assert_max_num_queries
):
    client = client_for(manager)
    ranked = queue(client)
    assert sorted(ranked) == sorted(
        ["Alpha", "Alpha", "bravo", "bravo", "charlie", "charlie", "delta"]
    )  # fmt: skip  (delta's response timer stopped)
    with django_assert_max_num_queries(8):
        by_priority = queue(client, sort="priority")
    assert by_priority == ["Alpha", "Alpha", "charlie", "charlie", "delta", "bravo", "bravo"]
    assert queue(client, sort="-title")[:2] == ["delta", "charlie"]
    html = client.get(reverse("at_risk"), {"sort": "priority"}).content.decode()
    assert '<th aria-sort="ascending"><a href="?sort=-priority">Priority' in html
    # "Remaining" leads back to the ranking; the filter form keeps the sort.
    assert '<th class="time-left" aria-sort="none"><a href="?"' in html
    assert '<input type="hidden" name="sort" value="priority">' in html
    assert (
        '<th class="time-left" aria-sort="ascending">'
        in client.get(reverse("at_risk")).content.decode()
    )


def test_the_at_risk_queue_ignores_a_bad_sort_with_a_message(manager, default_policy, cards):
    client = client_for(manager)
    response = client.get(reverse("at_risk"), {"sort": "password"})
    assert response.status_code == 200
    assert "is not a column the queue sorts by (ignored)" in response.content.decode()
    assert len(queue(client, sort="password")) == 7
