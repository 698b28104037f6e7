"""The Slack app's rows in the admin: listed read-only; a mapping can be forgotten."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from sla.models import CardThread, SlackUser
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def test_slack_users_and_card_threads_are_listed(admin_client, performer, dispatcher,
                                                 django_assert_max_num_queries):  # fmt: skip
    for n in range(5):
        SlackUser.objects.create(
            team_id="T1", slack_id=f"U{n}", user=performer, email="p@example.com",
            checked_at=timezone.now(),
        )  # fmt: skip
        task = make_task(actor=dispatcher, title=f"Card {n}")
        CardThread.objects.create(
            task=task, team_id="T1", channel="C1", thread_ts=f"1.{n}", created_at=timezone.now()
        )
    for model in ("slackuser", "cardthread"):
        with django_assert_max_num_queries(10):
            response = admin_client.get(reverse(f"admin:sla_{model}_changelist"))
        assert response.status_code == 200
    assert admin_client.get(reverse("admin:sla_slackuser_add")).status_code == 403


def test_a_superuser_may_forget_a_mapping(admin_client, performer):
    row = SlackUser.objects.create(
        team_id="T1", slack_id="U1", user=performer, email="p@example.com",
        checked_at=timezone.now(),
    )  # fmt: skip
    response = admin_client.post(
        reverse("admin:sla_slackuser_delete", args=[row.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not SlackUser.objects.exists()
