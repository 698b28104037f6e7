"""Benchmark data: N open cards with one running resolution timer each, M of them due now.

    DATABASE_URL=postgres://…/turnaround_bench .venv/bin/python bench/generate_timers.py \
        --open 1000000 --due 10000

PostgreSQL only, set-based: each chunk is one `INSERT … SELECT generate_series` that writes
the cards and (through a data-modifying CTE) their timers, so 1M timers take well under a
minute. Due timers have already warned and breach at the next scan (due 1 min to 1 h ago,
spread evenly through the table); the others are due 30 to 60 days from now. The cards
reference one bench request type, team, policy (24/7 calendar, with an at-breach rule
notifying the owner in-app and by email) and 100 owners, created once and reused. The
timers' deadlines, `due_clock` and `target_seconds` are offsets from their start that
`sla.engine` computes for the bench target on that calendar (bench.generate.clocks).

Refuses to run on a database whose name does not contain "bench": `--reset` TRUNCATEs the
cards, timers, events, notifications and the django-q queue.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from bench.generate import GeneratorError, clocks, require_bench_database
from sla import engine
from sla.history import without_history
from sla.models import BusinessCalendar, EscalationRule, SlaPolicy, SlaTarget, TimerKind
from tasks.models import Priority, RequestType, Status, Team

NAME = "bench"
OWNERS = 100
TARGET = timedelta(hours=8)
WARN_PCT = 75

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
# created_at (= the timer's start), so the CTE needs only the card's id and created_at; the
# offsets (`due`, `warn`, `axis_shift`) come from sla.engine (bench.generate.clocks), added
# in SQL because the engine cannot be called per row of a million-row INSERT.
CHUNK_SQL = """
WITH cards AS (
    INSERT INTO tasks_task (
        title, description, request_type_id, priority, status, owner_id, team_id,
        next_step, source_url, created_at, updated_at, dispatch_flag, version,
        approval_step, approval_round, source, external_ref
    )
    SELECT
        'Bench card ' || i, '', %(request_type)s, %(priority)s, %(status)s,
        (%(owners)s::int[])[1 + i %% %(owner_count)s], %(team)s, '', '',
        CASE WHEN (i * %(due)s) / %(open)s <> ((i - 1) * %(due)s) / %(open)s
            THEN %(now)s - %(due_offset)s - make_interval(secs => 60 + i %% 3540)
            ELSE %(now)s + interval '30 days' - %(due_offset)s
                + make_interval(secs => i %% 2592000)
        END,
        %(now)s, '', 1, 0, 0, '', ''
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
    RETURNING id, created_at
), timed AS (
    SELECT id, created_at, created_at + %(due_offset)s AS due,
        created_at + %(warn_offset)s AS warn
    FROM cards
)
INSERT INTO sla_slatimer (
    task_id, kind, cycle, policy_id, calendar_id, observe, state, target, warn_after,
    consumed, running_since, started_at, warn_at, due_at, warned_at, breached_at,
    stopped_at, next_check_at, escalation_level, updated_at, target_seconds, due_clock
)
SELECT
    id, %(kind)s, 1, %(policy)s, %(calendar)s, false, 'running', %(target)s, %(warn_after)s,
    interval '0', created_at, created_at, warn, due,
    CASE WHEN due <= %(now)s THEN warn END,
    NULL, NULL,
    -- sla.escalation.next_check: the deadline once warned, else the warning
    CASE WHEN due <= %(now)s THEN due ELSE warn END,
    0, %(now)s, %(target_seconds)s,
    floor(extract(epoch FROM due - %(epoch)s))::bigint + %(axis_shift)s
FROM timed
"""


HELP = "Generate N open cards with one running timer each, M of them due (PostgreSQL)."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=HELP)
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
    parser.add_argument("-v", "--verbosity", type=int, default=1, help="2: progress per chunk")
    args = parser.parse_args(argv)
    generate(
        open_timers=args.open,
        due=args.due,
        chunk=args.chunk,
        reset=args.reset,
        slack_webhook=args.slack_webhook,
        defer_indexes=args.defer_indexes,
        verbosity=args.verbosity,
    )


def generate(
    *,
    open_timers: int,
    due: int = 0,
    chunk: int = 100_000,
    reset: bool = False,
    slack_webhook: str = "",
    defer_indexes: bool = False,
    verbosity: int = 1,
    out: Callable = print,
) -> None:
    n, m = open_timers, due
    require_bench_database("generate_timers")
    if not 0 <= m <= n or chunk < 1:
        raise GeneratorError("Need 0 <= --due <= --open and --chunk >= 1.")
    started = time.perf_counter()
    if reset:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(RESET_TABLES)} RESTART IDENTITY CASCADE")
    with without_history():  # generated settings are nobody's change
        refs = _reference_rows(slack_webhook)
    offsets = refs.pop("offsets")
    now = timezone.now()
    params = {
        **refs,
        "priority": Priority.NORMAL.value,
        "status": Status.IN_PROGRESS.value,
        "kind": TimerKind.RESOLUTION.value,
        "open": n,
        "due": m,
        "now": now,
        "target": offsets.target,
        "warn_after": offsets.warn_after,
        "target_seconds": offsets.target_seconds,
        "due_offset": offsets.due,
        "warn_offset": offsets.warn,
        "axis_shift": offsets.axis_shift,
        "epoch": engine.EPOCH,
    }
    dropped = _drop_indexes() if defer_indexes else []
    try:
        with connection.cursor() as cursor:
            # Bench data is consistent by construction: skip FK trigger checks when we
            # may (superuser) and don't wait for WAL flushes.
            cursor.execute("SET synchronous_commit = off")
            with suppress(DatabaseError):  # not a superuser: keep the FK checks
                cursor.execute("SET session_replication_role = replica")
            for lo in range(1, n + 1, chunk):
                hi = min(lo + chunk - 1, n)
                cursor.execute(CHUNK_SQL, {**params, "lo": lo, "hi": hi})
                if verbosity > 1:
                    out(f"  {hi:,}/{n:,} timers")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET session_replication_role")
            cursor.execute("RESET synchronous_commit")
            for ddl in dropped:
                cursor.execute(ddl)
    out(f"Generated {n:,} open timers ({m:,} due) in {time.perf_counter() - started:.1f} s")


def _reference_rows(slack_webhook: str) -> dict:
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
        target_row, _ = SlaTarget.objects.get_or_create(
            policy=policy,
            priority=Priority.NORMAL,
            defaults={"resolution_target": TARGET, "warn_pct": WARN_PCT},
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
        "offsets": clocks.linear(
            calendar.work_calendar(),
            target_row.resolution_target,
            target_row.warn_after(target_row.resolution_target),
        ),
    }


def _drop_indexes() -> list[str]:
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
