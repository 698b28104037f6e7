"""End-to-end tests: a real Chromium (Debian's, never a downloaded one) driven by Playwright
against pytest-django's live_server. Skipped, with the reason, when Chromium is missing."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls in test set-up
# are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
            if not HAVE_CHROMIUM:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _database_outlives_the_browser(transactional_db):
    """Autouse, so the database is set up before the browser page and flushed only after the
    page is closed: a poll landing on the live server mid-flush could break the flush."""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",  # tests run as root
            "--disable-gpu",
            "--disable-quic",
            # The machine has no internet: stop Chromium from trying.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def sla_config(transactional_db):
    """A 24/7 default policy (so timers run whenever the test runs) and blocking reasons."""
    from sla.models import BusinessCalendar, SlaPolicy, SlaTarget
    from tasks.models import Priority
    from tests.factories import BlockingReasonFactory

    calendar = BusinessCalendar.objects.create(name="24/7", always_open=True)
    policy = SlaPolicy.objects.create(name="Default", is_default=True, calendar=calendar)
    for priority in Priority:
        SlaTarget.objects.create(
            policy=policy,
            priority=priority,
            response_target=timedelta(hours=1),
            resolution_target=timedelta(hours=8),
            approval_target=timedelta(hours=4),
        )
    BlockingReasonFactory(name="Waiting for customer", pauses_sla=True)
    return policy


@pytest.fixture
def log_in(live_server, page):
    def log_in(username: str, password: str = "pw"):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    return log_in
