"""The dashboards' partials that htmx swaps (templates/jinja2/tasks/, tasks/boards/jinja.py):
what they show, escaped, in the viewer's timezone, the same dispatch row on the board and after
an assignment, the same work card on My work and after a quick action, and the quick actions
`tasks.actions.allowed_transitions` allows."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from markupsafe import escape

from sla.engine import Progress, Tick
from sla.jobs import scan_due_timers
from sla.models import SlaTimer, TimerKind
from sla.queries import BREACHED, PAUSED, RUNNING, WARNED
from tasks import actions, time_words
from tasks.models import BlockingReason, Priority, RelatedObject, RequestType, Status, Task
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
    assert f'<td data-label="About">{escape(evil("client"))}</td>' in row
    assert f'<td data-label="Owner">{escape(evil("owner"))}</td>' in row
    assert f"{escape(evil('type'))} · {escape(evil('team'))}</small>" in row
    assert f"<br><small>{escape(evil('reason'))}</small>" in row
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; &amp; &#34;title&#34;" in row


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
    assert f'<td data-label="Owner">{escape(evil("owner"))}<br><small>Assigned</small></td>' in row
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
        shown = time_words.moment(due, timezone.now(), ZoneInfo(zone))
        hidden = time_words.moment(due, timezone.now(), ZoneInfo(other))
        assert shown != hidden
        assert f" · due {shown}</small>" in manager_seen[zone]
        assert f" · due {hidden}</small>" not in manager_seen[zone]
        created = time_words.moment(card.created_at, timezone.now(), ZoneInfo(zone))
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
        '<td data-label="Owner">Paula Performer<br><small>Assigned</small></td>',
    ):
        assert attribute in after


def _timer(band: int, *, remaining: timedelta, fraction: float, **fields) -> tuple:
    """An unsaved timer of an unsaved card, with its band annotation, progress and tick at
    NOW (running until 17:00 UTC, or paused while the card waits)."""
    task = Task(
        pk=41,
        title="Call ACME",
        request_type=RequestType(name="Sales lead"),
        priority=Priority.HIGH,
        status=Status.IN_PROGRESS,
    )
    fields = {
        "kind": TimerKind.RESOLUTION,
        "target": 8 * H,
        "observe": False,
        "running_since": DUE - 8 * H,
    } | fields
    timer = SlaTimer(task=task, **fields)
    timer.band = band
    progress = Progress(consumed=8 * H - remaining, remaining=remaining, fraction=fraction)
    if timer.running_since is None:
        return timer, progress, Tick(running=False, until=None, paused=True)
    return timer, progress, Tick(running=True, until=CLOSES, resumes=CLOSES + 16 * H)


DUE = datetime(2026, 3, 6, 16, 45, tzinfo=UTC)  # a Friday; 17:45 in Berlin
NOW = DUE - 6 * H  # 11:45 in Berlin
CLOSES = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)  # 18:00 in Berlin, 6h 15m after NOW


@pytest.mark.parametrize(
    ("band", "remaining", "fraction", "fields", "shown"),
    [
        (BREACHED, -(H + timedelta(minutes=30)), 1.1875, {"due_at": DUE}, [
            '<span class="badge breached">Breached</span>\n          <br>\n'
            '          <small class="muted">of 8h 00m · due Fri 6 Mar 17:45</small></td>',
            '<progress value="100" max="100" class="breached" aria-label="119% of target used">',
            '<strong><span class="countdown" data-countdown data-stamp="2026-03-06T10:45:00+00:00"'
            ' data-left="-5400" data-running="true" data-change-in="22500"'
            ' data-still="paused until Sat 7 Mar 10:00">overdue by 1h 30m</span></strong>',
        ]),
        (WARNED, timedelta(minutes=20), 0.9583, {"due_at": DUE}, [
            '<span class="badge warn">At risk</span>',
            '<progress value="96" max="100" class="warn" aria-label="96% of target used">',
            '\n          <span class="countdown" data-countdown',
            'data-left="1200" data-running="true"',
            ">20m remaining</span>\n",
        ]),
        (RUNNING, 5 * H, 0.375, {"due_at": DUE, "kind": TimerKind.RESPONSE}, [
            '<td data-label="Timer">First response\n',
            '<span class="badge running">Running</span>',
            '<progress value="38" max="100" class="" aria-label="38% of target used">',
            "5h 00m remaining",
        ]),
        (PAUSED, 6 * H, 0.25, {"observe": True, "due_at": None, "target": None,
                               "running_since": None}, [
            'data-running="false" data-change-in="" data-still="paused while the card waits">'
            "6h 00m remaining · paused while the card waits</span>\n",
            '<span class="badge paused">Paused</span>\n          '
            '<span class="badge observe">Observe</span><br>\n'
            '          <small class="muted">of —</small></td>',
        ]),
    ],
)  # fmt: skip
def test_an_at_risk_row_shows_the_band_the_clock_and_the_due_time(
    band, remaining, fraction, fields, shown
):
    timer, progress, tick = _timer(band, remaining=remaining, fraction=fraction, **fields)
    with timezone.override(ZoneInfo("Europe/Berlin")):
        row = render_to_string(
            "tasks/_at_risk_rows.html",
            {"rows": [(timer, progress, tick)], "now": NOW},
            using="jinja2",
        )
    assert f'<tr data-band="{band}">' in row
    url = timer.task.get_absolute_url()
    card = f'<td data-label="Card"><a href="{url}">#41 Call ACME</a><br><small class="muted">'
    assert card + "Sales lead<" in row
    assert (
        '<td data-label="About">—</td>\n        <td data-label="Owner"><em>unassigned</em>' in row
    )
    assert (
        '<td data-label="Priority"><span class="badge high">High</span></td>\n        '
        '<td data-label="Status">In progress</td>'
    ) in row
    for text in shown:
        assert text in row
    assert ("over" in row) is (remaining < timedelta(0))
    assert ("due" in row) is (fields["due_at"] is not None)


def _work_card(html: str, task: Task) -> str:
    """The card as My work's page has it (the card a quick action returns, stripped)."""
    begin = html.index(f'<article id="work-{task.pk}" class="work-card">')
    return html[begin : html.index("</article>", begin) + len("</article>")]


