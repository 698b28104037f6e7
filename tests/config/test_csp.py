"""Every page is served with the Content-Security-Policy: scripts and styles only from our
own static files, no framing, forms posting only to us (tests/e2e/test_csp.py checks in a
real browser that the pages pass it)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def directives(header: str) -> dict[str, str]:
    parts = (part.strip().partition(" ") for part in header.split(";") if part.strip())
    return {name: value for name, _, value in parts}


def test_the_login_page_carries_the_policy(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"]) == POLICY


@pytest.mark.parametrize(
    "path",
    ["/at-risk/", "/dispatch/", "/my-work/", "/cards/", "/notifications/",
     "/reports/overview/", "/reports/calibration/"],
)  # fmt: skip
def test_pages_carry_the_policy_without_unsafe_inline(client, manager, path):
    client.force_login(manager)
    response = client.get(path)
    assert response.status_code == 200
    header = response["Content-Security-Policy"]
    assert directives(header) == POLICY
    assert "unsafe" not in header
