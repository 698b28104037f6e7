"""reports.db: the report pages' session settings."""

from __future__ import annotations

import pytest
from django.db import connection

from reports.db import REPORT_SETTINGS, report_settings


@pytest.mark.postgresql(reason="the report pages set PostgreSQL session settings")
@pytest.mark.django_db(transaction=True)
def test_report_pages_run_with_their_session_settings_on_postgresql():
    def current() -> tuple:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('work_mem'), current_setting('jit')")
            return cursor.fetchone()

    inside = report_settings(current)()

    assert inside == (REPORT_SETTINGS["work_mem"], REPORT_SETTINGS["jit"])
    assert current() != inside  # SET LOCAL: for the page's transaction only
