"""A report figure: a table of numbers, the chart drawn from the same numbers, and its CSV.

No Django: figures are plain data built by reports.queries and rendered by one template.
Durations are business `timedelta`s; charts and CSV show them as decimal hours.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from reports import metrics
from tasks.csv_safe import safe_cell


class Kind(StrEnum):
    TEXT = "text"
    COUNT = "count"
    DURATION = "duration"
    SHARE = "share"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: Kind = Kind.COUNT

    @property
    def csv_label(self) -> str:
        if self.kind == Kind.DURATION:
            return f"{self.label} (business hours)"
        if self.kind == Kind.SHARE:
            return f"{self.label} (0-1)"
        return self.label


@dataclass(frozen=True)
class Chart:
    """Which columns to draw: `label` names the x axis column, `series` the bars/lines."""

    type: str  # "bar" or "line"
    label: str
    series: tuple[str, ...]
    stacked: bool = False
    horizontal: bool = False


@dataclass
class Figure:
    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    chart: Chart | None = None
    note: str = ""
    empty: str = "No cards in this period match these filters."
    links: dict[int, str] = field(default_factory=dict)  # row index → URL of its first cell

    def cells(self) -> list[list[tuple[Column, Any]]]:
        return [[(c, row.get(c.key)) for c in self.columns] for row in self.rows]

    def chart_data(self) -> dict[str, Any] | None:
        if self.chart is None or not self.rows:
            return None
        by_key = {c.key: c for c in self.columns}
        return {
            "type": self.chart.type,
            "stacked": self.chart.stacked,
            "horizontal": self.chart.horizontal,
            "labels": [_plain(row.get(self.chart.label), Kind.TEXT) for row in self.rows],
            "datasets": [
                {
                    "label": by_key[key].csv_label,
                    "data": [_plain(row.get(key), by_key[key].kind) for row in self.rows],
                }
                for key in self.chart.series
            ],
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([c.csv_label for c in self.columns])
        for row in self.rows:
            writer.writerow([safe_cell(_plain(row.get(c.key), c.kind)) for c in self.columns])
        return out.getvalue()


def _plain(value: Any, kind: Kind) -> Any:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return metrics.hours(value)
    if kind == Kind.SHARE:
        return round(float(value), 4)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if kind == Kind.TEXT:
        return str(value)
    return value


def display(value: Any, kind: Kind) -> str:
    """A cell as the table shows it."""
    if value is None:
        return "—"
    if kind == Kind.DURATION:
        return metrics.format_duration(value)
    if kind == Kind.SHARE:
        return f"{value * 100:.1f} %"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
