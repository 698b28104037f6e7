"""Clients of the JSON API: a Django test client that sends a real personal token."""

import pytest
from django.test import Client

from tasks.api import tokens
from tasks.models import ApiToken


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


@pytest.fixture
def default_policy(db):
    """A 24/7 default SLA policy: every new card gets its response and resolution timers."""
    from datetime import timedelta

    from sla.models import BusinessCalendar
    from tests.factories import sla_policy

    always = BusinessCalendar.objects.create(name="24/7", always_open=True)
    return sla_policy("Default", always, timedelta(hours=1), timedelta(hours=8), is_default=True)
