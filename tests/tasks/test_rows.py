"""The dashboards' rows rendered in Python (tasks/rows.py): what they show, escaped, in the
viewer's timezone, and the same dispatch row on the board and after an assignment."""

import re
from datetime import UTC, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import dateformat, timezone

from sla.engine import Progress
from sla.models import BusinessCalendar, SlaPolicy, SlaTarget, SlaTimer, TimerKind
from sla.queries import BREACHED, PAUSED, RUNNING, WARNED
from tasks import actions
from tasks.models import Priority, RelatedObject, RequestType, Status, Task
from tasks.rows import AtRiskRows
from tests.factories import (
    BlockingReasonFactory,
    RelatedObjectFactory,
    RequestTypeFactory,
    TeamFactory,
    UserFactory,
    make_task,
)

H = timedelta(hours=1)
User = get_user_model()


def evil(field: str) -> str:
    return f'<script>alert("{field}")</script> & "{field}"'


def client_for(user, tz: str = "") -> Client:
    client = Client()
    client.force_login(user)
    if tz:
        client.cookies["tz"] = tz
    return client


@pytest.fixture
def default_policy(db):
    calendar = BusinessCalendar.objects.create(name="24/7", always_open=True)
    policy = SlaPolicy.objects.create(name="Default", calendar=calendar, is_default=True)
    for priority in Priority:
        SlaTarget.objects.create(
            policy=policy, priority=priority, response_target=1 * H, resolution_target=8 * H
        )
    return policy


@pytest.fixture
def evil_owner(roles, manager, dispatcher):
    owner = UserFactory(username="mallory", first_name=evil("owner"), last_name="")
    owner.groups.add(roles["performer"])
    evil_team = TeamFactory(name=evil("team"), manager=manager)
    evil_team.members.add(owner, dispatcher)
    return owner


def make_evil_card(*, actor, owner: User, assigned: bool, **kwargs) -> Task:
    """A card whose every shown name is markup: title, client, team (the owner's), request
    type; assigned to `owner` or not yet."""
    return make_task(
        actor=actor,
        owner=owner if assigned else None,
        team=owner.teams.get(),
        request_type=RequestTypeFactory(name=evil("type")),
        related_object=RelatedObjectFactory(name=evil("client"), kind=RelatedObject.Kind.CLIENT),
        title=evil("title"),
        **kwargs,
    )


def _row(html: str, start: str) -> str:
    begin = html.index(start)
    return html[begin : html.index("</tr>", begin) + len("</tr>")]


@pytest.mark.django_db
def test_the_at_risk_row_escapes_every_name_it_shows(manager, evil_owner, default_policy):
    ago = timezone.now() - 2 * H
    evil_card = make_evil_card(actor=manager, owner=evil_owner, assigned=True, at=ago)
    actions.change_status(task=evil_card, to=Status.IN_PROGRESS, actor=evil_owner)
    reason = BlockingReasonFactory(name=evil("reason"))
    actions.change_status(task=evil_card, to=Status.WAITING, actor=evil_owner,
                          blocking_reason=reason)  # fmt: skip
    html = client_for(manager).get(reverse("at_risk"), HTTP_HX_REQUEST="true").content.decode()
    assert "<script>" not in html
    row = _row(html, "<tr data-band=")
    assert f"#{evil_card.pk} {escape(evil('title'))}</a>" in row
    assert f"<td>{escape(evil('client'))}</td>" in row
    assert f"<td>{escape(evil('owner'))}</td>" in row
    assert f"{escape(evil('type'))} · {escape(evil('team'))}</small>" in row
    assert f"<br><small>{escape(evil('reason'))}</small>" in row
    assert "&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt; &amp; &quot;title&quot;" in row


