"""Garbage in the query strings of the card screens (the card list, the at-risk queue, the
dispatch board, My work): 200 with the filter ignored and flagged, never a 500 (issue 12)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tasks.models import Task
from tests.factories import make_task
from tests.tasks.bad_input import client_for, shown_errors

pytestmark = pytest.mark.django_db
FLAGGED = "Some filters were not understood and were ignored"
HUGE = "9" * 25  # beyond any integer column

# (query, the filter flagged as not understood, or None when the parameter is ignored).
LIST_QUERIES = [
    pytest.param({"page": "abc"}, None, id="page-garbage"),
    pytest.param({"page": "-1"}, None, id="page-negative"),
    pytest.param({"page": "0"}, None, id="page-zero"),
    pytest.param({"page": str(10**9)}, None, id="page-beyond"),
    pytest.param({"page": HUGE}, None, id="page-huge"),
    pytest.param({"team": "abc"}, "team", id="team-garbage"),
    pytest.param({"team": "999999"}, "team", id="team-unknown"),
    pytest.param({"team": HUGE}, "team", id="team-huge"),
    pytest.param({"owner": "-1"}, "owner", id="owner-negative"),
    pytest.param({"request_type": "1.5"}, "request_type", id="type-fraction"),
    pytest.param({"client": "abc"}, "client", id="client-garbage"),
    pytest.param({"blocking_reason": HUGE}, "blocking_reason", id="reason-huge"),
    pytest.param({"priority": "bogus"}, "priority", id="priority-bogus"),
    pytest.param({"status": "bogus"}, "status", id="status-bogus"),
    pytest.param({"status": ["open", "done"]}, "status", id="status-one-bogus-of-two"),
    pytest.param({"open": "maybe"}, None, id="open-garbage"),
    pytest.param({"no_owner": "perhaps"}, None, id="no-owner-garbage"),
    pytest.param({"sort": "bogus"}, "sort", id="sort-unknown"),
    pytest.param({"sort": "-"}, "sort", id="sort-dash-only"),
    pytest.param({"created_at": "9999-12-31"}, None, id="date-unknown-param"),
    pytest.param({"q": "x" * 5000}, "q", id="q-very-long"),
    pytest.param({"q": "a\x00b"}, "q", id="q-nul"),
    pytest.param({"q": "#" + HUGE}, None, id="q-huge-card-number"),
    pytest.param({"q": "%_\\"}, None, id="q-like-wildcards"),
]  # fmt: skip


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize(("query", "flagged"), LIST_QUERIES)
def test_the_card_list_ignores_and_flags_garbage(query, flagged, htmx, world, card):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client_for(world["performer"]).get(reverse("task_list"), query, **headers)
    assert response.status_code == 200
    errors = shown_errors(response)
    if flagged:
        assert FLAGGED in errors and f"{flagged} (" in errors
    else:
        assert FLAGGED not in errors
    assert Task.objects.count() == 1


QUEUE_QUERIES = [
    pytest.param({"page": "abc"}, None, id="page-garbage"),
    pytest.param({"page": "-1"}, None, id="page-negative"),
    pytest.param({"page": str(10**9)}, None, id="page-beyond"),
    pytest.param({"team": "abc"}, "team", id="team-garbage"),
    pytest.param({"team": HUGE}, "team", id="team-huge"),
    pytest.param({"owner": "999999"}, None, id="owner-unknown"),
    pytest.param({"client": "-2"}, "client", id="client-negative"),
    pytest.param({"priority": "bogus"}, "priority", id="priority-bogus"),
    pytest.param({"status": "done"}, "status", id="status-closed"),
    pytest.param({"timer": "zzz"}, "timer", id="timer-bogus"),
    pytest.param({"kind": "bogus"}, "kind", id="kind-bogus"),
    pytest.param({"sort": "bogus", "q": "x" * 5000}, None, id="unknown-params"),
    pytest.param({"teams": "everyone"}, None, id="teams-unknown"),
    pytest.param({"teams": ["all", "mine"]}, None, id="teams-twice"),
    pytest.param({"teams": "\x00" * 3}, None, id="teams-nul"),
]  # fmt: skip


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize(("query", "flagged"), QUEUE_QUERIES)
def test_the_at_risk_queue_ignores_and_flags_garbage(query, flagged, htmx, world, card):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client_for(world["manager"]).get(reverse("at_risk"), query, **headers)
    assert response.status_code == 200
    errors = shown_errors(response)
    if flagged:
        assert FLAGGED in errors and f"{flagged} (" in errors
    else:
        assert FLAGGED not in errors


BOARD_QUERIES = [
    pytest.param({"page": "abc"}, id="page-garbage"),
    pytest.param({"page": "-1", "team": "abc"}, id="page-negative"),
    pytest.param({"priority": "bogus", "status": "bogus", "sort": "bogus"}, id="filters-bogus"),
    pytest.param({"due": "0001-01-01", "q": "\x00" * 3}, id="date-and-nul"),
    pytest.param({"teams": "x" * 5000}, id="teams-long"),
    pytest.param({"teams": ["mine", "all"]}, id="teams-twice"),
    pytest.param({"teams": "\x00"}, id="teams-nul"),
]


@pytest.mark.parametrize("screen", ["dispatch", "my_work"])
@pytest.mark.parametrize("query", BOARD_QUERIES)
def test_the_dispatch_board_and_my_work_ignore_query_strings(screen, query, world, card):
    make_task(actor=world["dispatcher"], request_type=world["request_type"], title="Unowned")
    user = world["dispatcher"] if screen == "dispatch" else world["performer"]
    response = client_for(user).get(reverse(screen), query)
    assert response.status_code == 200
    assert b"#%d Lead" % card.pk in response.content


ADMIN_QUERIES = [
    pytest.param({"q": "a\x00b"}, id="search-nul"),
    pytest.param({"q": "x" * 5000}, id="search-long"),
    pytest.param({"q": "9" * 25}, id="search-huge-id"),
    pytest.param({"created_at__year": "99999"}, id="year-beyond"),
    pytest.param({"created_at__year": "0"}, id="year-zero"),
    pytest.param({"created_at__year": "2026", "created_at__month": "13"}, id="month-13"),
    pytest.param({"created_at__year": "2026", "created_at__month": "2",
                  "created_at__day": "30"}, id="no-such-day"),
    pytest.param({"status__exact": "bogus"}, id="status-bogus"),
    pytest.param({"team__id__exact": "abc"}, id="team-garbage"),
    pytest.param({"team__id__exact": "9" * 25}, id="team-huge"),
    pytest.param({"p": "abc"}, id="page-garbage"),
    pytest.param({"p": "-5"}, id="page-negative"),
    pytest.param({"o": "bogus"}, id="order-bogus"),
]  # fmt: skip


@pytest.mark.parametrize("query", ADMIN_QUERIES)
def test_the_card_admins_list_answers_garbage_without_a_500(admin_client, query, card):
    response = admin_client.get(reverse("admin:tasks_task_changelist"), query)
    # The changelist, or Django's redirect to it flagged with ?e=1 (invalid lookups).
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert response["Location"].endswith("?e=1")