def _quick_action(client: Client, task: Task, **data):
    task.refresh_from_db()
    data = {"version": task.version} | data
    url = reverse("my_work_status", args=[task.pk])
    return client.post(url, data, HTTP_HX_REQUEST="true")


@pytest.mark.django_db
def test_the_work_card_escapes_every_name_it_shows_on_the_page_and_after_a_quick_action(
    dispatcher, evil_owner, default_policy
):
    reason = BlockingReasonFactory(name=evil("reason"))
    waiting = make_evil_card(actor=dispatcher, owner=evil_owner, assigned=True)
    actions.set_next_step(task=waiting, text=evil("next step"), due=None, actor=evil_owner)
    actions.change_status(task=waiting, to=Status.WAITING, actor=evil_owner,
                          blocking_reason=reason)  # fmt: skip
    other = make_task(actor=dispatcher, owner=evil_owner, team=evil_owner.teams.get(),
                      title="Plain")  # fmt: skip
    client = client_for(evil_owner)
    page = client.get(reverse("my_work")).content.decode()
    taken = _quick_action(client, waiting, to=Status.IN_PROGRESS)
    assert taken.status_code == 200
    refused = _quick_action(client, other, to=evil("to"))  # the form echoes the bad choice
    assert refused.status_code == 400
    option = f'<option value="{reason.pk}">{escape(evil("reason"))}</option>'
    for html in (page, taken.content.decode(), refused.content.decode()):
        assert "<script>" not in html
    card = _work_card(page, waiting)
    assert f"<strong>#{waiting.pk} {escape(evil('title'))}</strong>" in card
    assert f"· Waiting — {escape(evil('reason'))}\n" in card
    assert f"<p>Next: {escape(evil('next step'))}</p>" in card
    assert option in _work_card(page, other)
    card = taken.content.decode()
    assert f"<strong>#{waiting.pk} {escape(evil('title'))}</strong>" in card
    assert "· In progress\n" in card
    assert f"<p>Next: {escape(evil('next step'))}</p>" in card
    assert option in card
    alert = f"Move to: “{escape(evil('to'))}” is not a status a card can move to."
    assert f'<p class="flash error" role="alert">{alert}</p>' in refused.content.decode()