@pytest.mark.django_db
def test_the_dispatch_row_escapes_every_name_it_shows_on_the_board_and_after_assigning(
    dispatcher, evil_owner, default_policy
):
    evil_card = make_evil_card(actor=dispatcher, owner=evil_owner, assigned=False)
    actions.flag_for_dispatch(task=evil_card, reason=evil("flag"))
    evil_card.refresh_from_db()
    client = client_for(dispatcher)
    board = client.get(reverse("dispatch")).content.decode()
    url = reverse("dispatch_assign", args=[evil_card.pk])
    assigned = client.post(
        url, {"owner": evil_owner.pk, "version": evil_card.version}, HTTP_HX_REQUEST="true"
    )
    assert assigned.status_code == 200
    for html in (board, assigned.content.decode()):
        assert "<script>" not in html
        row = _row(html, f'<tr id="dispatch-row-{evil_card.pk}"')
        assert f"#{evil_card.pk} {escape(evil('title'))}</a>" in row
        assert f"{escape(evil('type'))} · {escape(evil('team'))} · " in row
    row = _row(board, f'<tr id="dispatch-row-{evil_card.pk}"')
    assert f'<span class="badge warn">{escape(evil("flag"))}</span>' in row  # until assigned
    assert f">{escape(evil('owner'))} — 0 open, 0 at risk</option>" in row
    row = _row(assigned.content.decode(), f'<tr id="dispatch-row-{evil_card.pk}"')
    assert f"<td>{escape(evil('owner'))}<br><small>Assigned</small></td>" in row
    assert f'<option selected value="{evil_owner.pk}">{escape(evil("owner"))} — 1 open' in row
    assert f'role="status">Assigned to {escape(evil("owner"))}.</small>' in row


@pytest.mark.django_db
def test_the_viewers_timezone_cookie_sets_the_times_in_both_rows(
    manager, dispatcher, request_type, default_policy
):
    card = make_task(actor=dispatcher, request_type=request_type, title="Zoned")
    due = SlaTimer.objects.get(task=card, kind=TimerKind.RESOLUTION).due_at
    assert due is not None
    manager_seen, dispatcher_seen = {}, {}
    for zone in ("Asia/Kolkata", "America/New_York"):
        # No cache clearing in between: the cached queue is kept per timezone.
        queue = client_for(manager, zone).get(reverse("at_risk"), HTTP_HX_REQUEST="true")
        manager_seen[zone] = queue.content.decode()
        dispatcher_seen[zone] = client_for(dispatcher, zone).get(reverse("dispatch")).content
    for zone, other in (("Asia/Kolkata", "America/New_York"), ("America/New_York", "Asia/Kolkata")):
        shown = dateformat.format(due.astimezone(ZoneInfo(zone)), "D H:i")
        hidden = dateformat.format(due.astimezone(ZoneInfo(other)), "D H:i")
        assert shown != hidden
        assert f" · due {shown}</small>" in manager_seen[zone]
        assert f" · due {hidden}</small>" not in manager_seen[zone]
        created = dateformat.format(card.created_at.astimezone(ZoneInfo(zone)), "D j M H:i")
        assert f"Sales lead · Sales · {created}</small>".encode() in dispatcher_seen[zone]


def _tokenless(html: str) -> str:
    token = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]*)">')
    assert [len(value) for value in token.findall(html)] == [64], "the form's CSRF token"
    return token.sub('name="csrfmiddlewaretoken" value=""', html)


