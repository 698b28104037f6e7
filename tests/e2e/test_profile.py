"""The profile's settings in a real browser: from the nav's Help to the profile, a timezone
and a preference saved through the form, the card page then in that zone, and a refused zone
named in place with what was typed kept."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sla.models import NotificationPreference
from tasks import time_words
from tasks.models import Profile, Task
from tests.factories import make_task

pytestmark = pytest.mark.e2e


def test_a_person_sets_her_timezone_and_what_reaches_her(
    live_server, page, log_in, dispatcher, performer, request_type
):
    card = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Desks")
    created = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # 18:30 in Tokyo
    Task.objects.filter(pk=card.pk).update(created_at=created)
    log_in("paula")

    page.get_by_role("link", name="Help").click()
    expect(page.locator("#help-performer")).to_contain_text("My work")
    page.get_by_role("link", name="your profile").first.click()
    expect(page.locator("#urgent-rule")).to_contain_text("Breaches and escalations always go out")

    page.get_by_label("Your timezone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#settings")).to_contain_text("is not a known timezone")
    expect(page.get_by_label("Your timezone")).to_have_value("Mars/Olympus")
    assert not Profile.objects.exists()

    page.get_by_label("Your timezone").fill("Asia/Tokyo")
    page.get_by_label("Warnings (a card at risk) by Email").uncheck()
    page.get_by_label("Quiet hours from").fill("22:00")
    page.get_by_label("Quiet hours until").fill("07:00")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#main")).to_contain_text("Your settings are saved.")
    page.screenshot(path="/tmp/profile_settings.png", full_page=True)
    assert Profile.objects.get(user=performer).timezone == "Asia/Tokyo"
    prefs = NotificationPreference.objects.get(user=performer)
    assert prefs.muted == ["warning:email"] and prefs.quiet_start.hour == 22

    page.goto(f"{live_server.url}{card.get_absolute_url()}")
    # In time words (dated: not today) and in her zone, which the page names.
    shown = time_words.moment(created, timezone.now(), ZoneInfo("Asia/Tokyo"))
    assert shown.startswith("Mon 23 Nov") and shown.endswith("18:30")
    expect(page.locator("#main")).to_contain_text(shown)
    expect(page.locator("#main")).to_contain_text("Times in Asia/Tokyo")
