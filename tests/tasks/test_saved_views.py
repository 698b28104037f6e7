"""Saved views: create, list, open, share, rename, delete; only the owner writes; bad input is a
400 with its message."""

import pytest
from django.urls import reverse

from tasks.models import SavedView

pytestmark = pytest.mark.django_db

NEW = reverse("saved_view_create")


def _save(client, user, **data):
    client.force_login(user)
    return client.post(NEW, {"page": "cards", "name": "Mine", "query": "", **data})


def test_create_keeps_only_known_filters_and_opens_the_page(client, performer):
    response = _save(
        client, performer, query="priority=high&page=3&evil=1&sort=-due&q=x%00y&status=new"
    )
    view = SavedView.objects.get()
    assert view.query == "priority=high&sort=-due&status=new"
    assert response.status_code == 302
    assert response["Location"] == reverse("task_list") + "?" + view.query


def test_queue_view_opens_the_queue(client, performer):
    _save(client, performer, page="queue", query="timer=resolution&sort=x")
    view = SavedView.objects.get()
    assert view.query == "timer=resolution"
    listing = client.get(reverse("saved_views"))
    assert reverse("at_risk") + "?timer=resolution" in listing.content.decode()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "needs a name"),
        ("   ", "needs a name"),
        ("x" * 81, "at most 80"),
        ("a\x00b", "one line"),
        ("a\nb", "one line"),
    ],
)
def test_bad_names_are_400_with_the_message(client, performer, name, message):
    response = _save(client, performer, name=name)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SavedView.objects.exists()


def test_duplicate_name_on_the_same_page_is_400(client, performer):
    _save(client, performer)
    response = _save(client, performer)
    assert response.status_code == 400
    assert "already have a view" in response.content.decode()
    assert _save(client, performer, page="queue").status_code == 302  # another page: fine


def test_bad_page_and_too_long_query_are_400(client, performer):
    assert _save(client, performer, page="reports").status_code == 400
    response = _save(client, performer, query="q=" + "x" * 1200)
    assert response.status_code == 400
    assert "too long" in response.content.decode()


def test_share_only_with_own_team(client, performer, team, outsider):
    warehouse = outsider.teams.get()
    response = _save(client, performer, team=str(warehouse.pk))
    assert response.status_code == 400
    assert "only with a team" in response.content.decode()
    assert _save(client, performer, team="nope").status_code == 400
    assert _save(client, performer, team=str(team.pk)).status_code == 302
    assert SavedView.objects.get().team == team


def test_shared_view_is_seen_by_the_team_but_read_only(
    client, performer, other_performer, team, outsider
):
    _save(client, performer, name="Team view", team=str(team.pk))
    _save(client, performer, name="Private")
    shared = SavedView.objects.get(name="Team view")
    client.force_login(other_performer)
    page = client.get(reverse("saved_views")).content.decode()
    assert "Team view" in page and "Private" not in page
    rename = reverse("saved_view_rename", args=[shared.pk])
    assert client.post(rename, {"name": "Hijack"}).status_code == 403
    assert client.post(reverse("saved_view_delete", args=[shared.pk])).status_code == 403
    client.force_login(outsider)
    assert "Team view" not in client.get(reverse("saved_views")).content.decode()
    assert client.post(reverse("saved_view_delete", args=[shared.pk])).status_code == 404
    shared.refresh_from_db()
    assert shared.name == "Team view"


def test_owner_renames_and_deletes(client, performer):
    _save(client, performer, name="One")
    _save(client, performer, name="Two")
    one = SavedView.objects.get(name="One")
    rename = reverse("saved_view_rename", args=[one.pk])
    assert client.post(rename, {"name": "Two"}).status_code == 400
    assert client.post(rename, {"name": ""}).status_code == 400
    assert client.post(rename, {"name": "Uno"}).status_code == 302
    one.refresh_from_db()
    assert one.name == "Uno"
    assert client.post(reverse("saved_view_delete", args=[one.pk])).status_code == 302
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Two"]


def test_login_required_and_post_only(client, performer):
    assert client.post(NEW, {"page": "cards", "name": "x"}).status_code == 302
    assert not SavedView.objects.exists()
    client.force_login(performer)
    assert client.get(NEW).status_code == 405


def test_list_query_count_is_constant(client, performer, team, django_assert_max_num_queries):
    for n in range(5):
        _save(client, performer, name=f"v{n}", team=str(team.pk))
    with django_assert_max_num_queries(12) as ctx:
        client.get(reverse("saved_views"))
    first = len(ctx.captured_queries)
    for n in range(5, 15):
        _save(client, performer, name=f"v{n}")
    with django_assert_max_num_queries(first):
        client.get(reverse("saved_views"))


@pytest.mark.parametrize(("url", "page"), [("task_list", "cards"), ("at_risk", "queue")])
def test_pages_offer_save_this_view(client, manager, team, url, page):
    client.force_login(manager)
    body = client.get(reverse(url) + "?priority=high").content.decode()
    assert 'name="page" value="' + page + '"' in body
    assert 'name="query" value="priority=high"' in body