@pytest.mark.django_db
def test_the_viewers_timezone_cookie_sets_the_times_on_the_work_card(
    dispatcher, performer, request_type, default_policy
):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Zoned")
    step_due = timezone.now() + 30 * H
    actions.set_next_step(task=card, text="Call back", due=step_due, actor=performer)
    next_due = min(
        SlaTimer.objects.filter(task=card, stopped_at=None).values_list("due_at", flat=True)
    )
    reason = BlockingReasonFactory(name="Customer")
    zones = {"Asia/Kolkata": {"to": Status.IN_PROGRESS},
             "America/New_York": {"to": Status.WAITING, "blocking_reason": reason.pk}}  # fmt: skip
    pages = {
        zone: _work_card(client_for(performer, zone).get(reverse("my_work")).content.decode(), card)
        for zone in zones
    }
    seen = {zone: (pages[zone], _quick_action(client_for(performer, zone), card, **move))
            for zone, move in zones.items()}  # fmt: skip
    for zone, other in (("Asia/Kolkata", "America/New_York"), ("America/New_York", "Asia/Kolkata")):
        shown, hidden = (
            {at: time_words.moment(at, timezone.now(), ZoneInfo(z))
             for at in (next_due, step_due)}
            for z in (zone, other)
        )  # fmt: skip
        assert shown[next_due] != hidden[next_due] and shown[step_due] != hidden[step_due]
        on_page, after_action = seen[zone]
        assert f" · next deadline {shown[next_due]}</small>" in on_page
        assert f"<p>Next: Call back (by {shown[step_due]})</p>" in on_page
        assert after_action.status_code == 200
        assert f"<p>Next: Call back (by {shown[step_due]})</p>" in after_action.content.decode()
        for html in (on_page, after_action.content.decode()):
            assert hidden[next_due] not in html and hidden[step_due] not in html


def _tokens_blanked(html: str, forms: int) -> str:
    token = re.compile(r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]*)">')
    assert [len(value) for value in token.findall(html)] == [64] * forms, "the forms' tokens"
    return token.sub('name="csrfmiddlewaretoken" value=""', html)


