"""The two paths of the scan share one table of rules and one spelling of every value.

The rows they write are compared in tests/sla/test_scan_sql.py (PostgreSQL); these checks of
the texts run everywhere."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sla import escalation, scan, scan_rules
from sla.models import SlaEvent, SlaTimer

SQL_FILE = Path(scan.__file__).with_name("sql") / "scan_batch.sql"
TABLE_ROW = re.compile(r"^\|.*\|$")
M = timedelta(minutes=1)


def rule_table(lines: list[str]) -> list[str]:
    rows = [line.strip() for line in lines if TABLE_ROW.match(line.strip())]
    assert len(rows) > 10, "the table of rules is missing"
    return rows


def test_both_paths_start_with_the_same_table_of_rules():
    python = rule_table(escalation.__doc__.splitlines())
    sql_header = [
        line.removeprefix("--").strip()
        for line in SQL_FILE.read_text().splitlines()
        if line.startswith("--")
    ]

    assert rule_table(sql_header) == python
    for name in re.findall(r"\b[A-Z][A-Z_]{3,}\b", "\n".join(python)):
        assert hasattr(scan_rules, name), f"the table names {name}, not in sla/scan_rules.py"


def test_the_statement_runs_without_its_comments_and_starts_with_the_claim():
    assert SQL_FILE.read_text().startswith("--")
    assert "--" not in scan.SCAN_BATCH_SQL
    assert scan.SCAN_BATCH_SQL.lstrip().startswith("WITH claimed")


def test_the_statement_spells_no_shared_value_and_gets_each_as_a_parameter():
    literals = set(re.findall(r"'[^']*'", scan.SCAN_BATCH_SQL))
    used = set(re.findall(r"%\((\w+)\)s", scan.SCAN_BATCH_SQL))

    assert literals == {"''"}  # empty address, error and webhook only
    assert used == set(scan.sql_params()) | {"now", "batch"}


def test_every_shared_constant_reaches_the_statement():
    constants = {
        value for name, value in vars(scan_rules).items() if name.isupper() and name[0] != "_"
    }
    assert constants <= set(scan.sql_params().values())


def test_the_python_path_keys_its_warning_and_breach_events_as_the_statement_does():
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    warned = SlaTimer(running_since=start, warn_at=start + 45 * M, due_at=start + 60 * M)
    breached = SlaTimer(running_since=start, warn_at=start + 45 * M, due_at=start + 60 * M)

    [warning] = escalation.advance(warned, [], start + 50 * M)
    [breach] = escalation.advance(breached, [], start + 70 * M)

    assert (warning.key, warning.kind) == (scan_rules.WARNING_KEY, SlaEvent.Kind.WARNING)
    assert (breach.key, breach.kind) == (scan_rules.BREACH_KEY, SlaEvent.Kind.BREACH)
