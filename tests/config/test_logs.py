"""Request ids in logs and responses, JSON log lines, and Sentry only with a DSN."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.urls import reverse

from config.logs import HEADER, NO_REQUEST, JsonFormatter, RequestIdFilter, request_id


@pytest.fixture
def records():
    """Records as the console handler sees them (with its request-id filter)."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    handler = Keep(level=logging.DEBUG)
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)
    yield seen
    logging.getLogger().removeHandler(handler)


def test_every_response_gets_an_id_of_its_own(client, db):
    response = client.get(reverse("task_list"))  # not logged in: a redirect
    rid = response[HEADER]
    assert len(rid) == 32
    other = client.get(reverse("login"))[HEADER]
    assert other != rid
    assert request_id.get() == NO_REQUEST  # nothing carried past the request


def test_a_plain_incoming_id_is_kept_and_is_on_the_requests_log_records(client, records, db):
    response = client.get("/no-such-page/", headers={HEADER: "lb-7f3a.19"})

    assert response[HEADER] == "lb-7f3a.19"
    not_found = [r for r in records if r.name == "django.request"]
    assert not_found, "Django logs the 404"
    assert {r.request_id for r in not_found} == {"lb-7f3a.19"}


@pytest.mark.parametrize("forged", ["a\nFAKE LOG LINE", "x" * 129, 'quote"s', ""])
def test_an_unsafe_incoming_id_is_replaced(client, db, forged):
    response = client.get(reverse("login"), headers={HEADER: forged})
    assert response[HEADER] != forged
    assert len(response[HEADER]) == 32


def test_json_lines_carry_level_logger_message_and_request_id():
    record = logging.LogRecord("sla.jobs", logging.WARNING, __file__, 1, "late: %s", ("x",), None)
    record.request_id = "abc"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "sla.jobs"
    assert entry["message"] == "late: x"
    assert entry["request_id"] == "abc"
    assert entry["time"].endswith("+00:00")


def test_json_lines_keep_a_traceback_in_one_line():
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


def _settings_in_a_new_process(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("SENTRY_DSN", "LOG_FORMAT")}
    environ |= {"DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x", **env}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_log_format_json_switches_the_console_to_json_lines():
    code = "import logging; logging.getLogger('sla.jobs').warning('scan late')"
    environ = {k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=settings.BASE_DIR,
        env=environ
        | {"DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "x", "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        check=True,
    ).stderr.strip()
    entries = [json.loads(line) for line in out.splitlines()]
    (scan,) = [e for e in entries if e["logger"] == "sla.jobs"]
    assert scan["message"] == "scan late"
    assert scan["request_id"] == NO_REQUEST


def test_sentry_starts_only_with_a_dsn():
    code = "import sentry_sdk; print(sentry_sdk.is_initialized())"
    assert _settings_in_a_new_process(code) == "False"
    # A DSN nobody listens on: initialising sends nothing.
    dsn = "http://public@127.0.0.1:9/1"
    assert _settings_in_a_new_process(code, SENTRY_DSN=dsn) == "True"
