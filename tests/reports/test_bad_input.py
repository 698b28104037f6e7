"""Bad input in the query string of every report page, the calibration page, the weekly
review and the CSV exports: never a 500. A page shows each value it did not understand and
ignores it (200); a CSV export refuses to download another period or scope than the one
asked for (400, with the reason). Nothing is written either way.

Little data: the pages only have to survive the input, not compute anything interesting."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from reports.catalogue import REPORTS
from sla.models import BusinessCalendar, WorkingInterval
from tests.factories import make_task, sla_policy
from tests.rows import settings_rows

pytestmark = pytest.mark.django_db

OUT_OF_RANGE = "Enter a date between 2000-01-01 and 2099-12-31."
NOT_A_DATE = "Enter a valid date."
NOT_A_CHOICE = "Select a valid choice."
LONG = "x" * 10_000

FILTERED_PAGES = [f"/reports/{slug}/" for slug in REPORTS] + ["/reports/calibration/"]

# (query string, what the page says about it). A query string, not a dict: some repeat a
# parameter, some carry characters a dict would encode differently.
BAD_FILTERS = [
    pytest.param(
        "start=9999-12-25&end=9999-12-31",
        [f"From: {OUT_OF_RANGE}", f"To: {OUT_OF_RANGE}"],
        id="the-year-9999",
    ),
    pytest.param(
        "start=9999-12-31&end=0001-01-01",
        [f"From: {OUT_OF_RANGE}", f"To: {OUT_OF_RANGE}"],
        id="start-after-end-across-the-years",
    ),
    pytest.param(
        "start=2099-12-31&end=2000-01-01",
        ["The period starts after it ends"],
        id="start-after-end-in-range",
    ),
    pytest.param("start=0001-01-01", [f"From: {OUT_OF_RANGE}"], id="start-year-1"),
    pytest.param("end=0001-01-01", [f"To: {OUT_OF_RANGE}"], id="end-year-1"),
    pytest.param("end=1999-12-31", [f"To: {OUT_OF_RANGE}"], id="end-a-day-too-early"),
    pytest.param("start=2100-01-01", [f"From: {OUT_OF_RANGE}"], id="start-a-day-too-late"),
    pytest.param("start=2026-13-45", [f"From: {NOT_A_DATE}"], id="no-such-month"),
    pytest.param("end=2026-02-30", [f"To: {NOT_A_DATE}"], id="no-such-day"),
    pytest.param("start=yesterday", [f"From: {NOT_A_DATE}"], id="words-for-a-date"),
    pytest.param(f"start={'2026-01-01' * 500}", [f"From: {NOT_A_DATE}"], id="a-very-long-date"),
    pytest.param(
        "start=2026-01-01&start=9999-12-31", [f"From: {OUT_OF_RANGE}"], id="repeated-start"
    ),
    pytest.param("team=abc", [f"Team: {NOT_A_CHOICE}"], id="team-not-a-number"),
    pytest.param("team=999999", [f"Team: {NOT_A_CHOICE}"], id="team-unknown"),
    pytest.param("team=-1", [f"Team: {NOT_A_CHOICE}"], id="team-negative"),
    pytest.param(f"team={'9' * 40}", [f"Team: {NOT_A_CHOICE}"], id="team-huge"),
    pytest.param("team=%00", ["Team: Null characters are not allowed."], id="team-nul"),
    pytest.param("request_type=1.5", [f"Request type: {NOT_A_CHOICE}"], id="request-type-fraction"),
    pytest.param(
        f"request_type={'9' * 400}", [f"Request type: {NOT_A_CHOICE}"], id="request-type-huge"
    ),
    pytest.param(f"client={LONG}", [f"Client / related object: {NOT_A_CHOICE}"], id="client-long"),
    pytest.param("priority=urgent", [f"Priority: {NOT_A_CHOICE}"], id="priority-bogus"),
    pytest.param(f"priority={LONG}", [f"Priority: {NOT_A_CHOICE}"], id="priority-long"),
    pytest.param(
        "priority=high&priority=%E2%98%83", [f"Priority: {NOT_A_CHOICE}"], id="repeated-priority"
    ),
]


@pytest.fixture
def as_manager(client, manager, team, request_type):
    """A manager, and a little of everything the pages read and nothing may change: a
    calendar, a policy with targets, a card with its timers."""
    calendar = BusinessCalendar.objects.create(name="Office", timezone="Europe/Berlin")
    WorkingInterval.objects.create(calendar=calendar, weekday=0, start=time(9), end=time(17))
    sla_policy("Standard", calendar, timedelta(hours=1), timedelta(hours=4), is_default=True)
    make_task(actor=manager, request_type=request_type, owner=manager)
    client.force_login(manager)
    return client


def _get(client, url: str, query: str):
    before = settings_rows()
    response = client.get(f"{url}?{query}")
    assert settings_rows() == before, "a GET with bad input wrote rows"
    return response


@pytest.mark.parametrize("url", FILTERED_PAGES)
@pytest.mark.parametrize(("query", "messages"), BAD_FILTERS)
def test_a_bad_filter_is_shown_on_the_page_and_ignored(as_manager, url, query, messages):
    response = _get(as_manager, url, query)
    assert response.status_code == 200
    html = response.content.decode()
    for message in messages:
        assert message in html
    assert 'role="alert"' in html


@pytest.mark.parametrize("url", FILTERED_PAGES)
def test_a_period_at_the_edges_of_the_range_is_fine(as_manager, url):
    response = _get(as_manager, url, "start=2099-01-01&end=2099-12-31")
    assert response.status_code == 200
    assert 'role="alert"' not in response.content.decode()


def test_a_period_spanning_the_whole_range_is_cut_to_three_years(as_manager):
    response = _get(as_manager, "/reports/overview/", "start=2000-01-01&end=2099-12-31")
    assert response.status_code == 200
    assert "Periods are limited to three years" in response.content.decode()


# --- CSV exports ----------------------------------------------------------------------

EXPORTS = [
    ("overview", "on_time"),
    ("overview", "first_response"),
    ("overview", "volume"),
    ("flow", "stages"),
    ("flow", "handoffs"),
    ("misses", "misses_team"),
    ("causes", "causes"),
    ("workload", "workload_people"),
    ("automation", "repetitive"),
    ("calibration", "calibration"),
]


def _export_url(slug: str) -> str:
    return f"/reports/{slug}/"


@pytest.mark.parametrize(("slug", "key"), EXPORTS)
def test_an_export_with_a_bad_filter_is_refused_with_the_reason(as_manager, slug, key):
    response = _get(as_manager, _export_url(slug), f"export={key}&start=9999-12-25&end=9999-12-31")
    assert response.status_code == 400
    assert not response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    assert f"From: {OUT_OF_RANGE}" in text and "Nothing was exported" in text


@pytest.mark.parametrize(("slug", "key"), EXPORTS)
def test_an_export_with_good_filters_still_downloads(as_manager, slug, key):
    response = _get(as_manager, _export_url(slug), f"export={key}&start=2026-01-01")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize(
    "query", ["export=nope", f"export={LONG}", "export=%00", "export=volume&export=nope"]
)
def test_an_unknown_export_is_a_404(as_manager, query):
    assert _get(as_manager, "/reports/overview/", query).status_code == 404


@pytest.mark.parametrize("slug", ["nope", "x" * 300, "overview-"])
def test_an_unknown_report_is_a_404(as_manager, slug):
    assert _get(as_manager, f"/reports/{slug}/", "").status_code == 404


# --- calibration options --------------------------------------------------------------

WHAT_IF = "What if response target were"
TOO_LONG = "is longer than any target can be"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("source=bogus", f"Source: {NOT_A_CHOICE}", id="source-bogus"),
        pytest.param("percentile=99", f"Propose at: {NOT_A_CHOICE}", id="percentile-bogus"),
        pytest.param(f"percentile={'9' * 400}", f"Propose at: {NOT_A_CHOICE}", id="pct-huge"),
        pytest.param("response=soon", f"{WHAT_IF}: ", id="what-if-words"),
        pytest.param("response=0m", "A target must be a positive duration", id="what-if-zero"),
        pytest.param("response=-2h", "A duration cannot be negative", id="what-if-negative"),
        pytest.param("response=90", "Say which unit 90 is in", id="what-if-no-unit"),
        pytest.param("response=99999999999999d", TOO_LONG, id="what-if-huge-days"),
        pytest.param(f"response={'9' * 99}h", TOO_LONG, id="what-if-infinite"),
        pytest.param(
            f"response={'9' * 400}h", "too long to be a duration", id="what-if-400-digits"
        ),
        pytest.param("response=9999999999999:00", TOO_LONG, id="what-if-hh-mm"),
        pytest.param("response=30s", f"{WHAT_IF}: A target must be at least 1 minute", id="30s"),
        pytest.param("response=5000d", "A target may be at most 366 days", id="what-if-5000-days"),
        pytest.param("response=0.5m", "at least 1 minute", id="what-if-half-a-minute"),
        pytest.param(f"resolution={LONG}", "What if resolution target were: ", id="long"),
    ],
)
def test_a_bad_calibration_option_is_shown_and_ignored(as_manager, query, message):
    response = _get(as_manager, "/reports/calibration/", query)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html and "(ignored)" in html


# --- weekly review ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("week=0001-01-01", f"Week of: {OUT_OF_RANGE}", id="year-1"),
        pytest.param("week=9999-12-31", f"Week of: {OUT_OF_RANGE}", id="year-9999"),
        pytest.param("week=1999-12-31", f"Week of: {OUT_OF_RANGE}", id="a-day-too-early"),
        pytest.param("week=2026-13-01", f"Week of: {NOT_A_DATE}", id="no-such-month"),
        pytest.param(f"week={LONG}", f"Week of: {NOT_A_DATE}", id="long"),
        pytest.param("week=2026-11-16&week=0001-01-01", f"Week of: {OUT_OF_RANGE}", id="repeat"),
        pytest.param("team=abc", f"Team: {NOT_A_CHOICE}", id="team-not-a-number"),
        pytest.param(f"team={'9' * 40}", f"Team: {NOT_A_CHOICE}", id="team-huge"),
    ],
)
def test_a_bad_week_or_team_is_shown_and_ignored(as_manager, query, message):
    response = _get(as_manager, "/reports/weekly/", query)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html and "(ignored)" in html


def test_the_last_week_of_the_range_has_no_link_past_it(as_manager):
    response = _get(as_manager, "/reports/weekly/", "week=2099-12-31")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' not in html
    assert "Week before" in html and "Week after" not in html


def test_the_first_week_of_the_range_has_no_link_before_it(as_manager):
    response = _get(as_manager, "/reports/weekly/", "week=2000-01-03")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Week after" in html and "Week before" not in html
