"""The dashboards: ranking, filters, permissions, bad input and query budgets."""

import re
from datetime import time, timedelta
from html import unescape

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.forms.renderers import Jinja2
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sla.jobs import scan_due_timers
from sla.models import BusinessCalendar, SlaTimer, WorkingInterval
from sla.queries import BREACHED, band_counts, risk_counts, risk_page, with_band, with_risk
from tasks import actions
from tasks.boards.dispatch import BOARD_LIMIT, BOARD_LISTS, board_counts, board_lists
from tasks.filters import AtRiskFilter, Select, SelectMultiple
from tasks.models import BlockingReason, Priority, RelatedObject, RequestType, Status, Task, Team
from tests.factories import (
    BlockingReasonFactory,
    RelatedObjectFactory,
    RequestTypeFactory,
    TeamFactory,
    UserFactory,
    make_task,
    sla_policy,
)

pytestmark = pytest.mark.django_db
H = timedelta(hours=1)


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def card_created(ago, *, actor, owner=None, **kwargs):
    return make_task(actor=actor, owner=owner, at=timezone.now() - ago, **kwargs)


def queue_titles(response):
    html = response.content.decode()
    rows = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr ")[1:]
    return [row.split("</a>", 1)[0].rsplit(" ", 1)[-1] for row in rows]


def test_breached_timers_come_first_then_the_smallest_share_of_target_left(
    manager, performer, request_type, default_policy, always
):
    long_type = RequestTypeFactory(name="Long")
    sla_policy("Long", always, 10 * H, 40 * H, request_type=long_type, order=1)
    # Default targets: resolution 8 h. Created 7 h ago: 1/8 left. Created 9 h ago: breached.
    card_created(7 * H, actor=manager, owner=performer, request_type=request_type, title="Eighth")
    card_created(9 * H, actor=manager, owner=performer, request_type=request_type, title="Late")
    # Long targets: 40 h resolution, created 30 h ago: 1/4 left (more wall time, larger share).
    card_created(30 * H, actor=manager, owner=performer, request_type=long_type, title="Quarter")
    response = client_for(manager).get(reverse("at_risk"), {"kind": "resolution"})
    assert queue_titles(response) == ["Late", "Eighth", "Quarter"]


def test_business_time_left_not_wall_clock_time_ranks_a_friday_evening_deadline(
    manager, performer, request_type, always
):
    """An office card due Monday 10:00 seen on Friday evening has one business hour left,
    however many wall-clock hours the weekend has."""
    office = BusinessCalendar.objects.create(name="Office", timezone="UTC")
    for day in range(7):  # open every day 09-17 except around "now"
        WorkingInterval.objects.create(calendar=office, weekday=day, start=time(9), end=time(17))
    office_type = RequestTypeFactory(name="Office work")
    sla_policy("Office", office, 30 * H, 30 * H, request_type=office_type, order=1)
    sla_policy("Default", always, 100 * H, 100 * H, is_default=True)
    card_created(timedelta(0), actor=manager, owner=performer, request_type=office_type,
                 title="Office")  # fmt: skip
    card_created(50 * H, actor=manager, owner=performer, request_type=request_type,
                 title="Always")  # fmt: skip
    response = client_for(manager).get(reverse("at_risk"), {"kind": "resolution"})
    # Office: nothing used yet (100 % left). Always: 50 of 100 h used (50 % left).
    assert queue_titles(response) == ["Always", "Office"]


