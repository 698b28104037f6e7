"""Benchmark data: N open cards with one running resolution timer each, M of them due now.

    DATABASE_URL=postgres://…/turnaround_bench manage.py bench_timers --open 1000000 --due 10000

PostgreSQL only, set-based: each chunk is one `INSERT … SELECT generate_series` that writes
the cards and (through a data-modifying CTE) their timers, so 1M timers take well under a
minute. Due timers have already warned and breach at the next scan (due 1 min to 1 h ago,
spread evenly through the table); the others are due 30 to 60 days from now. The cards
reference one bench request type, team, policy (24/7 calendar, with an at-breach rule
notifying the owner in-app and by email) and 100 owners, created once and reused.

Refuses to run on a database whose name does not contain "bench": `--reset` TRUNCATEs the
cards, timers, events, notifications and the django-q queue.
"""

from __future__ import annotations

import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from sla import engine
from sla.models import BusinessCalendar, EscalationRule, SlaPolicy, SlaTarget, TimerKind
from tasks.models import Priority, RequestType, Status, Team

NAME = "bench"
OWNERS = 100
TARGET = timedelta(hours=8)
WARN_AFTER = timedelta(hours=6)

# Tables emptied by --reset (CASCADE reaches every table that references a card or timer).
RESET_TABLES = [
    "tasks_task",
    "sla_slatimer",
    "sla_slaevent",
    "sla_notification",
    "django_q_ormq",
]

# One chunk: cards i = lo..hi; card i is due iff floor(i*M/N) steps up at i, which picks
# exactly M cards spread evenly over 1..N. The timer's times derive from the card's
# created_at (= the timer's start), so the CTE needs only the card's id and created_at.
CHUNK_SQL = """
WITH cards AS (
    INSERT INTO tasks_task (
        title, description, request_type_id, priority, status, owner_id, team_id,
        next_step, source_url, created_at, updated_at, dispatch_flag, version
    )
    SELECT
        'Bench card ' || i, '', %(request_type)s, %(priority)s, %(status)s,
        (%(owners)s::int[])[1 + i %% %(owner_count)s], %(team)s, '', '',
        CASE WHEN (i * %(due)s) / %(open)s <> ((i - 1) * %(due)s) / %(open)s
            THEN %(now)s - %(target)s - make_interval(secs => 60 + i %% 3540)
            ELSE %(now)s + interval '30 days' - %(target)s
                + make_interval(secs => i %% 2592000)
        END,
        %(now)s, '', 1
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
    RETURNING id, created_at
)
INSERT INTO sla_slatimer (
    task_id, kind, cycle, policy_id, calendar_id, observe, state, target, warn_after,
    consumed, running_since, started_at, warn_at, due_at, warned_at, breached_at,
    stopped_at, next_check_at, escalation_level, updated_at{extra_columns}
)
SELECT
    id, %(kind)s, 1, %(policy)s, %(calendar)s, false, 'running', %(target)s, %(warn_after)s,
    interval '0', created_at, created_at, created_at + %(warn_after)s, created_at + %(target)s,
    CASE WHEN created_at + %(target)s <= %(now)s THEN created_at + %(warn_after)s END,
    NULL, NULL,
    CASE WHEN created_at + %(target)s <= %(now)s
        THEN created_at + %(target)s ELSE created_at + %(warn_after)s END,
    0, %(now)s{extra_values}
FROM cards
"""

# Columns newer than this generator's first version, filled when the table has them. The
# bench calendar is 24/7, so a deadline's business-time position is plain seconds since
# engine.EPOCH.
OPTIONAL_COLUMNS = {
    "target_seconds": "%(target_seconds)s",
    "due_clock": "floor(extract(epoch FROM created_at + %(target)s - %(epoch)s))::bigint",
}


