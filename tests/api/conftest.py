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
