# ruff: noqa: E501  (SQL text reads better unwrapped)
"""Synthetic history for the report benchmark (bench/reports_bench.py), PostgreSQL:

    DATABASE_URL=postgres://…/turnaround_reports_bench .venv/bin/python \
        bench/generate_reports.py --cards 1000000

Set-based SQL only (generate_series), so a million cards take minutes, not hours. It writes
cards, their typed history (created / in progress / done events), SLA timers (met, missed,
running), pauses with blocking reasons, warning and breach events, and the reports' derived
tables (CardFacts with the clocks' outcomes, StageInterval, DailyVolume) directly, with
business times taken as the synthetic durations (the benchmark measures the report queries,
not `reports.rollup.refresh`). `--derived-only` rebuilds CardFacts and DailyVolume of an
existing bench database.

Stopped timers are history: their deadlines are the synthetic durations laid on wall time
(the reports read their outcome, not their deadline). The timers still running are what
the at-risk queue and the scan read, so their stored fields are what sla.actions would
have written: deadlines, `due_clock` and next check from `sla.engine` on the bench's office
calendar (bench.generate.clocks.running), one timer at a time in Python.

DESTRUCTIVE: truncates cards, timers and report tables. Refuses to run unless the database
name contains "bench".
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import time as clock
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from bench.generate import clocks, require_bench_database
from sla.history import without_history
from sla.models import BusinessCalendar, PolicyMode, SlaPolicy, SlaTarget, WorkingInterval
from tasks.models import BlockingReason, Priority, RelatedObject, RequestType, Team
from tasks.roles import ensure_role_groups

User = get_user_model()
MIN = 60

TARGETS = {  # (response, resolution) in minutes; low has none: those cards have no SLA
    Priority.CRITICAL: (30, 240),
    Priority.HIGH: (60, 480),
    Priority.NORMAL: (120, 960),
}

STEPS = [
    (
        "cards",
        """
        CREATE TEMP TABLE gen ON COMMIT DROP AS
        SELECT g,
               now() - (random() * 730 || ' days')::interval AS created_at,
               (5 + random() * 240)::int AS resp_min,
               (30 + random() * 2400)::int AS res_min,
               random() AS r1, random() AS r2, random() AS r3, random() AS r4
        FROM generate_series(1, %(n)s) g;
        INSERT INTO tasks_task (id, title, description, request_type_id, related_object_id,
            priority, status, blocking_reason_id, owner_id, approver_id, team_id, next_step,
            next_step_due, source_url, created_at, first_response_at, resolved_at, updated_at,
            dispatch_flag, version)
        SELECT g, 'Bench card ' || g, '',
            (%(types)s::bigint[])[1 + g %% cardinality(%(types)s::bigint[])],
            CASE WHEN r4 < 0.7 THEN (%(clients)s::bigint[])[1 + (g * 13) %% cardinality(%(clients)s::bigint[])] END,
            (ARRAY['critical','high','normal','low'])[1 + floor(r2 * 4)::int],
            CASE WHEN r1 < 0.9 AND created_at + ((resp_min + res_min) || ' min')::interval < now()
                 THEN 'done' WHEN r1 < 0.95 THEN 'in_progress' ELSE 'new' END,
            NULL,
            CASE WHEN r1 < 0.95 THEN (%(users)s::bigint[])[1 + (g * 7) %% cardinality(%(users)s::bigint[])] END,
            CASE WHEN r3 < 0.1 THEN (%(users)s::bigint[])[1 + (g * 11) %% cardinality(%(users)s::bigint[])] END,
            (%(teams)s::bigint[])[1 + (g %% cardinality(%(types)s::bigint[])) %% cardinality(%(teams)s::bigint[])],
            CASE WHEN r3 < 0.5 THEN 'Call back' ELSE '' END,
            CASE WHEN r3 < 0.3 THEN created_at + interval '2 days' END,
            '', created_at,
            NULL, NULL, created_at, '', 3
        FROM gen;
        UPDATE tasks_task t SET
            first_response_at = CASE WHEN t.status <> 'new'
                THEN gen.created_at + (gen.resp_min || ' min')::interval END,
            resolved_at = CASE WHEN t.status = 'done'
                THEN gen.created_at + ((gen.resp_min + gen.res_min) || ' min')::interval END,
            updated_at = gen.created_at + ((gen.resp_min + gen.res_min) || ' min')::interval
        FROM gen WHERE gen.g = t.id;
        SELECT setval(pg_get_serial_sequence('tasks_task', 'id'), %(n)s);
        """,
    ),
    (
        "history",
        """
        INSERT INTO tasks_taskevent (task_id, kind, field, old_value, new_value, note, at)
        SELECT id, 'created', '', NULL,
               jsonb_build_object('status', CASE WHEN owner_id IS NULL THEN 'new' ELSE 'assigned' END,
                                  'team', team_id, 'priority', priority),
               '', created_at FROM tasks_task;
        INSERT INTO tasks_taskevent (task_id, kind, field, old_value, new_value, note, at)
        SELECT id, 'status_changed', 'status', '"assigned"', '"in_progress"', '', first_response_at
        FROM tasks_task WHERE first_response_at IS NOT NULL;
        INSERT INTO tasks_taskevent (task_id, kind, field, old_value, new_value, note, at)
        SELECT id, 'status_changed', 'status', '"in_progress"', '"done"', '', resolved_at
        FROM tasks_task WHERE resolved_at IS NOT NULL;
        """,
    ),
    (
        "timers",
        """
        INSERT INTO sla_slatimer (task_id, kind, cycle, policy_id, calendar_id, observe, state,
            target, consumed, started_at, due_at, breached_at, stopped_at, running_since,
            warn_at, warned_at, target_seconds, escalation_level, updated_at, due_clock)
        SELECT t.id, k.kind, 1,
            CASE WHEN t.request_type_id = %(observed_type)s THEN %(observe_policy)s ELSE %(policy)s END,
            %(calendar)s, t.request_type_id = %(observed_type)s,
            CASE WHEN k.spent > k.target THEN 'breached'
                 WHEN k.stop IS NULL THEN 'running' ELSE 'met' END,
            make_interval(mins => k.target), make_interval(mins => least(k.spent, 100000)),
            t.created_at, t.created_at + make_interval(mins => k.target),
            CASE WHEN k.spent > k.target THEN t.created_at + make_interval(mins => k.target) END,
            k.stop, CASE WHEN k.stop IS NULL THEN t.created_at END,
            t.created_at + make_interval(mins => k.target * 3 / 4),
            CASE WHEN k.spent > k.target * 3 / 4 THEN t.created_at + make_interval(mins => k.target * 3 / 4) END,
            k.target * 60, 0,
            -- updated when it last changed: stopped, else breached, else started
            coalesce(k.stop, CASE WHEN k.spent > k.target
                THEN t.created_at + make_interval(mins => k.target) END, t.created_at),
            -- running: set from sla.engine by _running_timers (it runs exactly while it has one)
            CASE WHEN k.stop IS NULL THEN 0 END
        FROM tasks_task t JOIN gen ON gen.g = t.id
        CROSS JOIN LATERAL (VALUES
            ('response', (%(targets)s::jsonb -> t.priority ->> 0)::int, t.first_response_at,
             CASE WHEN t.first_response_at IS NULL
                  THEN extract(epoch FROM now() - t.created_at)::int / 60 ELSE gen.resp_min END),
            ('resolution', (%(targets)s::jsonb -> t.priority ->> 1)::int, t.resolved_at,
             CASE WHEN t.resolved_at IS NULL
                  THEN extract(epoch FROM now() - t.created_at)::int / 60
                  ELSE (gen.resp_min + gen.res_min) / 3 END)
        ) AS k(kind, target, stop, spent)
        WHERE t.priority <> 'low';
        """,
    ),
    (
        "pauses and events",
        """
        INSERT INTO sla_slapause (timer_id, started_at, ended_at, blocking_reason_id, status,
            business_lost)
        SELECT s.id, s.started_at + interval '1 hour', s.started_at + interval '5 hours',
            (%(reasons)s::bigint[])[1 + floor(power(gen.r4, 2) * cardinality(%(reasons)s::bigint[]))::int],
            'waiting', make_interval(mins => 30 + (gen.r3 * 600)::int)
        FROM sla_slatimer s JOIN gen ON gen.g = s.task_id
        WHERE s.kind = 'resolution' AND gen.r3 < 0.25;
        INSERT INTO sla_slaevent (timer_id, key, kind, at, recorded_at, observe)
        SELECT id, 'breach', 'breach', breached_at, breached_at, observe
        FROM sla_slatimer WHERE breached_at IS NOT NULL;
        INSERT INTO sla_slaevent (timer_id, key, kind, at, recorded_at, observe)
        SELECT id, 'warning', 'warning', warned_at, warned_at, observe
        FROM sla_slatimer WHERE warned_at IS NOT NULL AND breached_at IS NULL;
        """,
    ),
    (
        # Each card has at most two stretches, in different statuses, one hand-off at most:
        # the previous_* columns (the card's previous stretch with the same flow key) stay
        # NULL, which is what reports.rollup.previous_starts gives for such cards.
        "stage intervals",
        """
        INSERT INTO reports_stageinterval (task_id, status, team_id, handoff_from_id,
            approver_id, request_type_id, priority, client_id, started_at, ended_at, business)
        SELECT t.id, 'assigned', t.team_id, NULL, NULL, t.request_type_id, t.priority,
            t.related_object_id, t.created_at, t.first_response_at,
            CASE WHEN t.first_response_at IS NOT NULL THEN make_interval(mins => gen.resp_min) END
        FROM tasks_task t JOIN gen ON gen.g = t.id WHERE t.owner_id IS NOT NULL;
        INSERT INTO reports_stageinterval (task_id, status, team_id, handoff_from_id,
            approver_id, request_type_id, priority, client_id, started_at, ended_at, business)
        SELECT t.id, CASE WHEN t.approver_id IS NOT NULL THEN 'on_approval'
                          WHEN gen.r3 < 0.25 THEN 'waiting' ELSE 'in_progress' END,
            t.team_id,
            CASE WHEN gen.r2 < 0.05 THEN (%(teams)s::bigint[])[1 + t.id %% cardinality(%(teams)s::bigint[])] END,
            t.approver_id, t.request_type_id, t.priority, t.related_object_id,
            t.first_response_at, t.resolved_at,
            CASE WHEN t.resolved_at IS NOT NULL THEN make_interval(mins => gen.res_min / 3) END
        FROM tasks_task t JOIN gen ON gen.g = t.id WHERE t.first_response_at IS NOT NULL;
        """,
    ),
]

# CardFacts and DailyVolume from the cards, timers and breach events alone (so they can be
# rebuilt on an existing bench database with --derived-only): business times are the
# synthetic durations (response = first response - created; resolution = a third of
# created → done), clock outcomes are counted from the timers as reports.rollup does.
DERIVED = """
DELETE FROM reports_staleday;
DELETE FROM reports_dailyvolume;
DELETE FROM reports_cardfacts;
INSERT INTO reports_cardfacts (task_id, version, calendar_id, has_sla, request_type_id,
    priority, team_id, client_id, created_at, response_business, resolution_business,
    handoffs, computed_at, owner_id, resolved_at, timers_seen,
    response_clocks, response_met, response_missed, response_running, response_cancelled,
    resolution_clocks, resolution_met, resolution_missed, resolution_running, resolution_cancelled,
    response_consumed)