class Command(BaseCommand):
    help = "Generate N open cards with one running timer each, M of them due (PostgreSQL)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--open", type=int, required=True, help="open cards (timers)")
        parser.add_argument("--due", type=int, default=0, help="how many of them are due")
        parser.add_argument("--chunk", type=int, default=100_000, help="rows per INSERT")
        parser.add_argument("--reset", action="store_true", help="TRUNCATE bench tables first")
        parser.add_argument(
            "--slack-webhook",
            default="",
            help="also notify this Slack webhook at breach (the delivery benchmark uses it)",
        )
        parser.add_argument(
            "--defer-indexes",
            action="store_true",
            help="drop the secondary indexes of cards and timers while loading, then rebuild "
            "them (faster for 10M rows)",
        )

    def handle(self, *args, **options) -> None:
        n, m, chunk = options["open"], options["due"], options["chunk"]
        if connection.vendor != "postgresql":
            raise CommandError("bench_timers needs PostgreSQL (set DATABASE_URL).")
        if "bench" not in connection.settings_dict["NAME"]:
            raise CommandError("Refusing: the database name must contain 'bench'.")
        if not 0 <= m <= n or chunk < 1:
            raise CommandError("Need 0 <= --due <= --open and --chunk >= 1.")
        started = time.perf_counter()
        if options["reset"]:
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {', '.join(RESET_TABLES)} RESTART IDENTITY CASCADE")
        refs = self._reference_rows(options["slack_webhook"])
        now = timezone.now()
        params = {
            **refs,
            "priority": Priority.NORMAL.value,
            "status": Status.IN_PROGRESS.value,
            "kind": TimerKind.RESOLUTION.value,
            "open": n,
            "due": m,
            "now": now,
            "target": TARGET,
            "warn_after": WARN_AFTER,
        }
        with connection.cursor() as cursor:
            columns = {
                c.name
                for c in connection.introspection.get_table_description(cursor, "sla_slatimer")
            }
        extra = {name: value for name, value in OPTIONAL_COLUMNS.items() if name in columns}
        chunk_sql = CHUNK_SQL.format(
            extra_columns="".join(f", {name}" for name in extra),
            extra_values="".join(f", {value}" for value in extra.values()),
        )
        params["target_seconds"] = int(TARGET.total_seconds())
        params["epoch"] = getattr(engine, "EPOCH", datetime(2020, 1, 1, tzinfo=UTC))
        dropped = self._drop_indexes() if options["defer_indexes"] else []
        try:
            with connection.cursor() as cursor:
                # Bench data is consistent by construction: skip FK trigger checks when we
                # may (superuser) and don't wait for WAL flushes.
                cursor.execute("SET synchronous_commit = off")
                with suppress(DatabaseError):  # not a superuser: keep the FK checks
                    cursor.execute("SET session_replication_role = replica")
                for lo in range(1, n + 1, chunk):
                    hi = min(lo + chunk - 1, n)
                    cursor.execute(chunk_sql, {**params, "lo": lo, "hi": hi})
                    if options["verbosity"] > 1:
                        self.stdout.write(f"  {hi:,}/{n:,} timers")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET session_replication_role")
                cursor.execute("RESET synchronous_commit")
                for ddl in dropped:
                    cursor.execute(ddl)
        self.stdout.write(
            f"Generated {n:,} open timers ({m:,} due) in {time.perf_counter() - started:.1f} s"
        )

    def _reference_rows(self, slack_webhook: str) -> dict:
        with transaction.atomic():
            calendar, _ = BusinessCalendar.objects.get_or_create(
                name=NAME, defaults={"timezone": "UTC", "always_open": True}
            )
            team, _ = Team.objects.get_or_create(name=NAME)
            request_type, _ = RequestType.objects.get_or_create(
                name=NAME, defaults={"default_team": team}
            )
            policy, _ = SlaPolicy.objects.get_or_create(
                name=NAME,
                defaults={"order": 10_000, "calendar": calendar, "request_type": request_type},
            )
            SlaTarget.objects.get_or_create(
                policy=policy,
                priority=Priority.NORMAL,
                defaults={"resolution_target": TARGET, "warn_pct": 75},
            )
            policy.rules.all().delete()
            EscalationRule.objects.create(
                policy=policy,
                trigger=EscalationRule.Trigger.BREACH,
                timer_kind=TimerKind.RESOLUTION,
                notify_owner=True,
                in_app=True,
                email=True,
                slack=bool(slack_webhook),
                slack_webhook_url=slack_webhook,
            )
            owners = []
            for i in range(OWNERS):
                user, created = User.objects.get_or_create(
                    username=f"bench-owner-{i:03d}",
                    defaults={"email": f"bench-owner-{i:03d}@example.test"},
                )
                if created:
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                owners.append(user.pk)
        return {
            "calendar": calendar.pk,
            "team": team.pk,
            "request_type": request_type.pk,
            "policy": policy.pk,
            "owners": owners,
            "owner_count": len(owners),
        }

    def _drop_indexes(self) -> list[str]:
        """Drop the non-constraint indexes of the two big tables; returns their DDL."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT i.indexname, i.indexdef FROM pg_indexes i
                WHERE i.schemaname = current_schema()
                  AND i.tablename IN ('tasks_task', 'sla_slatimer')
                  AND NOT EXISTS (
                      SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname
                  )
                """
            )
            rows = cursor.fetchall()
            for name, _ in rows:
                cursor.execute(f'DROP INDEX "{name}"')
        return [ddl for _, ddl in rows]
