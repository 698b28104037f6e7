"""The Content-Security-Policy in a real browser: every main page loads, draws its charts
and runs its htmx without one CSP violation (no inline scripts, styles or handlers; htmx's
own indicator style is switched off and lives in app.css)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import make_task

pytestmark = pytest.mark.django_db(transaction=True)

# Every violation the page reports, kept on `window` from before any page script runs.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} `
                    + `at ${e.sourceFile}:${e.lineNumber} (${e.sample})`);
});
"""


def test_the_main_pages_pass_the_content_security_policy(
    live_server, page, log_in, sla_config, manager, dispatcher, performer, request_type
):
    made = {"actor": dispatcher, "request_type": request_type, "owner": performer}
    card = make_task(at=timezone.now() - timedelta(hours=2), title="<b>Bold</b> & co", **made)
    page.add_init_script(RECORD_VIOLATIONS)
    console = []
    page.on(
        "console",
        lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
    )
    seen: dict[str, list[str]] = {}

    def check(path: str) -> None:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        seen[path] = page.evaluate("window.__csp")

    check("/login/")
    log_in("maria")
    for path in (
        "/at-risk/",
        "/dispatch/",
        "/my-work/",
        "/cards/",
        f"/cards/{card.pk}/",
        "/reports/overview/",
        "/reports/calibration/",
        "/reports/weekly/",
        "/notifications/",
    ):
        check(path)

    # An htmx action still works under the policy: filter the at-risk queue in place.
    page.goto(f"{live_server.url}/at-risk/")
    page.get_by_label("Owner").select_option(str(performer.pk))
    expect(page).to_have_url(re.compile(rf"[?&]owner={performer.pk}\b"))
    expect(page.locator("#queue")).to_contain_text("Bold")
    seen["/at-risk/ (htmx)"] = page.evaluate("window.__csp")

    assert {path: v for path, v in seen.items() if v} == {}
    assert console == []
