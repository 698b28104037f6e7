"""Database helpers for reports: a percentile aggregate that runs inside the database, and
the session settings report queries run with.

PostgreSQL has `percentile_disc(p) WITHIN GROUP (ORDER BY x)`; SQLite has no percentile, so
`reports_percentile(x, p)` is registered on every SQLite connection as an aggregate written
in Python (SQLite runs in-process: the rows still never reach Django). Both are nearest-rank,
the definition of `reports.metrics.percentile`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import connection, transaction
from django.db.backends.signals import connection_created
from django.db.models import Aggregate, DurationField

from reports import metrics


class Percentile(Aggregate):
    """Nearest-rank percentile of an expression (NULLs ignored), e.g.
    `Percentile("consumed", 0.9)`. `fraction` is a float in [0, 1]."""

    function = "percentile_disc"
    name = "Percentile"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        fraction = float(fraction)
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile fraction lies between 0 and 1.")
        extra.setdefault("output_field", DurationField())
        super().__init__(expression, fraction=repr(fraction), **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        # Set on a copy, not via extra_context: Aggregate.as_sql passes its own `template`
        # when a FILTER clause is present.
        clone = self.copy()
        clone.function = "reports_percentile"
        clone.template = "%(function)s(%(expressions)s, %(fraction)s)"
        return super(Percentile, clone).as_sql(compiler, connection, **extra_context)


class _SqlitePercentile:
    def __init__(self) -> None:
        self.values: list[Any] = []
        self.fraction = 0.5

    def step(self, value: Any, fraction: float) -> None:
        self.fraction = fraction
        if value is not None:
            self.values.append(value)

    def finalize(self) -> Any:
        return metrics.percentile(self.values, self.fraction)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("reports_percentile", 2, _SqlitePercentile)


def connect() -> None:
    connection_created.connect(register_sqlite_functions, dispatch_uid="reports_percentile")


# For the report pages' transaction only (SET LOCAL): sorts and hashes of a period's rows in
# memory rather than in temporary files, and no JIT compilation, which costs report queries
# 0.1–0.2 s each (their cost estimates pass jit_above_cost) and gains them nothing measurable.
REPORT_SETTINGS = {"work_mem": "64MB", "jit": "off"}


def report_settings(view: Callable) -> Callable:
    """Run `view` in a transaction with REPORT_SETTINGS (PostgreSQL; elsewhere unchanged)."""

    @wraps(view)
    def tuned(*args, **kwargs):
        if connection.vendor != "postgresql":
            return view(*args, **kwargs)
        with transaction.atomic():
            settings = ", ".join("set_config(%s, %s, true)" for _ in REPORT_SETTINGS)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {settings}", [v for pair in REPORT_SETTINGS.items() for v in pair]
                )
            return view(*args, **kwargs)

    return tuned