SELECT t.id, t.version, %(calendar)s, tm.task_id IS NOT NULL, t.request_type_id,
    t.priority, t.team_id, t.related_object_id, t.created_at,
    t.first_response_at - t.created_at,
    CASE WHEN t.resolved_at IS NOT NULL
         THEN make_interval(mins => (extract(epoch FROM t.resolved_at - t.created_at)::int / 60) / 3) END,
    0, now(), t.owner_id, t.resolved_at, tm.seen,
    coalesce(tm.rc, 0), coalesce(tm.rm, 0), coalesce(tm.rx, 0), coalesce(tm.rr, 0), coalesce(tm.rk, 0),
    coalesce(tm.sc, 0), coalesce(tm.sm, 0), coalesce(tm.sx, 0), coalesce(tm.sr, 0), coalesce(tm.sk, 0),
    tm.consumed
FROM tasks_task t LEFT JOIN (
    SELECT task_id, max(updated_at) AS seen,
        count(*) FILTER (WHERE kind = 'response') AS rc,
        count(*) FILTER (WHERE kind = 'response' AND state = 'met') AS rm,
        count(*) FILTER (WHERE kind = 'response' AND state = 'breached') AS rx,
        count(*) FILTER (WHERE kind = 'response' AND state IN ('running', 'paused')) AS rr,
        count(*) FILTER (WHERE kind = 'response' AND state = 'cancelled') AS rk,
        count(*) FILTER (WHERE kind = 'resolution') AS sc,
        count(*) FILTER (WHERE kind = 'resolution' AND state = 'met') AS sm,
        count(*) FILTER (WHERE kind = 'resolution' AND state = 'breached') AS sx,
        count(*) FILTER (WHERE kind = 'resolution' AND state IN ('running', 'paused')) AS sr,
        count(*) FILTER (WHERE kind = 'resolution' AND state = 'cancelled') AS sk,
        max(consumed) FILTER (WHERE kind = 'response' AND state IN ('met', 'breached')) AS consumed
    FROM sla_slatimer GROUP BY task_id
) tm ON tm.task_id = t.id;
INSERT INTO reports_dailyvolume (day, team_id, request_type_id, priority, created, closed,
    breached, response_cards, response_met, response_missed, response_running,
    response_cancelled, resolution_cards, resolution_met, resolution_missed,
    resolution_running, resolution_cancelled)