@pytest.mark.django_db
def test_an_assignments_row_is_the_boards_row_for_the_card(
    dispatcher, performer, request_type, default_policy
):
    card = make_task(actor=dispatcher, request_type=request_type, title="Nobody's & <yet>")
    client = client_for(dispatcher)
    start = f'<tr id="dispatch-row-{card.pk}"'
    url = reverse("dispatch_assign", args=[card.pk])

    before = _row(client.get(reverse("dispatch")).content.decode(), start)
    stale = client.post(url, {"owner": performer.pk, "version": card.version + 7},
                        HTTP_HX_REQUEST="true")  # fmt: skip
    assert stale.status_code == 409
    stale_row = stale.content.decode().strip()
    alert = re.search(r'<small class="errorlist" role="alert">[^<]+</small>', stale_row)
    assert alert and "changed by someone else" in alert.group()
    assert _tokenless(stale_row.replace(alert.group(), "")) == _tokenless(before)

    done = client.post(url, {"owner": performer.pk, "version": card.version},
                       HTTP_HX_REQUEST="true")  # fmt: skip
    assert done.status_code == 200
    status = '<small class="muted" role="status">Assigned to Paula Performer.</small>'
    done_row = done.content.decode().strip()
    assert status in done_row
    after = _row(client.get(reverse("dispatch")).content.decode(), start)
    assert _tokenless(done_row.replace(status, "")) == _tokenless(after)
    card.refresh_from_db()
    for attribute in (
        f'hx-post="{url}" hx-target="#dispatch-row-{card.pk}" hx-swap="outerHTML"',
        f'action="{url}"',
        f'<input type="hidden" name="version" value="{card.version}">',
        f'aria-label="Owner for card #{card.pk}"',
        f'<option selected value="{performer.pk}">Paula Performer — 1 open, 0 at risk</option>',
        "<td>Paula Performer<br><small>Assigned</small></td>",
    ):
        assert attribute in after


def _timer(band: int, *, remaining: timedelta, fraction: float, **fields) -> tuple:
    """An unsaved timer of an unsaved card, with its band annotation and progress."""
    task = Task(
        pk=41,
        title="Call ACME",
        request_type=RequestType(name="Sales lead"),
        priority=Priority.HIGH,
        status=Status.IN_PROGRESS,
    )
    fields = {"kind": TimerKind.RESOLUTION, "target": 8 * H, "observe": False} | fields
    timer = SlaTimer(task=task, **fields)
    timer.band = band
    return timer, Progress(consumed=8 * H - remaining, remaining=remaining, fraction=fraction)


DUE = datetime(2026, 3, 6, 16, 45, tzinfo=UTC)  # a Friday; 17:45 in Berlin


@pytest.mark.parametrize(
    ("band", "remaining", "fraction", "fields", "shown"),
    [
        (BREACHED, -(H + timedelta(minutes=30)), 1.1875, {"due_at": DUE}, [
            '<span class="badge breached">Breached</span>\n          </td>',
            '<progress value="100" max="100" class="breached" aria-label="119% of target used">',
            "<strong>−1h 30m</strong> over",
            'of 8h 00m · due Fri 17:45</small>',
        ]),
        (WARNED, timedelta(minutes=20), 0.9583, {"due_at": DUE}, [
            '<span class="badge warn">At risk</span>',
            '<progress value="96" max="100" class="warn" aria-label="96% of target used">',
            "\n          20m left\n",
        ]),
        (RUNNING, 5 * H, 0.375, {"due_at": DUE, "kind": TimerKind.RESPONSE}, [
            "<td>First response<br>",
            '<span class="badge running">Running</span>',
            '<progress value="38" max="100" class="" aria-label="38% of target used">',
            "5h 00m left",
        ]),
        (PAUSED, 6 * H, 0.25, {"observe": True, "due_at": None, "target": None}, [
            '<span class="badge paused">Paused</span>\n          '
            '<span class="badge observe">Observe</span></td>',
            '<small class="muted">of —</small>',
        ]),
    ],
)  # fmt: skip
def test_an_at_risk_row_shows_the_band_the_clock_and_the_due_time(
    band, remaining, fraction, fields, shown
):
    timer, progress = _timer(band, remaining=remaining, fraction=fraction, **fields)
    with timezone.override(ZoneInfo("Europe/Berlin")):
        row = AtRiskRows().row(timer, progress)
    assert f'<tr data-band="{band}">' in row
    url = timer.task.get_absolute_url()
    assert f'<td><a href="{url}">#41 Call ACME</a><br><small class="muted">Sales lead<' in row
    assert "<td>—</td>\n        <td><em>unassigned</em></td>" in row
    assert '<td><span class="badge high">High</span></td>\n        <td>In progress</td>' in row
    for text in shown:
        assert text in row
    assert ("over" in row) is (remaining < timedelta(0))
    assert ("due" in row) is (fields["due_at"] is not None)
