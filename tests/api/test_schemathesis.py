"""schemathesis (v4) against the API's own OpenAPI document, on the test database with a
write token: every operation of /api/v1/schema/ (so endpoints added later are covered too),
every check (no 500s, every status, content type, header and body as documented, bad input
refused, good input accepted), and the stateful run following the document's links (create a
card, then read and change it)."""

from __future__ import annotations

from pathlib import Path

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from tasks.api import tokens
from tasks.models import ApiToken, RelatedObject
from tests.factories import BlockingReasonFactory, RequestTypeFactory

SCHEMA = "/api/v1/schema/?format=json"
CONFIG = schemathesis.Config.from_path(Path(__file__).with_name("schemathesis.toml"))
EXAMPLES = hypothesis.settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)


@pytest.fixture
def api_world(db, settings, manager, dispatcher, performer, team, request_type):
    """What the generated requests may name (a team, types, a client, a reason), and a write
    token of a dispatcher; no throttling in the way of a few hundred requests. The WSGI
    application runs in this test's transaction: Django's end-of-request connection cleanup
    is unhooked for the test, as its own test client does."""
    settings.API_THROTTLE_RATE = "100000/min"
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]  # schemathesis's WSGI client
    RequestTypeFactory(name="IT request", default_team=team)
    RelatedObject.objects.create(kind="client", name="ACME", external_ref="C-1")
    BlockingReasonFactory(name="Waiting for the client")
    _, secret = tokens.make_token(user=dispatcher, name="schemathesis", scope=ApiToken.Scope.WRITE)
    CURRENT["secret"] = secret
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Bearer {secret}"}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# The write token of the running test (set by `api_world`): schemathesis sends it through its
# auth provider, so its own authentication check (ST401) knows the request as authenticated.
CURRENT = {}


@schemathesis.auth(refresh_interval=None)
class BearerToken:
    def get(self, case, context):
        return CURRENT["secret"]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def api_schema(api_world):
    return schemathesis.openapi.from_wsgi(
        SCHEMA, get_wsgi_application(), headers=dict(api_world), config=CONFIG
    )


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@EXAMPLES
def test_every_operation_answers_as_documented(case, api_world):
    case.call_and_validate()


@pytest.mark.django_db
def test_stateful_walks_follow_the_links(api_schema, api_world):
    api_schema.as_state_machine().run(
        settings=hypothesis.settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
