"""CSV export and formula injection (OWASP "CSV Injection"): a text cell that a spreadsheet
could read as a formula — starting with `=`, `+`, `-`, `@`, TAB or CR — gets a leading `'`.
Numbers stay numbers, negative ones included."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from reports.figures import Column, Figure, Kind


def exported(*values: object, kind: Kind = Kind.TEXT) -> list[str]:
    figure = Figure(
        key="t",
        title="T",
        columns=[Column("v", "Value", kind)],
        rows=[{"v": value} for value in values],
    )
    _header, *rows = csv.reader(io.StringIO(figure.to_csv()))
    return [row[0] for row in rows]


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil","x")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_a_text_cell_starting_like_a_formula_is_quoted(text: str) -> None:
    assert exported(text) == ["'" + text]


@pytest.mark.parametrize("text", ["Acme", "1 desk", "a=b", "x-1", " =1", "'=1", ""])
def test_other_text_is_left_alone(text: str) -> None:
    assert exported(text) == [text]


def test_numbers_stay_numbers() -> None:
    assert exported(-1, kind=Kind.COUNT) == ["-1"]
    assert exported(-1.5, 0, kind=Kind.COUNT) == ["-1.5", "0"]
    assert exported(-timedelta(hours=2), kind=Kind.DURATION) == ["-2.0"]
    assert exported(None, kind=Kind.COUNT) == [""]
