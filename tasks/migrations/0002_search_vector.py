"""The cards' search vector (tasks.search_vector): a column, filled for existing cards, and
its GIN index `task_search` (PostgreSQL only; elsewhere the column stays empty and the
search falls back to icontains).

Not atomic: existing cards are filled in batches of BATCH ids, each its own transaction, so
a large table is not locked whole (about 2 min per million cards on the benchmark machine);
the index is built after the fill. Running it again finishes what a stopped run left.
"""

import django.contrib.postgres.search
from django.db import migrations

BATCH = 50_000


def fill_and_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from tasks.search_vector import VECTOR_SQL

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM tasks_task")
        low, high = cursor.fetchone()
        for start in range(low, high + 1, BATCH):
            cursor.execute(
                f"UPDATE tasks_task AS t SET search_vector = {VECTOR_SQL} "
                "WHERE t.id BETWEEN %s AND %s AND t.search_vector IS NULL",
                [start, start + BATCH - 1],
            )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS task_search ON tasks_task USING gin (search_vector)"
        )
        cursor.execute("ANALYZE tasks_task")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS task_search")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("tasks", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(fill_and_index, drop_index, elidable=False),
    ]
