"""Clients of the JSON API: a Django test client that sends a real personal token."""

import json
from datetime import timedelta

import pytest
from django.test import Client

from sla.models import BusinessCalendar
from tasks.api import tokens
from tasks.models import ApiToken
from tests.factories import BlockingReasonFactory, make_task, sla_policy


@pytest.fixture
def api_client():
    """`api_client(user, scope="write")`: a client sending `Authorization: Bearer <token>` of
    a new token of `user`; its `.token` is the ApiToken."""

    def make(user, scope=ApiToken.Scope.WRITE, **token_options):
        token, secret = tokens.make_token(user=user, name="test", scope=scope, **token_options)
        client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        client.token = token
        client.secret = secret
        return client

    return make


# --- Cards with timers, for the card endpoints (moves, comments, timers, history) ---------

H = timedelta(hours=1)


def problem(answer) -> str:
    """An error answer's JSON as text, whatever its shape: tests look for the message."""
    return json.dumps(answer.json())


@pytest.fixture
def always(db):
    return BusinessCalendar.objects.create(name="24/7", always_open=True)


@pytest.fixture
def default_policy(always):
    """1 h to respond, 8 h to resolve, warning at 75 %; pauses on reasons marked so."""
    return sla_policy("Default", always, 1 * H, 8 * H, is_default=True)


@pytest.fixture
def customer(db):
    return BlockingReasonFactory(name="Waiting for customer", pauses_sla=True)


@pytest.fixture
def card(team, request_type, dispatcher, performer, default_policy):
    """An assigned card of the Sales team, owned by the performer, with running timers."""
    return make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Lead")