def test_the_queue_partial_keeps_filters_and_counts_bands(
    manager, performer, request_type, default_policy
):
    card_created(9 * H, actor=manager, owner=performer, request_type=request_type, title="Late")
    card_created(H / 2, actor=manager, owner=performer, request_type=request_type, title="Fresh")
    card_created(9 * H, actor=manager, owner=performer, request_type=request_type,
                 title="Low", priority=Priority.LOW)  # fmt: skip
    response = client_for(manager).get(
        reverse("at_risk"), {"priority": "normal", "kind": "resolution"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "<html" not in html
    assert 'hx-trigger="every 30s"' in html
    assert "priority=normal" in html and "kind=resolution" in html  # the poll keeps filters
    assert queue_titles(response) == ["Late", "Fresh"]
    assert "1 breached" in html and "1 running" in html


def test_timer_state_filter(manager, performer, request_type, default_policy):
    card_created(9 * H, actor=manager, owner=performer, request_type=request_type, title="Late")
    card_created(H / 2, actor=manager, owner=performer, request_type=request_type, title="Fresh")
    client = client_for(manager)
    response = client.get(reverse("at_risk"), {"timer": "breached", "kind": "resolution"})
    assert queue_titles(response) == ["Late"]
    response = client.get(reverse("at_risk"), {"timer": "running", "kind": "resolution"})
    assert queue_titles(response) == ["Fresh"]


def test_bogus_queue_filters_are_reported_not_a_500(manager, default_policy):
    response = client_for(manager).get(
        reverse("at_risk"), {"priority": "urgent!", "team": "x", "timer": "zzz", "page": "9"}
    )
    assert response.status_code == 200
    assert b"Some filters were not understood" in response.content


def _options(html: str, name: str) -> list[tuple[str, str]]:
    select = html.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
    return [
        (value, unescape(label))
        for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
    ]


def test_the_filter_choices_are_read_in_one_query_and_are_each_querysets(
    manager, performer, default_policy, django_assert_max_num_queries
):
    # Created in reverse name order so that model ordering and key order differ.
    for name in ("Zeta", "Alpha & Co"):
        TeamFactory(name=name)
        RequestTypeFactory(name=f"{name} type")
        BlockingReasonFactory(name=f"{name} reason")
    client_z = RelatedObjectFactory(name="Zulu", kind=RelatedObject.Kind.CLIENT)
    RelatedObjectFactory(name="Order of Zulu", kind=RelatedObject.Kind.ORDER, parent=client_z)
    RelatedObjectFactory(name="Able <candidate>", kind=RelatedObject.Kind.CANDIDATE)
    UserFactory(username="gone", is_active=False)
    UserFactory(username="aaron")
    client = client_for(manager)
    client.get(reverse("at_risk"))  # warm the calendar cache
    cache.clear()
    with django_assert_max_num_queries(8):
        html = client.get(reverse("at_risk")).content.decode()
    expected = {
        "team": Team.objects.all(),
        "owner": get_user_model().objects.filter(is_active=True).order_by("pk"),
        "request_type": RequestType.objects.all(),
        "client": RelatedObject.objects.filter(parent__isnull=True),
        "blocking_reason": BlockingReason.objects.all(),
    }
    for name, queryset in expected.items():
        wanted = [("", "Any")] + [(str(obj.pk), str(obj)) for obj in queryset]
        assert _options(html, name) == wanted, name
    assert (str(client_z.pk), "Client: Zulu") in _options(html, "client")
    # A chosen filter stays selected in the form.
    chosen = client.get(reverse("at_risk"), {"owner": performer.pk}).content.decode()
    owner_select = chosen.split('name="owner"', 1)[1].split("</select>", 1)[0]
    assert f'<option value="{performer.pk}" selected>' in owner_select


def _rendered_by(widget_class: type[forms.Widget], by) -> type[forms.Widget]:
    """The widget class, always rendered by the renderer `by`."""

    class Widget(widget_class):
        def render(self, name, value, attrs=None, renderer=None):
            return super().render(name, value, attrs, by)

    return Widget


def test_the_filter_selects_render_exactly_as_djangos_select_widgets(manager, performer):
    TeamFactory(name='Quotes "&" <tags>')
    RelatedObjectFactory(name="Ünïcode & Co", kind=RelatedObject.Kind.CLIENT)
    data = {"owner": str(performer.pk), "priority": ["high", "critical"], "status": "waiting",
            "team": "not-a-number", "timer": "zzz", "kind": "resolution"}  # fmt: skip
    django_jinja2 = Jinja2()  # Django's own widget templates for Jinja2
    for filters in (AtRiskFilter(data), AtRiskFilter()):
        form = filters.form
        form.is_valid()
        for bound in form:
            ours = bound.field.widget
            assert isinstance(ours, Select | SelectMultiple), bound.name
            plain_class = forms.SelectMultiple if ours.allow_multiple_selected else forms.Select
            plain = _rendered_by(plain_class, django_jinja2)(attrs=ours.attrs, choices=ours.choices)
            assert str(bound) == bound.as_widget(widget=plain), bound.name
    assert form.is_bound is False and "<option" in str(form["owner"])
    assert "&#34;&amp;&#34; &lt;tags&gt;" in str(AtRiskFilter(data).form["team"])


def test_the_queue_partial_renders_in_eight_queries_whatever_the_rows(
    manager, performer, request_type, default_policy, django_assert_max_num_queries
):
    for n in range(60):
        card_created(n * H / 8, actor=manager, owner=performer, request_type=request_type)
    client = client_for(manager)
    client.get(reverse("at_risk"))  # build the calendar cache once
    cache.clear()  # measure the uncached queue
    with django_assert_max_num_queries(8):
        response = client.get(reverse("at_risk"), HTTP_HX_REQUEST="true")
    assert len(queue_titles(response)) == 50
    cache.clear()
    with django_assert_max_num_queries(9):  # the page: + the nav's Approvals count
        response = client.get(reverse("at_risk"))
    assert len(queue_titles(response)) == 50


def test_the_queue_partial_stays_within_eight_queries_with_card_filters(
    manager, performer, team, request_type, default_policy, django_assert_max_num_queries
):
    for n in range(60):
        card_created(n * H / 8, actor=manager, owner=performer, request_type=request_type,
                     team=team, priority=Priority.HIGH)  # fmt: skip
    client = client_for(manager)
    query = {"team": team.pk, "priority": "high", "owner": performer.pk}
    client.get(reverse("at_risk"), query)  # build the calendar cache once
    cache.clear()  # measure the uncached queue
    with django_assert_max_num_queries(8):
        response = client.get(reverse("at_risk"), query, HTTP_HX_REQUEST="true")
    assert len(queue_titles(response)) == 50


def test_the_queue_is_served_from_a_short_cache_until_a_card_changes(
    manager, performer, request_type, default_policy, django_assert_max_num_queries
):
    card_created(9 * H, actor=manager, owner=performer, request_type=request_type, title="Late")
    client = client_for(manager)
    first = client.get(reverse("at_risk"), HTTP_HX_REQUEST="true")
    with django_assert_max_num_queries(5):  # session, user, permissions, scope: no timers read
        again = client.get(reverse("at_risk"), HTTP_HX_REQUEST="true")
    assert again.content == first.content
    assert queue_titles(client.get(reverse("at_risk"))) == ["Late", "Late"]  # page embeds it
    # Another scope (filters) is its own entry; a saved card drops every entry at once.
    assert queue_titles(client.get(reverse("at_risk"), {"timer": "running"})) == []
    card_created(H / 2, actor=manager, owner=performer, request_type=request_type, title="New")
    assert "New" in queue_titles(client.get(reverse("at_risk"), HTTP_HX_REQUEST="true"))


def test_people_outside_a_team_see_none_of_its_timers(outsider, manager, performer, request_type,
                                                     default_policy):  # fmt: skip
    card_created(H, actor=manager, owner=performer, request_type=request_type, title="Secret")
    response = client_for(outsider).get(reverse("at_risk"))
    assert response.status_code == 200
    assert queue_titles(response) == []


def test_a_user_without_any_role_cannot_see_the_queue_or_the_board(db):
    nobody = UserFactory(username="nobody")
    client = client_for(nobody)
    assert client.get(reverse("at_risk")).status_code == 403
    assert client.get(reverse("dispatch")).status_code == 403


def test_landing_page_by_role(manager, dispatcher, performer, observer):
    assert client_for(manager).get("/")["Location"] == reverse("at_risk")
    assert client_for(dispatcher).get("/")["Location"] == reverse("dispatch")
    assert client_for(performer).get("/")["Location"] == reverse("my_work")
    assert client_for(observer).get("/")["Location"] == reverse("task_list")


def test_dispatch_board_lists_unowned_late_and_nextless_cards_with_load(
    dispatcher, performer, request_type, default_policy
):
    unowned = make_task(actor=dispatcher, request_type=request_type, title="Unowned")
    owned = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Mine")
    actions.flag_for_dispatch(task=owned, reason="Not taken in time")
    # Late (both timers breached: one card at risk), and done (neither open nor at risk).
    card_created(9 * H, actor=dispatcher, owner=performer, request_type=request_type)
    done = card_created(9 * H, actor=dispatcher, owner=performer, request_type=request_type)
    actions.change_status(task=done, to=Status.DONE, actor=performer)
    response = client_for(dispatcher).get(reverse("dispatch"))
    html = response.content.decode()
    assert f"dispatch-row-{unowned.pk}" in html
    assert "Not taken in time" in html
    assert "Paula Performer — 2 open, 1 at risk" in html
    assert "Dan Dispatcher — 0 open, 0 at risk" in html
    # Each row's owner list has that row's owner selected, and only that row's.
    flagged = html.split(f'id="dispatch-row-{owned.pk}"', 1)[1].split("</tr>", 1)[0]
    assert f'<option selected value="{performer.pk}">Paula Performer' in flagged
    unowned_row = html.split(f'id="dispatch-row-{unowned.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "selected" not in unowned_row
    assert f'<option value="{performer.pk}">Paula Performer' in unowned_row


def test_dispatcher_assigns_from_the_board_and_gets_the_row_back(
    dispatcher, performer, request_type, default_policy
):
    card = make_task(actor=dispatcher, request_type=request_type, title="Unowned")
    response = client_for(dispatcher).post(
        reverse("dispatch_assign", args=[card.pk]),
        {"owner": performer.pk, "version": card.version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="dispatch-row-{card.pk}"')
    assert "Assigned to Paula Performer" in html
    card.refresh_from_db()
    assert (card.owner, card.status) == (performer, Status.ASSIGNED)


def test_board_assignment_bad_input(dispatcher, performer, outsider, request_type, default_policy):
    card = make_task(actor=dispatcher, request_type=request_type, title="Unowned")
    client = client_for(dispatcher)
    url = reverse("dispatch_assign", args=[card.pk])
    assert client.post(url, {"owner": ""}, HTTP_HX_REQUEST="true").status_code == 400
    assert client.post(url, {"owner": "abc"}, HTTP_HX_REQUEST="true").status_code == 400
    assert client.post(url, {"owner": 999999}, HTTP_HX_REQUEST="true").status_code == 400
    stale = client.post(url, {"owner": performer.pk, "version": card.version + 5},
                        HTTP_HX_REQUEST="true")  # fmt: skip
    assert stale.status_code == 409
    assert b"changed by someone else" in stale.content
    unknown = reverse("dispatch_assign", args=[999999])
    assert client.post(unknown, {"owner": performer.pk}).status_code == 404
    card.refresh_from_db()
    assert card.owner is None
    # A performer may not assign, and neither may a dispatcher of another team.
    assert client_for(performer).post(url, {"owner": performer.pk}).status_code == 403
    assert client_for(outsider).post(url, {"owner": outsider.pk}).status_code == 403
    card.refresh_from_db()
    assert card.owner is None


def test_dispatch_board_renders_in_eight_queries_whatever_the_rows(
    dispatcher, performer, request_type, default_policy, django_assert_max_num_queries
):
    for n in range(60):
        make_task(actor=dispatcher, request_type=request_type, title=f"U{n}")
        make_task(actor=dispatcher, owner=performer, request_type=request_type, title=f"O{n}")
    client = client_for(dispatcher)
    client.get(reverse("dispatch"))
    cache.clear()
    with django_assert_max_num_queries(8):
        response = client.get(reverse("dispatch"))
    assert response.status_code == 200
    assert response.content.count(b'<tr id="dispatch-row-') == 2 * BOARD_LIMIT


def test_the_boards_lists_in_one_query_are_the_three_lists_each_read_alone(
    dispatcher, performer, request_type, default_policy
):
    """A card can be in two lists (new, unowned and flagged as not taken in time); each list
    keeps its own first BOARD_LIMIT cards, oldest first, and counts all of its cards."""
    now = timezone.now()
    flag = "Not taken in time"
    for n in range(BOARD_LIMIT + 5):  # unowned, oldest first: U50-U54 past the first 50
        card = make_task(actor=dispatcher, request_type=request_type, title=f"U{n}",
                         at=now - (200 - n) * H)  # fmt: skip
        if n < 5 or n in (52, 53):  # flagged too: U52 and U53 among the first 50 flagged only
            actions.flag_for_dispatch(task=card, reason=flag)
    for n in range(2 * BOARD_LIMIT):  # owned, younger than every unowned card
        card = make_task(actor=dispatcher, owner=performer, request_type=request_type,
                         title=f"O{n}", at=now - timedelta(minutes=59 - n / 2))  # fmt: skip
        if n % 4 == 0:
            actions.set_next_step(task=card, text="Call back", due=None, actor=dispatcher)
        elif n % 4 in (1, 2):
            actions.flag_for_dispatch(task=card, reason=flag)
        elif n % 8 == 3:
            actions.flag_for_dispatch(task=card, reason="Escalated: resolution breached")
    cards = Task.objects.open().order_by("created_at", "pk")
    expected = {
        "unowned": cards.filter(owner__isnull=True),
        "not_taken": cards.not_taken_in_time(),
        "escalated": cards.escalated_to_dispatch(),
        "no_next_step": cards.filter(owner__isnull=False, next_step="", dispatch_flag=""),
    }
    lists, counts = board_lists(dispatcher), board_counts(dispatcher)
    assert list(lists) == list(counts) == list(expected) == list(BOARD_LISTS)
    for name, queryset in expected.items():
        wanted = list(queryset.values_list("pk", flat=True)[:BOARD_LIMIT])
        assert [task.pk for task in lists[name]] == wanted, name
        assert 0 < len(wanted) <= BOARD_LIMIT
        assert counts[name] == queryset.count() >= len(wanted), name
    assert len(lists["unowned"]) == len(lists["not_taken"]) == BOARD_LIMIT
    titles = {name: [t.title for t in tasks] for name, tasks in lists.items()}
    assert {"U0", "U4", "U52", "U53"} <= set(titles["not_taken"])
    assert "U4" in titles["unowned"] and "U52" not in titles["unowned"]


def test_my_work_lists_my_cards_breached_first_with_quick_actions(
    performer, other_performer, dispatcher, request_type, default_policy
):
    card_created(H / 2, actor=dispatcher, owner=performer, request_type=request_type, title="Soon")
    card_created(9 * H, actor=dispatcher, owner=performer, request_type=request_type, title="Late")
    card_created(H, actor=dispatcher, owner=other_performer, request_type=request_type,
                 title="Theirs")  # fmt: skip
    html = client_for(performer).get(reverse("my_work")).content.decode()
    assert html.index("Late") < html.index("Soon")
    assert "Theirs" not in html
    assert "Take into work" in html


def test_my_work_lists_the_cards_i_perform_for_someone_else_too(
    performer, other_performer, dispatcher, request_type, default_policy
):
    theirs = make_task(actor=dispatcher, owner=other_performer, request_type=request_type,
                       title="Helping out")  # fmt: skip
    actions.set_performers(task=theirs, users=[performer], actor=dispatcher)
    make_task(actor=dispatcher, owner=other_performer, request_type=request_type, title="Not me")
    html = client_for(performer).get(reverse("my_work")).content.decode()
    assert "Helping out" in html
    assert "Not me" not in html


def test_quick_actions_from_my_work(performer, other_performer, dispatcher, request_type,
                                    default_policy):  # fmt: skip
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Go")
    reason = BlockingReasonFactory(name="Waiting for documents")
    client = client_for(performer)
    url = reverse("my_work_status", args=[card.pk])
    missing = client.post(url, {"to": "waiting", "version": card.version}, HTTP_HX_REQUEST="true")
    assert missing.status_code == 400
    assert b"Say what the card is waiting for" in missing.content
    response = client.post(
        url,
        {"to": "waiting", "blocking_reason": reason.pk, "version": card.version},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b"Waiting for documents" in response.content
    card.refresh_from_db()
    assert card.status == Status.WAITING
    assert client_for(other_performer).post(
        url, {"to": "done", "version": card.version}
    ).status_code in (403,)


def test_my_work_query_count_does_not_grow(
    performer, dispatcher, request_type, default_policy, django_assert_max_num_queries
):
    for n in range(60):
        make_task(actor=dispatcher, owner=performer, request_type=request_type, title=f"C{n}")
    client = client_for(performer)
    client.get(reverse("my_work"))
    cache.clear()
    with django_assert_max_num_queries(8):
        response = client.get(reverse("my_work"))
    assert response.content.count(b'class="work-card"') == 60


@pytest.fixture
def mixed_queue(manager, performer, request_type, always):
    """Open timers in every band, over two calendars and several targets, with breaches
    stamped by the scan (some at the same instant), unstamped ones and paused clocks."""
    office = BusinessCalendar.objects.create(name="Office", timezone="UTC")
    for day in range(7):  # closed an hour a day: business time differs from wall time
        WorkingInterval.objects.create(calendar=office, weekday=day, start=time(0), end=time(23))
    sla_policy("Default", always, 1 * H, 8 * H, is_default=True)
    short, office_type = RequestTypeFactory(name="Short"), RequestTypeFactory(name="Office")
    sla_policy("Short", always, H / 2, 3 * H, request_type=short, order=1)
    sla_policy("Office", office, 2 * H, 16 * H, request_type=office_type, order=2)
    reason = BlockingReasonFactory(name="Customer")
    now = timezone.now()
    for n in range(36):
        kind = (request_type, short, office_type)[n % 3]
        ago = (n // 2) * H * 0.75  # pairs created at the same instant: tied deadlines
        card = make_task(actor=manager, owner=performer, request_type=kind,
                         priority=(Priority.NORMAL, Priority.HIGH)[n % 2], title=f"C{n}",
                         at=now - ago)  # fmt: skip
        if n % 7 == 3:
            actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer,
                                  at=now - ago + H / 4)  # fmt: skip
            actions.change_status(task=card, to=Status.WAITING, actor=performer,
                                  blocking_reason=reason, at=now - ago + H / 3)  # fmt: skip
    scan_due_timers(now - 4 * H)  # stamps older breaches; newer ones stay unstamped
    return now


def _reference(timers, now):
    return list(with_risk(timers, now).values_list("pk", flat=True))


def _paged(timers, now, start, stop):
    """Rows start:stop through the index streams, checked against the small-queue path."""
    timers = with_band(timers, now)
    counts = risk_counts(timers)
    streams = risk_page(timers, counts, now, start, stop, rank_all_up_to=0)
    ranked_all = risk_page(timers, counts, now, start, stop)
    pks = list(streams.values_list("pk", flat=True))
    assert pks == list(ranked_all.values_list("pk", flat=True))
    return pks


def test_the_paged_queue_ranks_exactly_like_ranking_every_open_timer(mixed_queue):
    now, timers = mixed_queue, SlaTimer.objects.all()
    reference = _reference(timers, now)
    bands = band_counts(with_risk(timers, now))
    assert all(bands.values()) and len(reference) == sum(bands.values())
    assert SlaTimer.objects.filter(stopped_at=None, breached_at__isnull=False).count() > 2
    assert risk_counts(with_band(timers, now)).bands == bands
    # A DISTINCT queryset (as django-filter makes some) is counted row by row too.
    assert risk_counts(with_band(timers.distinct(), now)).bands == bands
    n = len(reference)
    slices = [(0, 1), (1, 3), (4, 6), (0, 5), (5, 10), (3, 17), (20, 24), (0, n), (n - 4, n + 9)]
    for start, stop in [*slices, (n, n + 5)]:
        assert _paged(timers, now, start, stop) == reference[start:stop], (start, stop)


def test_the_paged_queue_ranks_exactly_within_filters(mixed_queue):
    now = mixed_queue
    for timers in [
        SlaTimer.objects.filter(task__priority=Priority.HIGH),
        SlaTimer.objects.filter(kind="resolution"),
        SlaTimer.objects.filter(calendar__name="Office"),
        # Many running timers per target, from the top of the queue: the deadline order counts.
        SlaTimer.objects.filter(running_since__isnull=False, breached_at=None, due_at__gt=now),
        SlaTimer.objects.filter(task__status=Status.WAITING),
        SlaTimer.objects.filter(task__title="nothing"),
    ]:
        reference = _reference(timers, now)
        for start, stop in [(0, 1), (1, 2), (0, 3), (2, 9), (6, 7), (10, 14), (0, 100)]:
            assert _paged(timers, now, start, stop) == reference[start:stop]
    late = with_band(SlaTimer.objects.all(), now).filter(band=BREACHED)
    late_pks = set(late.values_list("pk", flat=True))
    expected = [pk for pk in _reference(SlaTimer.objects.all(), now) if pk in late_pks]
    assert len(expected) > 3
    assert (
        list(risk_page(late, risk_counts(late), now, 1, 100).values_list("pk", flat=True))
        == (expected[1:])
    )


def test_card_filters_pick_cards_and_rank_their_timers_exactly(mixed_queue, performer):
    """The queue's card filters select open cards, then their timers (`InArray`, ranked
    whole): the same rows, in the same order, as filtering the timers through a join."""
    now = mixed_queue
    high_or_waiting = {"priority": ["high"], "status": ["waiting", "new"]}
    for data, joined in [
        ({"priority": ["high"]}, SlaTimer.objects.filter(task__priority=Priority.HIGH)),
        ({"owner": str(performer.pk)}, SlaTimer.objects.filter(task__owner=performer)),
        ({"status": ["waiting"]}, SlaTimer.objects.filter(task__status=Status.WAITING)),
        (
            high_or_waiting,
            SlaTimer.objects.filter(task__priority="high", task__status__in=["waiting", "new"]),
        ),
        # A valid card filter still applies beside one that is not understood.
        ({"priority": ["high"], "timer": "zzz"}, SlaTimer.objects.filter(task__priority="high")),
    ]:
        filterset = AtRiskFilter(data, queryset=with_band(SlaTimer.objects.all(), now))
        assert filterset.picks_cards
        timers = filterset.qs
        counts = risk_counts(timers)
        reference = _reference(joined, now)
        assert reference and counts.total == len(reference), data
        for start, stop in [(0, 1), (0, 5), (3, 11), (0, 100)]:
            page = risk_page(timers, counts, now, start, stop, rank_all_up_to=None)
            assert list(page.values_list("pk", flat=True)) == reference[start:stop], data
    assert not AtRiskFilter({"timer": "breached"}).picks_cards
    assert not AtRiskFilter().picks_cards


# Screens show actionable work first: the viewer's teams by default, "All teams" on request.


@pytest.fixture
def warehouse_card(outsider, dispatcher, default_policy):
    """A card of another team (Warehouse), unowned, and one card of no team."""
    kind = RequestTypeFactory(name="Pick list", default_team=Team.objects.get(name="Warehouse"))
    card = make_task(actor=dispatcher, request_type=kind, title="Elsewhere",
                     at=timezone.now() - 9 * H)  # fmt: skip
    make_task(actor=dispatcher, request_type=RequestTypeFactory(name="Loose"), title="Teamless",
              at=timezone.now() - 9 * H)  # fmt: skip
    return card


def board_titles(html: str) -> set[str]:
    return set(
        re.findall(
            r'<tr id="dispatch-row-\d+">\s*<td data-label="Card"><a href="[^"]+">#\d+ ([^<]+)</a>',
            html,
        )
    )


def test_the_boards_show_my_teams_by_default_and_all_teams_on_request(
    dispatcher, manager, request_type, warehouse_card
):
    make_task(actor=dispatcher, request_type=request_type, title="Ours", at=timezone.now() - 9 * H)
    for user, url, titles in (
        (dispatcher, reverse("dispatch"), board_titles),
        (manager, reverse("at_risk"), lambda html: set(queue_titles_of(html))),
    ):
        client = client_for(user)
        mine = client.get(url).content.decode()
        assert titles(mine) == {"Ours", "Teamless"}
        assert '<strong aria-current="true">My teams</strong>' in mine
        assert f'<a href="{url}?teams=all">All teams</a>' in mine
        assert "Showing cards of your teams and cards without a team." in mine
        every = client.get(url, {"teams": "all"}).content.decode()
        assert titles(every) == {"Ours", "Teamless", "Elsewhere"}
        assert '<strong aria-current="true">All teams</strong>' in every
        assert f'<a href="{url}?teams=mine">My teams</a>' in every
        assert titles(client.get(url, {"teams": "mine"}).content.decode()) == titles(mine)


def queue_titles_of(html: str) -> list[str]:
    rows = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr ")[1:]
    return [re.findall(r'<a href="[^"]+">#\d+ ([^<]+)</a>', row)[0] for row in rows]


@pytest.mark.parametrize("value", ["", "ALL", "everything", "mine'--", "x" * 300])
def test_a_teams_value_not_understood_shows_my_teams_and_says_so(
    dispatcher, manager, request_type, warehouse_card, value
):
    for user, name in ((dispatcher, "dispatch"), (manager, "at_risk")):
        response = client_for(user).get(reverse(name), {"teams": value})
        assert response.status_code == 200
        html = response.content.decode()
        assert '<strong aria-current="true">My teams</strong>' in html
        assert "Elsewhere" not in html
        if value:
            assert "is not a choice of teams and was ignored" in html


def test_a_viewer_in_no_team_sees_all_teams_and_is_told_so(roles, request_type, warehouse_card):
    loner = UserFactory(username="lone", first_name="Lone", last_name="Dispatcher")
    loner.groups.add(roles["dispatcher"])
    html = client_for(loner).get(reverse("dispatch")).content.decode()
    assert board_titles(html) == {"Elsewhere", "Teamless"}
    assert "You are in no team, so cards of all teams are shown." in html
    assert '<strong aria-current="true">All teams</strong>' in html


def test_my_teams_when_they_are_every_team_is_the_whole_queue(
    manager, request_type, warehouse_card, django_assert_max_num_queries
):
    Team.objects.get(name="Warehouse").members.add(manager)
    client = client_for(manager)
    html = client.get(reverse("at_risk")).content.decode()
    assert '<strong aria-current="true">My teams</strong>' in html
    assert "Your teams are all the teams: showing every card." in html
    assert set(queue_titles_of(html)) == {"Elsewhere", "Teamless"}
    # Served from the "All teams" entry of the cache: the same queue.
    client.get(reverse("at_risk"), {"teams": "all"}, HTTP_HX_REQUEST="true")
    with django_assert_max_num_queries(6):
        client.get(reverse("at_risk"), HTTP_HX_REQUEST="true")


def test_a_performer_sees_her_teams_and_her_own_cards_without_a_switch(
    performer, outsider, dispatcher, request_type, warehouse_card
):
    theirs = warehouse_card
    # Her card, handed to another team (an owner keeps a card moved to a team she is not in;
    # only a team's people may be given it).
    warehouse = theirs.team
    actions.change_team(task=theirs, team=None, actor=dispatcher)
    actions.assign_owner(task=theirs, owner=performer, actor=dispatcher)
    actions.change_team(task=theirs, team=warehouse, actor=dispatcher)
    html = client_for(performer).get(reverse("at_risk"), {"teams": "all"}).content.decode()
    assert "All teams</a>" not in html and "aria-current" not in html
    assert "Showing your teams' cards and the cards you work on." in html
    assert "Elsewhere" in queue_titles_of(html)


def test_the_queue_cache_keeps_each_team_scope_apart(
    manager, performer, request_type, warehouse_card, django_assert_max_num_queries
):
    client = client_for(manager)
    mine = client.get(reverse("at_risk"), HTTP_HX_REQUEST="true").content.decode()
    every = client.get(reverse("at_risk"), {"teams": "all"}, HTTP_HX_REQUEST="true")
    assert "Elsewhere" not in queue_titles_of(mine)
    assert "Elsewhere" in queue_titles_of(every.content.decode())
    with django_assert_max_num_queries(6):  # session, user, permissions, scope, teams
        again = client.get(reverse("at_risk"), HTTP_HX_REQUEST="true").content.decode()
    assert again == mine
    with django_assert_max_num_queries(5):  # "All teams": no teams read
        client.get(reverse("at_risk"), {"teams": "all"}, HTTP_HX_REQUEST="true")
    # Joining a team changes "My teams" at once: the key holds the teams, not the viewer.
    Team.objects.get(name="Warehouse").members.add(manager)
    mine = client.get(reverse("at_risk"), HTTP_HX_REQUEST="true").content.decode()
    assert "Elsewhere" in queue_titles_of(mine)


@pytest.mark.parametrize("teams", ["mine", "all"])
def test_the_boards_query_counts_do_not_grow_with_rows_in_either_scope(
    dispatcher, manager, performer, request_type, default_policy, warehouse_card, teams,
    django_assert_max_num_queries,
):  # fmt: skip
    for n in range(60):
        make_task(actor=dispatcher, request_type=request_type, title=f"U{n}")
        card_created(n * H / 8, actor=manager, owner=performer, request_type=request_type,
                     title=f"O{n}")  # fmt: skip
    # The manager's page also counts the decisions waiting for her (the nav's Approvals).
    for user, name, budget in ((dispatcher, "dispatch", 8), (manager, "at_risk", 9)):
        client = client_for(user)
        client.get(reverse(name), {"teams": teams})
        cache.clear()
        with django_assert_max_num_queries(budget):
            response = client.get(reverse(name), {"teams": teams})
        assert response.status_code == 200


def test_the_assign_control_shows_only_where_the_viewer_may_assign(
    dispatcher, request_type, warehouse_card
):
    make_task(actor=dispatcher, request_type=request_type, title="Ours")
    html = client_for(dispatcher).get(reverse("dispatch"), {"teams": "all"}).content.decode()
    rows = {title: _row_of(html, title) for title in ("Ours", "Teamless", "Elsewhere")}
    assert '<button type="submit">Assign</button>' in rows["Ours"]
    assert '<button type="submit">Assign</button>' in rows["Teamless"]
    assert "Assign</button>" not in rows["Elsewhere"] and "<select" not in rows["Elsewhere"]
    assert "Assigned by the dispatchers and managers of Warehouse." in rows["Elsewhere"]
    # And what is not offered is refused if posted anyway.
    url = reverse("dispatch_assign", args=[warehouse_card.pk])
    refused = client_for(dispatcher).post(url, {"owner": dispatcher.pk, "version": 1})
    assert refused.status_code == 403


def test_a_superuser_may_assign_every_row(warehouse_card, request_type):
    root = UserFactory(username="root", is_superuser=True)
    html = client_for(root).get(reverse("dispatch"), {"teams": "all"}).content.decode()
    assert html.count("Assign</button>") == len(board_titles(html)) == 2


def _row_of(html: str, title: str) -> str:
    start = html.index(f" {title}</a>")
    return html[html.rindex("<tr ", 0, start) : html.index("</tr>", start)]


def test_the_owner_choices_are_the_people_who_may_work_cards(
    dispatcher, manager, performer, observer, request_type, default_policy
):
    make_task(actor=dispatcher, request_type=request_type, title="Ours")
    html = client_for(dispatcher).get(reverse("dispatch")).content.decode()
    row = _row_of(html, "Ours")
    for person in (dispatcher, manager, performer):
        assert f'<option value="{person.pk}">{person.get_full_name()} — ' in row
    assert f'<option value="{observer.pk}"' not in row


# Dispatch signals mean what they say.


def test_not_taken_in_time_lists_only_cards_still_not_taken_and_escalations_list_apart(
    dispatcher, performer, request_type, default_policy
):
    from tasks.queries import NOT_TAKEN_IN_TIME  # the scan writes this flag (sla.escalation)

    def card(title, *, owner=None, status=None, flag=NOT_TAKEN_IN_TIME):
        task = make_task(actor=dispatcher, owner=owner, request_type=request_type, title=title)
        if status == Status.WAITING:
            reason = BlockingReasonFactory(name="Customer")
            actions.change_status(task=task, to=status, actor=performer, blocking_reason=reason)
        elif status:
            actions.change_status(task=task, to=status, actor=performer)
        actions.flag_for_dispatch(task=task, reason=flag)
        return task

    card("New late")
    card("Assigned late", owner=performer)
    card("Waiting, flagged before", owner=performer, status=Status.WAITING)
    card("Escalated new", flag="Escalated: first response breached")
    card("Escalated in progress", owner=performer, status=Status.IN_PROGRESS,
         flag="Escalated: resolution breached")  # fmt: skip
    lists = board_lists(dispatcher)
    titles = {name: {t.title for t in tasks} for name, tasks in lists.items()}
    assert titles["not_taken"] == {"New late", "Assigned late"}
    assert titles["escalated"] == {"Escalated new", "Escalated in progress"}
    assert "Waiting, flagged before" not in set().union(*titles.values())
    html = client_for(dispatcher).get(reverse("dispatch")).content.decode()
    assert re.search(r'Not taken into work in time <small class="muted" data-count="2">\(2\)', html)
    assert re.search(r'Escalated to dispatch <small class="muted" data-count="2">\(2\)', html)


def test_an_escalation_rule_sends_its_card_to_the_escalated_list(
    dispatcher, performer, request_type, default_policy
):
    """The flag the escalation rule writes (sla.escalation._run_action) reads as escalated."""
    from sla.escalation import Fired, _run_action
    from sla.models import EscalationRule

    task = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Rule")
    actions.change_status(task=task, to=Status.IN_PROGRESS, actor=performer)
    timer = SlaTimer.objects.filter(task=task, kind="resolution").get()
    rule = EscalationRule(pk=1, action=EscalationRule.Action.TO_DISPATCH)
    _run_action(rule, timer, Fired("breach", "breach", timezone.now(), None), timezone.now())
    task.refresh_from_db()
    assert task.dispatch_flag.startswith("Escalated")
    assert [t.title for t in board_lists(dispatcher)["escalated"]] == ["Rule"]
    assert board_lists(dispatcher)["not_taken"] == []


def test_each_heading_counts_its_whole_list_and_says_when_it_shows_fewer(
    dispatcher, request_type, default_policy
):
    for n in range(BOARD_LIMIT + 5):
        make_task(actor=dispatcher, request_type=request_type, title=f"U{n}")
    html = client_for(dispatcher).get(reverse("dispatch")).content.decode()
    assert (f'New, without owner <small class="muted" data-count="{BOARD_LIMIT + 5}">'
            f"(showing {BOARD_LIMIT} of {BOARD_LIMIT + 5})</small>") in html  # fmt: skip
    assert 'Without a next step <small class="muted" data-count="0">(0)</small>' in html


def test_my_work_offers_no_quick_action_to_someone_who_may_no_longer_work_cards(
    performer, dispatcher, request_type, default_policy
):
    make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Left over")
    performer.groups.clear()  # the role taken away; the card still hers
    html = client_for(performer).get(reverse("my_work")).content.decode()
    assert "Left over" in html
    assert "Take into work" not in html and "<form" not in html.split("<main", 1)[-1]
    assert "You may no longer work cards: ask a manager." in html
