"""The calendar feed: my running deadlines as iCalendar behind a secret link, parsed back
with the icalendar package; a revoked, expired, unknown or non-calendar secret is a 404."""

from datetime import timedelta

import icalendar
import pytest
from django.test import Client
from django.utils import timezone

from sla.models import SlaTarget, SlaTimer, TimerKind
from tasks import actions
from tasks.api import tokens
from tasks.models import ApiToken
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def feed_of(user, **options):
    token, secret = tokens.make_token(user=user, name="Phone", scope="calendar", **options)
    return token, f"/calendar/{secret}.ics"


def events(answer):
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"] == "text/calendar; charset=utf-8"
    return icalendar.Calendar.from_ical(answer.content).walk("VEVENT")


def test_my_deadlines_as_calendar_events(performer, other_performer, dispatcher, card, customer):
    helped = make_task(actor=dispatcher, owner=other_performer, request_type=card.request_type,
                       title="Helping")  # fmt: skip
    actions.set_performers(task=helped, users=[performer], actor=dispatcher)
    make_task(actor=dispatcher, owner=other_performer, request_type=card.request_type,
              title="Not mine")  # fmt: skip
    paused = make_task(actor=dispatcher, owner=performer, request_type=card.request_type,
                       title="Paused")  # fmt: skip
    actions.change_status(task=paused, to="waiting", actor=performer, blocking_reason=customer)
    _, link = feed_of(performer)
    found = events(Client().get(link))  # no login
    due = {str(e["summary"]): e.decoded("dtstart") for e in found}
    timer = SlaTimer.objects.get(task=card, kind=TimerKind.RESPONSE)
    assert due[f"Due: #{card.pk} Lead (First response)"] == timer.due_at.replace(microsecond=0)
    assert f"Due: #{helped.pk} Helping (Resolution)" in due
    assert not any("Not mine" in s or "Paused" in s for s in due)
    assert len(found) == 4  # response and resolution of Lead and Helping
    one = next(e for e in found if str(e["summary"]).startswith(f"Due: #{card.pk}"))
    assert str(one["url"]) == f"http://testserver/cards/{card.pk}/"
    assert str(one["uid"]).startswith("timer-")
    assert found[0].decoded("dtstart") == min(due.values())  # nearest first


def test_the_approver_sees_the_decisions_she_is_asked_for(performer, manager, card):
    for target in SlaTarget.objects.filter(policy__name="Default"):  # saved: bumps the
        target.approval_target = timedelta(hours=4)  # policies version (sla.actions)
        target.save()
    actions.change_status(task=card, to="on_approval", actor=performer, approver=manager)
    _, link = feed_of(manager)
    summaries = [str(e["summary"]) for e in events(Client().get(link))]
    assert summaries == [f"Due: #{card.pk} Lead (Time to decision)"]


def test_a_revoked_link_is_404(performer, card):
    token, link = feed_of(performer)
    tokens.revoke(token=token)
    assert Client().get(link).status_code == 404


def test_an_expired_link_is_404(performer, card):
    token, link = feed_of(performer, expires_in_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(link).status_code == 404


@pytest.mark.parametrize("secret", ["tra_guess", "x" * 500, "%00", ""])
def test_an_unknown_link_is_404(db, secret):
    assert Client().get(f"/calendar/{secret}.ics").status_code == 404


def test_an_api_token_opens_no_calendar_and_a_calendar_link_no_api(api_client, performer, card):
    api = api_client(performer, scope=ApiToken.Scope.READ)
    assert Client().get(f"/calendar/{api.secret}.ics").status_code == 404
    _, link = feed_of(performer)
    secret = link.removeprefix("/calendar/").removesuffix(".ics")
    calendar_as_api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert calendar_as_api.get("/api/v1/timers/").status_code == 401


def test_the_link_is_stored_only_as_its_hash(performer):
    token, link = feed_of(performer)
    secret = link.removeprefix("/calendar/").removesuffix(".ics")
    assert len(secret) > 40 and token.key_hash == tokens.digest(secret)
    assert not ApiToken.objects.filter(key_hash__contains=secret[4:20]).exists()


def test_the_feed_takes_a_fixed_number_of_queries(
    performer, dispatcher, card, django_assert_max_num_queries
):
    for n in range(15):
        make_task(actor=dispatcher, owner=performer, request_type=card.request_type, title=f"C{n}")
    _, link = feed_of(performer)
    Client().get(link)
    with django_assert_max_num_queries(2):  # the token, the timers with their cards
        assert len(events(Client().get(link))) == 32
