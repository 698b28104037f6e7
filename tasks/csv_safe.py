"""Cells of a CSV file a spreadsheet opens safely (OWASP "CSV Injection"): the one guard of
every export, the card list's (tasks.exports) and the reports' (reports.figures)."""

from __future__ import annotations

from typing import Any

# A text cell starting with one of these can be read as a formula by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell as written: a text starting like a formula gets a leading `'` (read as text);
    numbers stay numbers, negative ones included; nothing (None) is an empty cell."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return "" if value is None else value
