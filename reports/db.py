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
# memory rather than in temporary files, and no JIT compilation: their cost estimates pass
# jit_above_cost, so each would pay the compilation and gain nothing from it.
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


def _converted(value: Any, field: Any) -> Any:
    for converter in field.get_db_converters(connection) if field is not None else ():
        value = converter(value, None, connection)
    return value


def grouped_with_names(
    queryset, names: dict[str, tuple], order: tuple[str, ...] = ()
) -> list[dict]:
    """The rows of a grouped `queryset` (values() of ids, then aggregates) with the names of
    related rows joined after the grouping: `names` maps an output key to (model, the
    queryset's id column) for the row's `name`, or (model, id column, column) for another
    column (one join per model and id column). The GROUP BY then runs on the ids alone (in
    the order of an index that starts with them, or hashed) instead of on names joined to
    every row. `order`: output keys to sort the rows by in the database ("-key":
    descending)."""
    sql, params = queryset.query.sql_with_params()
    columns = [*queryset.query.values_select, *queryset.query.annotation_select]
    fields = {name: a.output_field for name, a in queryset.query.annotation_select.items()}
    q = connection.ops.quote_name
    select = [f"g.{q(c)} AS {q(c)}" for c in columns]
    joins: dict[tuple, str] = {}  # (model, id column) -> alias
    for key, (model, column, *name) in names.items():
        alias = joins.setdefault((model, column), f"n{len(joins)}")
        select.append(f"{alias}.{q(name[0] if name else 'name')} AS {q(key)}")
    joins = [
        f"LEFT JOIN {q(model._meta.db_table)} {alias} ON {alias}.{q(model._meta.pk.column)} "
        f"= g.{q(column)}"
        for (model, column), alias in joins.items()
    ]
    sql = f"SELECT {', '.join(select)} FROM ({sql}) g {' '.join(joins)}"
    if order:
        sql += " ORDER BY " + ", ".join(
            f"{q(key[1:])} DESC" if key.startswith("-") else q(key) for key in order
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = [*columns, *names]
        return [
            {k: _converted(v, fields.get(k)) for k, v in zip(keys, row, strict=True)}
            for row in cursor.fetchall()
        ]


def nth_values(probes: list[tuple[Any, str, int, float]]) -> list[Any]:
    """Exact nearest-rank percentiles without sorting the rows: for each (queryset, value
    field, n, fraction), where n is how many non-NULL values the queryset has, the value of
    rank `metrics.nearest_rank(n, fraction)`, read by skipping the ranks before it from the
    nearer end of an index in the value's order (one statement for all of them; None when
    n is 0). The same figure as `Percentile` over the same rows; it pays when a group is
    large (sorting a whole period's values costs more than reading half of them in order)."""
    if not probes:
        return []
    parts, params = [], []
    for queryset, value, n, fraction in probes:
        if not n:
            parts.append("NULL")
            continue
        rank = metrics.nearest_rank(n, fraction)
        rows = queryset.filter(**{f"{value}__isnull": False})
        if rank <= (n + 1) // 2:
            rows, skip = rows.order_by(value), rank - 1
        else:
            rows, skip = rows.order_by(f"-{value}"), n - rank
        sql, sql_params = rows.values(value)[skip : skip + 1].query.sql_with_params()
        parts.append(f"({sql})")
        params.extend(sql_params)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        values = cursor.fetchone()
    return [
        _converted(v, queryset.model._meta.get_field(value))
        for v, (queryset, value, _, _) in zip(values, probes, strict=True)
    ]