@pytest.mark.django_db
def test_the_card_a_quick_action_returns_is_the_cards_markup_on_my_work(
    dispatcher, performer, request_type, default_policy
):
    # Created two hours ago: its response timer (1 h) is breached once the scan has run, its
    # resolution timer gives the next deadline; both show on the page and on the card a
    # quick action returns (read with the same annotations, tasks.boards._work_cards).
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type,
                     title="Mine & <yours>", at=timezone.now() - 2 * H)  # fmt: skip
    scan_due_timers(timezone.now())
    card.refresh_from_db()
    actions.set_next_step(task=card, text="Ask 'them'", due=timezone.now() + H, actor=performer)
    BlockingReasonFactory(name="Customer <docs>"), BlockingReasonFactory(name="Supplier")
    client = client_for(performer)

    before = _work_card(client.get(reverse("my_work")).content.decode(), card)
    assert '<span class="badge breached">Breached</span>' in before
    assert "next deadline" in before
    stale = _quick_action(client, card, to=Status.IN_PROGRESS, version=card.version + 7)
    assert stale.status_code == 409
    alert = re.search(r'\n  <p class="flash error" role="alert">[^<]+</p>', stale.content.decode())
    assert alert and "changed by someone else" in alert.group()
    stale_card = stale.content.decode().replace(alert.group(), "\n  ", 1).strip()
    assert _tokens_blanked(stale_card, 2) == _tokens_blanked(before, 2)

    taken = _quick_action(client, card, to=Status.IN_PROGRESS)
    assert taken.status_code == 200
    after = _work_card(client.get(reverse("my_work")).content.decode(), card)
    assert _tokens_blanked(taken.content.decode().strip(), 1) == _tokens_blanked(after, 1)
    assert "Take into work" not in after and "· In progress\n" in after

    done = _quick_action(client, card, to=Status.DONE)
    assert done.status_code == 200
    assert done.content.decode().endswith(
        "<p>Next: Ask &#39;them&#39; (by "
        + time_words.moment(card.next_step_due, timezone.now(), timezone.get_current_timezone())
        + ')</p>\n  \n  \n  <p class="muted" role="status">Done.</p>\n  \n</article>'
    )
    assert 'class="work-card"' not in client.get(reverse("my_work")).content.decode()


def _work_task(status: Status, **fields) -> Task:
    """An unsaved card as My work reads it (owned: a card without owner can only be
    cancelled, which is not a quick action)."""
    fields.setdefault("owner_id", 5)
    return Task(pk=41, title="Call ACME", priority=Priority.HIGH, status=status, version=3,
                **fields)  # fmt: skip


def _work_cards(tasks: list[Task], reasons: list[BlockingReason], **context) -> str:
    """The partial of My work's cards, as the page and a quick action render it."""
    request = RequestFactory().get("/")
    context = {
        "tasks": tasks,
        "reasons": reasons,
        "work_url": reverse("my_work"),
        "may_work": True,
    } | context
    return render_to_string("tasks/_work_cards.html", context, request, using="jinja2")


@pytest.mark.parametrize(
    ("status", "moves", "done"),
    [
        (Status.NEW, ["in_progress", "waiting"], True),
        (Status.ASSIGNED, ["in_progress", "waiting"], True),
        (Status.IN_PROGRESS, ["waiting"], True),
        (Status.WAITING, ["in_progress"], True),
        (Status.ON_APPROVAL, [], False),
        (Status.DONE, [], False),
        (Status.CANCELLED, [], False),
    ],
)
def test_a_work_card_offers_the_moves_its_status_allows(status, moves, done):
    """Posted at once: the moves of `tasks.moves` that ask for nothing more (or a reason);
    Done is a GET form asking "Mark #N done?" first."""
    reasons = [BlockingReason(pk=7, name="Customer"), BlockingReason(pk=3, name="Supplier")]
    card = _work_cards([_work_task(status)], reasons)
    assert card.startswith('\n<article id="work-41" class="work-card">\n')
    assert card.endswith("</article>")
    assert re.findall(r'name="to" value="(\w+)"', card) == moves
    allowed = actions.allowed_transitions(_work_task(status))
    assert all(Status(move) in allowed for move in moves)  # never a move the card refuses
    url = reverse("my_work_status", args=[41])
    assert card.count(f'<form method="post" action="{url}" hx-post="{url}" hx-target="#work-41"'
                      ' hx-swap="outerHTML">') == len(moves)  # fmt: skip
    assert card.count('<input type="hidden" name="version" value="3">') == len(moves)
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="(\w{64})"', card)
    assert len(tokens) == len(moves) and len(set(tokens)) <= 1  # one token for every form
    options = '<option value="7">Customer</option><option value="3">Supplier</option>'
    assert (options in card) is ("waiting" in moves)
    asks_done = (
        '<input type="hidden" name="card" value="41">'
        '<input type="hidden" name="confirm" value="done">'
    )
    assert (asks_done in card) is done
    assert ("Mark #41 done?" in card) is False
    closed = f'<p class="muted" role="status">{status.label}.</p>'
    assert (closed in card) is (status in (Status.DONE, Status.CANCELLED))
    if status == Status.ON_APPROVAL:
        assert '<p class="muted" role="status">Waiting for a decision by its approver.</p>' in card
    assert f"    · {status.label}\n" in card


