"""Set-based writes for the jobs' hot paths.

Django's `bulk_update` builds one CASE expression per field and row; for a scan batch that
was most of the scan's time (docs/performance-journal.md). On PostgreSQL
one `UPDATE … FROM unnest(arrays)` does the same in a single, cheap statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from django.db import connection, models

# Values psycopg adapts exactly as Django would (aware datetimes, ints, text, booleans, None,
# timedeltas): passing them straight saves Django's per-value preparation on hot paths.
_PLAIN = (models.DateTimeField, models.IntegerField, models.CharField, models.BooleanField,
          models.DurationField, models.ForeignKey, models.BigAutoField)  # fmt: skip


def _column_values(field: models.Field, values: list) -> list:
    if isinstance(field, _PLAIN):
        return [v.value if isinstance(v, Enum) else v for v in values]
    return [field.get_db_prep_save(v, connection) for v in values]


def update_rows(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write `fields` of already-saved `objs` (all of one model) in one statement."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields)
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    arrays = [[obj.pk for obj in objs]]
    casts = [meta.pk.db_type(connection)]
    for field in columns:
        arrays.append(_column_values(field, [getattr(obj, field.attname) for obj in objs]))
        casts.append(field.db_type(connection))
    names = ["pk"] + [field.column for field in columns]
    sql = "UPDATE {table} AS t SET {sets} FROM unnest({arrays}) AS v({names}) WHERE t.{pk} = v.pk"
    sql = sql.format(
        table=quote(meta.db_table),
        sets=", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns),
        arrays=", ".join(f"%s::{cast}[]" for cast in casts),
        names=", ".join(quote(name) for name in names),
        pk=quote(meta.pk.column),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[object]],
    returning: Sequence[str] = (),
) -> list[tuple]:
    """Insert plain rows (values in the order of `fields`, by name or attname) in one
    statement, without building model instances; returns the `returning` columns of each
    inserted row. On PostgreSQL: INSERT … SELECT FROM unnest(arrays); elsewhere
    bulk_create."""
    if not rows:
        return []
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    back = [meta.get_field(name) for name in returning]
    if connection.vendor != "postgresql":
        objs = model.objects.bulk_create(
            [model(**{c.attname: v for c, v in zip(columns, row, strict=True)}) for row in rows]
        )
        return [tuple(getattr(obj, f.attname) for f in back) for obj in objs]
    quote = connection.ops.quote_name
    arrays = [_column_values(column, [row[i] for row in rows]) for i, column in enumerate(columns)]
    sql = "INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})".format(
        table=quote(meta.db_table),
        names=", ".join(quote(c.column) for c in columns),
        arrays=", ".join(f"%s::{c.db_type(connection)}[]" for c in columns),
    )
    if back:
        sql += " RETURNING " + ", ".join(quote(f.column) for f in back)
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        return [tuple(row) for row in cursor.fetchall()] if back else []


def insert_objects(objs: Sequence[models.Model]) -> None:
    """Insert new instances (all of one model) in one statement and give them their
    automatic primary keys, as `bulk_create` does; on PostgreSQL through `insert_rows`,
    without Django's per-value preparation (most of `bulk_create`'s time on wide rows).
    Fields with `auto_now`/`auto_now_add` are stamped as `save()` stamps them; a relation set
    to an instance saved meanwhile takes its key, as in `save()`."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    meta = model._meta
    automatic = isinstance(meta.pk, models.AutoField)  # BigAutoField too
    fields = [f for f in meta.concrete_fields if not (automatic and f is meta.pk)]
    stamped = [
        f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="insert_objects")
        for field in stamped:
            field.pre_save(obj, add=True)
    rows = [tuple(getattr(obj, f.attname) for f in fields) for obj in objs]
    returning = [meta.pk.attname] if automatic else []
    ids = insert_rows(model, [f.attname for f in fields], rows, returning=returning)
    for n, obj in enumerate(objs):
        if automatic:
            obj.pk = ids[n][0]
        obj._state.adding, obj._state.db = False, connection.alias
