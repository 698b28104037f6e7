"""`make run`: links in emails and Slack point where the server runs; demo logins shown.

`make -n` prints the commands without running them (nothing is installed or started).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from django.conf import settings


def dry_run(*args: str, **env: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    environ = {k: v for k, v in os.environ.items() if k != "SITE_URL"} | env
    return subprocess.run(
        ["make", "-n", "run", *args],
        cwd=settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_make_run_points_links_at_its_own_address():
    out = dry_run("ADDR=127.0.0.1:8123")
    assert "SITE_URL='http://127.0.0.1:8123'" in out
    assert "runserver 127.0.0.1:8123" in out
    assert "DEMO_LOGINS=true" in out


def test_an_explicit_site_url_wins():
    out = dry_run("ADDR=0.0.0.0:8000", SITE_URL="https://turnaround.example")
    assert "SITE_URL='https://turnaround.example'" in out