SELECT day, team_id, request_type_id, priority, sum(c), sum(d), sum(b), sum(rc), sum(rm),
    sum(rx), sum(rr), sum(rk), sum(sc), sum(sm), sum(sx), sum(sr), sum(sk)
FROM (
    SELECT (created_at AT TIME ZONE %(tz)s)::date AS day, team_id, request_type_id, priority,
        1 AS c, 0 AS d, 0 AS b, (response_clocks > 0)::int AS rc, response_met AS rm,
        response_missed AS rx, response_running AS rr, response_cancelled AS rk,
        (resolution_clocks > 0)::int AS sc, resolution_met AS sm, resolution_missed AS sx,
        resolution_running AS sr, resolution_cancelled AS sk
    FROM reports_cardfacts
    UNION ALL
    SELECT (resolved_at AT TIME ZONE %(tz)s)::date, team_id, request_type_id, priority,
        0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM reports_cardfacts WHERE resolved_at IS NOT NULL
    UNION ALL
    SELECT (e.at AT TIME ZONE %(tz)s)::date, t.team_id, t.request_type_id, t.priority,
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    FROM sla_slaevent e JOIN sla_slatimer s ON s.id = e.timer_id
    JOIN tasks_task t ON t.id = s.task_id WHERE e.kind = 'breach'
) x GROUP BY day, team_id, request_type_id, priority;
"""

TRUNCATE = """
TRUNCATE sla_notification, sla_slaevent, sla_slapause, sla_slaretarget, sla_slatimer,
    tasks_taskevent, tasks_comment, tasks_task_performers, tasks_task_observers,
    reports_stageinterval, reports_cardfacts, reports_dailyvolume, reports_staleday, reports_digestsent,
    tasks_task
    RESTART IDENTITY CASCADE
