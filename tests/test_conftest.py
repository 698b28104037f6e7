"""The `postgresql` marker (tests/conftest.py): skipped off PostgreSQL, and said so loudly."""

from __future__ import annotations

import pytest
from django.db import connection

from tests import conftest


def report(nodeid: str, *markers: str, outcome: str = "skipped") -> pytest.TestReport:
    keywords = {nodeid.rpartition("::")[2]: 1, **dict.fromkeys(markers, 1)}
    return pytest.TestReport(nodeid, ("x.py", 1, nodeid), keywords, outcome, None, "setup")


class Reporter:
    """What pytest_terminal_summary uses of pytest's terminal reporter, writing to a list."""

    def __init__(self, skipped: list[pytest.TestReport]) -> None:
        self.stats = {"skipped": skipped} if skipped else {}
        self.lines: list[str] = []

    def section(self, title: str, **markup) -> None:
        self.lines.append(f"== {title} ==")

    def write_line(self, line: str, **markup) -> None:
        self.lines.append(line)


class Item:
    def __init__(self, marker: pytest.Mark | None) -> None:
        self.marker = marker
        self.added: list[pytest.MarkDecorator] = []

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return self.marker if self.marker and self.marker.name == name else None

    def add_marker(self, marker: pytest.MarkDecorator) -> None:
        self.added.append(marker)


def test_the_summary_names_every_postgresql_test_that_did_not_run_and_how_to_run_them():
    skipped = [
        report("tests/sla/test_scan_sql.py::test_b", "postgresql"),
        report("tests/sla/test_scan_sql.py::test_a", "postgresql"),
        report("tests/e2e/test_card_flow.py::test_c", "e2e"),  # skipped for another reason
    ]
    reporter = Reporter(skipped)

    conftest.pytest_terminal_summary(reporter, 0, None)

    assert reporter.lines[0] == f"== NOT RUN on {connection.vendor}: 2 PostgreSQL-only tests =="
    assert reporter.lines[1:3] == [
        "  tests/sla/test_scan_sql.py::test_a",
        "  tests/sla/test_scan_sql.py::test_b",
    ]
    assert "DATABASE_URL=postgres://" in reporter.lines[3]


def test_the_summary_says_nothing_when_every_postgresql_test_ran():
    reporter = Reporter([report("tests/e2e/test_card_flow.py::test_c", "e2e")])

    conftest.pytest_terminal_summary(reporter, 0, None)
    conftest.pytest_terminal_summary(Reporter([]), 0, None)

    assert reporter.lines == []


@pytest.mark.parametrize(("vendor", "skipped"), [("sqlite", True), ("postgresql", False)])
def test_postgresql_tests_are_skipped_with_their_reason_on_any_other_database(
    monkeypatch, vendor, skipped
):
    monkeypatch.setattr(connection, "vendor", vendor)
    marked = Item(pytest.mark.postgresql(reason="shares the database").mark)
    plain = Item(None)

    conftest.pytest_collection_modifyitems(None, [marked, plain])

    assert plain.added == []
    if skipped:
        [skip] = marked.added
        assert skip.name == "skip"
        assert skip.kwargs == {"reason": "PostgreSQL only: shares the database"}
    else:
        assert marked.added == []
