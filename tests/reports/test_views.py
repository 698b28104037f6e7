"""Report pages: permission, filters and bad input, CSV, charts with tables, query counts."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from reports import rollup
from reports.catalogue import REPORTS
from reports.filters import PlainSelect
from sla.models import SlaTarget
from tasks import actions
from tasks.models import Priority, RequestType, Status, Team
from tests.factories import RelatedObjectFactory, TeamFactory, WorkerFactory
from tests.reports.conftest import MON, TUE, WEEK, H, berlin, reviewed, rolled_back_after

# Every test here runs on the shared history (conftest.report_world), built once per module.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("report_world")]

User = get_user_model()
PAGES = [f"/reports/{slug}/" for slug in REPORTS] + ["/reports/calibration/", "/reports/weekly/"]


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


@pytest.mark.parametrize("url", PAGES)
def test_every_report_page_requires_the_reports_permission(client, performer, url):
    client.force_login(performer)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_nav_links_to_reports_only_for_managers(client, manager, performer):
    client.force_login(manager)
    assert 'href="/reports/"' in client.get("/cards/").content.decode()
    client.force_login(performer)
    assert 'href="/reports/"' not in client.get("/cards/").content.decode()


def test_the_overview_shows_each_figure_as_a_chart_and_a_table(as_manager, history):
    html = as_manager.get("/reports/overview/", WEEK).content.decode()
    assert html.count("<canvas data-chart=") == 3
    assert html.count('<table class="figure-table">') == 3
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert "66.7 %" in html  # response share met: 4 of 6


def test_every_table_downloads_as_csv_with_the_same_numbers(as_manager, history):
    response = as_manager.get("/reports/causes/", {**WEEK, "export": "causes"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:2] == ["Cause", "Business time lost (business hours)"]
    assert rows[1][:3] == ["Customer", "6.0", "1"]


def test_an_unknown_csv_table_is_a_404_not_a_500(as_manager, history):
    assert as_manager.get("/reports/causes/", {"export": "nope"}).status_code == 404
    assert as_manager.get("/reports/nope/").status_code == 404


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"team": "999999"}, "Team: Select a valid choice"),
        ({"team": "abc"}, "Team: Select a valid choice"),
        ({"priority": "urgent"}, "Priority: Select a valid choice"),
        ({"start": "2026-13-45"}, "From: Enter a valid date"),
        ({"start": "2026-11-20", "end": "2026-11-01"}, "The period starts after it ends"),
    ],
)
def test_bad_filter_values_are_reported_and_ignored(as_manager, history, params, message):
    response = as_manager.get("/reports/overview/", params)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_a_period_with_no_cards_says_so(as_manager, history):
    html = as_manager.get("/reports/overview/", {"start": "2020-01-01", "end": "2020-01-31"})
    assert "No cards in this period match these filters." in html.content.decode()


def _many_cards(world) -> None:
    """Enough owners, teams, clients and approvals that a per-row query would show."""
    manager = User.objects.get(username="maria")
    support = RequestType.objects.get(name="Support")
    support_team = Team.objects.get(pk=world.support)
    # Timed decisions too (the flow page's time to decision, the overview's clock row).
    target = SlaTarget.objects.get(policy__name="Standard", priority=Priority.NORMAL)
    target.approval_target = 2 * H
    target.save()  # saved, not updated: the policies version moves
    for i in range(12):
        owner = WorkerFactory(username=f"owner{i}")
        team = TeamFactory(name=f"Team {i}")
        team.members.add(owner)  # a card's owner is one of its team's people
        client = RelatedObjectFactory(name=f"Client {i}")
        card = actions.create_task(
            title=f"bulk {i}", request_type=support, priority=Priority.NORMAL, actor=manager,
            owner=owner, team=team, related_object=client, at=berlin(*MON, 9),
        )  # fmt: skip
        approver = WorkerFactory(username=f"approver{i}", role="manager")
        actions.set_approver(task=card, approver=approver, actor=manager, at=berlin(*MON, 9))
        actions.change_status(task=card, to=Status.ON_APPROVAL, actor=owner, at=berlin(*MON, 10))
        actions.change_team(task=card, team=support_team, actor=manager, at=berlin(*MON, 11))
        decision = "approve" if i % 2 else "reject"
        actions.decide(task=card, decision=decision, actor=approver, reason="Too dear",
                       at=berlin(*TUE, 12))  # fmt: skip
        actions.change_status(task=card, to=Status.DONE, actor=owner, at=berlin(*TUE, 12))
    rollup.refresh()


class TestQueryCounts:
    @pytest.fixture(scope="class")
    def many_cards(self, report_world, django_db_blocker):
        """The history and _many_cards: built once for the pages below, rolled back after."""
        with rolled_back_after(django_db_blocker):
            with django_db_blocker.unblock():
                _many_cards(report_world)
            yield

    @pytest.mark.parametrize(
        ("url", "limit"),
        [
            # On PostgreSQL each page also sets its session settings (reports.db.report_settings);
            # every page's nav counts the decisions waiting for the manager (Approvals).
            ("/reports/overview/", 17),  # + the time to decision's clock row
            # The grouped pass, each figure's percentiles, the decisions and who waits now.
            ("/reports/flow/", 18),
            ("/reports/misses/", 15),
            ("/reports/causes/", 12),
            ("/reports/workload/", 14),
            ("/reports/automation/", 12),
            ("/reports/calibration/", 15),  # + the recent applies
            ("/reports/weekly/", 16),
        ],
    )
    def test_pages_use_a_fixed_number_of_queries(
        self, as_manager, many_cards, django_assert_max_num_queries, url, limit
    ):
        with django_assert_max_num_queries(limit):
            response = as_manager.get(url, {**WEEK, "week": "2026-11-16"})
        assert response.status_code == 200


# --- calibration -------------------------------------------------------------------


def test_calibration_shows_percentiles_and_a_rounded_proposal(as_manager, history):
    html = as_manager.get("/reports/calibration/", {**WEEK, "source": "observe"}).content
    html = html.decode()
    # Observe clocks of Sales lead / normal: response 1h and 3h, resolution 4h and 10h.
    assert '<td><span class="muted">2:</span> 1h · 3h · 3h</td>' in html
    assert "<strong>3h</strong>" in html and "<strong>12h</strong>" in html


def test_calibration_flags_a_proposal_from_fewer_than_20_cards_as_thin(as_manager, history):
    html = as_manager.get("/reports/calibration/", {**WEEK, "source": "observe"}).content.decode()
    # Sales lead / normal: two observe clocks of each kind.
    assert html.count('<span class="badge warn" title="Read from only 2 card(s)">thin</span>') == 2
    assert "fewer than 20 cards" in html


def test_calibration_what_if_shows_the_share_within_a_candidate(as_manager, history):
    html = as_manager.get(
        "/reports/calibration/", {**WEEK, "source": "history", "response": "1h"}
    ).content.decode()
    assert "50.0 %" in html  # Sales lead: D (1h) within, E (3h) not


@pytest.mark.parametrize(
    ("typed", "hours"), [("2h", 2), ("3d", 72), ("1 day", 24), ("1h 30m", 1.5), ("2 00:00:00", 48)]
)
def test_calibration_reads_what_if_durations_as_the_admin_does(as_manager, history, typed, hours):
    response = as_manager.get(
        "/reports/calibration/", {**WEEK, "source": "history", "response": typed}
    )
    html = response.content.decode()
    assert "(ignored)" not in html
    assert response.context["form"].cleaned_data["response"] == timedelta(hours=hours)
    assert "1d = 24 working hours, not a calendar day" in html


def test_garbage_as_a_what_if_value_is_refused_with_the_message(as_manager, history):
    html = as_manager.get(
        "/reports/calibration/", {**WEEK, "source": "history", "response": "2 hrs ish"}
    ).content.decode()
    assert (
        "What if response target were: &#x27;2 hrs ish&#x27; is not a duration; "
        "write it e.g. 90m, 2h, 1h 30m or 3d. (ignored)"
    ) in html


def test_a_bad_what_if_value_is_explained_not_a_500(as_manager, history):
    response = as_manager.get("/reports/calibration/", {"response": "soon", "percentile": "99"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not a duration" in html and "(ignored)" in html


def test_applying_a_proposal_needs_the_target_permission(client, observer, history):
    leads = history_policies()[1]
    # May read the reports, may not set targets (managers may: see tasks.roles).
    observer.user_permissions.add(Permission.objects.get(codename="view_reports"))
    client.force_login(observer)
    response = client.post("/reports/calibration/apply/", _apply(leads))
    assert response.status_code == 403
    assert SlaTarget.objects.get(policy=leads, priority=Priority.NORMAL).response_target == 2 * H


def test_applying_a_proposal_updates_the_target(client, manager, history):
    leads = history_policies()[1]
    for codename in ("change_slatarget", "add_slatarget"):
        manager.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(manager)
    page = client.get("/reports/calibration/", {**WEEK, "source": "observe"}).content.decode()
    assert "Set on Leads observe…" in page

    response = client.post("/reports/calibration/apply/", _apply(leads))

    assert response.status_code == 302
    target = SlaTarget.objects.get(policy=leads, priority=Priority.NORMAL)
    assert (target.response_target, target.resolution_target) == (3 * H, 12 * H)


def test_applying_creates_a_missing_target_and_rejects_bad_values(client, manager, history):
    leads = history_policies()[1]
    manager.user_permissions.add(*Permission.objects.filter(codename__endswith="_slatarget"))
    client.force_login(manager)
    client.post("/reports/calibration/apply/", _apply(leads, priority=Priority.HIGH))
    assert SlaTarget.objects.get(policy=leads, priority=Priority.HIGH).response_target == 3 * H

    response = client.post(
        "/reports/calibration/apply/", {**_apply(leads), "response_seconds": "-5"}, follow=True
    )
    assert "Nothing was applied" in response.content.decode()
    assert SlaTarget.objects.get(policy=leads, priority=Priority.NORMAL).response_target == 2 * H


def test_applying_without_a_csrf_token_is_refused(manager, history):
    leads = history_policies()[1]
    manager.user_permissions.add(*Permission.objects.filter(codename__endswith="_slatarget"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert client.post("/reports/calibration/apply/", _apply(leads)).status_code == 403


def history_policies():
    from sla.models import SlaPolicy

    return SlaPolicy.objects.get(name="Standard"), SlaPolicy.objects.get(name="Leads observe")


def _apply(policy, priority=Priority.NORMAL):
    return {
        "policy": policy.pk,
        "priority": priority,
        "response_seconds": 3 * 3600,
        "resolution_seconds": 12 * 3600,
        "response_cards": 25,
        "resolution_cards": 25,
        "next": "/reports/calibration/",
        **reviewed(policy, priority),
    }


@pytest.mark.parametrize("value", ["", "2"])
def test_the_filter_selects_render_the_same_html_as_django_selects(value):
    choices = [("", "---------"), ("1", "A & B"), ("2", "<script>")]
    plain = PlainSelect(choices=choices).render("client", value, {"id": "id_client"})
    django = forms.Select(choices=choices).render("client", value, {"id": "id_client"})
    assert plain == "".join(line.strip() for line in django.splitlines())
    assert "&lt;script&gt;" in plain