"""


HELP = "Generate N synthetic cards with history for bench/reports_bench.py (PostgreSQL)."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=HELP)
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--seed", type=float, default=0.42)
    parser.add_argument(
        "--derived-only",
        action="store_true",
        help="Keep the cards; rebuild CardFacts and DailyVolume from them.",
    )
    args = parser.parse_args(argv)
    generate(cards=args.cards, seed=args.seed, derived_only=args.derived_only)


def generate(
    *, cards: int, seed: float = 0.42, derived_only: bool = False, out: Callable = print
) -> None:
    require_bench_database("generate_reports")
    with without_history():  # generated settings are nobody's change
        params = _dimensions()
    params["n"] = cards
    params["tz"] = timezone.get_current_timezone_name()
    steps = [("derived facts and daily rollup", DERIVED)]
    if not derived_only:
        steps = [*STEPS, *steps]
        with connection.cursor() as cursor:
            cursor.execute(TRUNCATE)
            cursor.execute("SELECT setseed(%s)", [seed])
    with transaction.atomic():
        for name, sql in steps:
            if name == "pauses and events":
                # Before the events: the running timers' warnings and breaches are stamped
                # from their engine deadlines.
                started = time.perf_counter()
                _running_timers(BusinessCalendar.objects.get(pk=params["calendar"]))
                out(f"due clocks: {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
            out(f"{name}: {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE")
        out(f"vacuum analyze: {time.perf_counter() - started:.1f} s")
    out(f"{cards} cards generated.")


def _running_timers(calendar: BusinessCalendar) -> None:
    """The fields sla.actions keeps for each running timer, from sla.engine: deadlines,
    `due_clock` and next check, the warning and breach the scan would have stamped by now,
    and no time used before `running_since` (= the start; they never paused)."""
    work = calendar.work_calendar()
    targets = {
        (row.policy_id, row.priority): row
        for row in SlaTarget.objects.filter(policy__calendar=calendar)
    }
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, s.policy_id, t.priority, s.kind, s.started_at"
            " FROM sla_slatimer s JOIN tasks_task t ON t.id = s.task_id"
            " WHERE s.stopped_at IS NULL AND s.running_since IS NOT NULL"
        )
        rows = cursor.fetchall()
        columns: dict[str, list] = {
            name: []
            for name in ("id", "due", "warn", "clock", "warned", "breached", "next", "warn_after")
        }
        for pk, policy, priority, kind, started in rows:
            target_row = targets[(policy, priority)]
            target = target_row.get(kind)
            warn_after = target_row.warn_after(target)
            timer = clocks.running(work, target, warn_after, started, now)
            for name, value in (
                ("id", pk),
                ("due", timer.due_at),
                ("warn", timer.warn_at),
                ("clock", timer.due_clock),
                ("warned", timer.warned_at),
                ("breached", timer.breached_at),
                ("next", timer.next_check_at),
                ("warn_after", warn_after),
            ):
                columns[name].append(value)
        cursor.execute(
            """
            UPDATE sla_slatimer s SET consumed = interval '0', warn_after = v.warn_after,
                due_at = v.due, warn_at = v.warn, due_clock = v.clock, warned_at = v.warned,
                breached_at = v.breached, next_check_at = v.next,
                state = CASE WHEN v.breached IS NULL THEN 'running' ELSE 'breached' END,
                updated_at = coalesce(v.breached, s.started_at)
            FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::bigint[],
                        %s::timestamptz[], %s::timestamptz[], %s::timestamptz[],
                        %s::interval[])
                AS v(id, due, warn, clock, warned, breached, next, warn_after)
            WHERE s.id = v.id
            """,
            [columns[name] for name in columns],
        )


def _dimensions() -> dict:
    groups = ensure_role_groups()
    calendar, _ = BusinessCalendar.objects.get_or_create(name="Bench office")
    if not calendar.intervals.exists():
        WorkingInterval.objects.bulk_create(
            WorkingInterval(calendar=calendar, weekday=d, start=clock(9), end=clock(17))
            for d in range(5)
        )
    teams = [Team.objects.get_or_create(name=f"Bench team {i}")[0] for i in range(12)]
    types = [
        RequestType.objects.get_or_create(
            name=f"Bench type {i}", defaults={"default_team": teams[i % len(teams)]}
        )[0]
        for i in range(25)
    ]
    users = []
    for i in range(300):
        user, created = User.objects.get_or_create(username=f"bench{i}")
        if created:
            user.groups.add(groups["performer"])
        users.append(user)
    manager, _ = User.objects.get_or_create(username="bench-manager")
    manager.groups.add(groups["manager"])
    for team in teams:
        team.manager = manager
        team.save(update_fields=["manager"])
    reasons = [
        BlockingReason.objects.get_or_create(name=name)[0]
        for name in ("Customer", "Supplier", "Legal review", "Finance", "IT access", "Other")
    ]
    clients = list(
        RelatedObject.objects.filter(name__startswith="Bench client").values_list("pk", flat=True)
    )
    if not clients:
        RelatedObject.objects.bulk_create(
            RelatedObject(kind=RelatedObject.Kind.CLIENT, name=f"Bench client {i}")
            for i in range(2000)
        )
        RelatedObject.objects.filter(name__startswith="Bench client").update(root_id=F("pk"))
        clients = list(
            RelatedObject.objects.filter(name__startswith="Bench client").values_list(
                "pk", flat=True
            )
        )
    policy = _policy("Bench standard", calendar, is_default=True)
    observe = _policy(
        "Bench observe", calendar, order=10, request_type=types[0], mode=PolicyMode.OBSERVE
    )
    return {
        "types": [t.pk for t in types],
        "teams": [t.pk for t in teams],
        "users": [u.pk for u in users],
        "clients": clients,
        "reasons": [r.pk for r in reasons],
        "calendar": calendar.pk,
        "policy": policy.pk,
        "observe_policy": observe.pk,
        "observed_type": types[0].pk,
        "targets": json.dumps({p.value: list(t) for p, t in TARGETS.items()}),
    }


def _policy(name: str, calendar: BusinessCalendar, **fields) -> SlaPolicy:
    policy, _ = SlaPolicy.objects.get_or_create(
        name=name, defaults={"calendar": calendar, **fields}
    )
    for priority, (response, resolution) in TARGETS.items():
        SlaTarget.objects.update_or_create(
            policy=policy,
            priority=priority,
            defaults={
                "response_target": timedelta(minutes=response),
                "resolution_target": timedelta(minutes=resolution),
            },
        )
    return policy