def test_a_work_cards_done_asks_for_confirmation_first():
    card = _work_cards([_work_task(Status.IN_PROGRESS)], [], confirm=41)
    assert '<p id="confirm-done-41"><strong>Mark #41 done?</strong></p>' in card
    assert re.findall(r'name="to" value="(\w+)"', card) == ["done", "waiting"]
    assert '<button type="submit" class="contrast">Confirm</button>' in card
    assert 'role="button" class="secondary outline">Keep open</a>' in card
    assert ">Done</button>" not in card
    other = _work_cards([_work_task(Status.IN_PROGRESS)], [], confirm=42)
    assert "Mark #41 done?" not in other and ">Done</button>" in other


def test_a_work_card_shows_its_breach_its_next_deadline_and_its_next_step():
    task = _work_task(Status.WAITING, blocking_reason=BlockingReason(name="Customer"),
                      next_step="Chase", next_step_due=DUE + 24 * H)  # fmt: skip
    task.breached, task.next_due = True, DUE
    with timezone.override(ZoneInfo("Europe/Berlin")):
        card = _work_cards([task], [])
    assert (
        '<span class="badge high">High</span>\n'
        '    <span class="badge breached">Breached</span>\n'
        "    · Waiting — Customer\n"
        '    <small class="muted"> · next deadline Fri 6 Mar 17:45</small>\n'
        "  </header>\n"
        "  <p>Next: Chase (by Sat 7 Mar 17:45)</p>\n"
    ) in card
    # Without My work's annotations (`breached`, `next_due`) and without a next step:
    task = _work_task(Status.IN_PROGRESS)
    card = _work_cards([task], [], error="Try <again>")
    assert (
        '<span class="badge high">High</span>\n    \n    · In progress\n    \n  </header>\n'
        "  <p><em>No next step.</em></p>\n"
        '  <p class="flash error" role="alert">Try &lt;again&gt;</p>\n'
    ) in card


def test_the_partials_render_in_the_viewers_timezone_and_escape_a_card_read_alone():
    """The partials' `date` filter uses the active timezone, as Django's does."""
    task = _work_task(Status.NEW, next_step="<b>Call</b>", next_step_due=DUE)
    for zone, shown in (("Europe/Berlin", "Fri 6 Mar 17:45"), ("Asia/Tokyo", "Sat 7 Mar 01:45")):
        with timezone.override(ZoneInfo(zone)):
            card = _work_cards([task], [])
        assert f"<p>Next: &lt;b&gt;Call&lt;/b&gt; (by {shown})</p>" in card


@pytest.mark.django_db
def test_an_overdue_timer_not_yet_stamped_is_breached_on_my_work_and_in_the_load_as_in_the_queue(
    manager, dispatcher, performer, request_type, default_policy
):
    # Created two hours ago, no scan since: its response timer (1 h) is overdue, not stamped.
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type,
                     title="Overdue", at=timezone.now() - 2 * H)  # fmt: skip
    assert not SlaTimer.objects.filter(task=card, breached_at__isnull=False).exists()
    queue = client_for(manager).get(reverse("at_risk"), HTTP_HX_REQUEST="true").content.decode()
    assert f'<tr data-band="{BREACHED}">' in queue
    mine = _work_card(client_for(performer).get(reverse("my_work")).content.decode(), card)
    assert '<span class="badge breached">Breached</span>' in mine
    board = client_for(dispatcher).get(reverse("dispatch")).content.decode()
    assert "Paula Performer — 1 open, 1 at risk</option>" in board
