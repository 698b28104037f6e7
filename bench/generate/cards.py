"""N cards with their SLA timers for the dashboard benchmark (bench/dashboard_bench.py),
written set-based on PostgreSQL:

    DATABASE_URL=postgres://…/turnaround_dash_bench .venv/bin/python bench/generate_cards.py \
        --cards 1000000 --reset

Not demo data: no history events, no comments; only what the dashboards and the search read.
Cards and timers are inserted with `INSERT … SELECT … FROM generate_series` in chunks,
bypassing the action layer on purpose (replaying a million cards through it would take hours),
and the cards' search vectors computed by `tasks.search_vector.VECTOR_SQL`. The timers
are what sla.actions would have written on the bench's 24/7 calendar: their deadlines,
`due_clock` and `target_seconds` come from `sla.engine` through `bench.generate.clocks`
(constants per priority and kind, added to each start in SQL), paused timers have no
deadline, and timers past due are breached.

Refuses a database whose name does not contain "bench" (`--reset` TRUNCATEs the cards).

Spread (seeded, reproducible): 88 % done, 4 % cancelled, 8 % open (15 % of them new, 20 %
assigned, 45 % in progress, 17.5 % waiting with a blocking reason, 2.5 % on approval);
priorities 5/20/60/15 % critical, high, normal, low; 5 teams, 10 request types, 500 clients,
10 performers per team. Closed cards come first in id order, spread over three years; the open
ones follow, young enough that about a fifth of the open timers are breached and a fifth at
risk. A card on approval waits for the decision of its team's approver (`bench-approver-<team>`,
manager role; the team manager is bench-manager) on step 1 of 1 (round 1), asked about
halfway through its life so far, with a running time-to-decision timer (8 h target on the
24/7 calendar, breached when older): the approvals queue's data (`/approvals/`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from bench.generate import GeneratorError, clocks, require_bench_database
from sla.engine import EPOCH
from sla.history import without_history
from sla.models import BusinessCalendar, SlaPolicy, SlaTarget, TimerKind
from tasks.models import BlockingReason, Priority, RelatedObject, RequestType, Task, Team
from tasks.queries import NOT_TAKEN_IN_TIME
from tasks.roles import ensure_role_groups
from tasks.search_vector import VECTOR_SQL

User = get_user_model()

PASSWORD = "bench"
TEAMS = ("Sales", "Customer Success", "Legal", "Field Service", "Finance")
PERFORMERS_PER_TEAM = 10
REQUEST_TYPES = 10
CLIENTS = 500
REASONS = ("Waiting for customer", "Waiting for documents", "Waiting for supplier")
# (priority, response target, resolution target) of the benchmark's 24/7 default policy.
TARGETS = (
    (Priority.CRITICAL, timedelta(minutes=30), timedelta(hours=4)),
    (Priority.HIGH, timedelta(hours=1), timedelta(hours=8)),
    (Priority.NORMAL, timedelta(hours=4), timedelta(hours=24)),
    (Priority.LOW, timedelta(hours=8), timedelta(hours=72)),
)
WARN_PCT = 75
APPROVAL_TARGET = timedelta(hours=8)  # time to decision, every priority
CHUNK = 100_000
OPEN_SHARE = 0.08


HELP = (
    "Generate N benchmark cards with open and stopped SLA timers (PostgreSQL only). "
    "Logins: bench-manager / bench-dispatcher / bench-performer-<team>-<n>, password "
    f"'{PASSWORD}'."
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=HELP)
    parser.add_argument("--cards", type=int, required=True, help="How many cards.")
    parser.add_argument(
        "--reset", action="store_true", help="Delete every card (and its timers) first."
    )
    parser.add_argument("--seed", type=float, default=0.42, help="setseed() value.")
    args = parser.parse_args(argv)
    generate(cards=args.cards, reset=args.reset, seed=args.seed)


def generate(*, cards: int, reset: bool = False, seed: float = 0.42, out: Callable = print) -> None:
    count = cards
    require_bench_database("generate_cards")
    if count < 1:
        raise GeneratorError("--cards must be 1 or more.")
    if Task.objects.exists():
        if not reset:
            raise GeneratorError("Cards exist already: use --reset to replace them.")
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE tasks_task RESTART IDENTITY CASCADE")
    started = time.monotonic()
    with without_history():  # generated settings are nobody's change
        refs = _reference_rows()
    now = timezone.now().replace(microsecond=0)
    # Closed cards first, oldest first, then the open ones: ids grow with time and the
    # open cards sit together at the end of the tables, as in a real installation (a
    # uniform scatter would make every open-card scan touch every page).
    closed = count - round(count * OPEN_SHARE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed])
        for lo in range(1, count + 1, CHUNK):
            hi = min(lo + CHUNK - 1, count)
            with transaction.atomic():
                first_id, last_id = _insert_cards(cursor, lo, hi, closed, now, refs)
                _insert_timers(cursor, first_id, last_id, now, refs)
                # What tasks.actions would have written: the cards' search vectors
                # (bench/search_bench.py searches them).
                cursor.execute(
                    f"UPDATE tasks_task AS t SET search_vector = {VECTOR_SQL} "
                    "WHERE t.id BETWEEN %s AND %s",
                    [first_id, last_id],
                )
            out(f"  cards: {hi}/{count} ({time.monotonic() - started:.0f} s)")
        # As autovacuum would have by the time anyone looks: hint bits, visibility map.
        cursor.execute("VACUUM ANALYZE tasks_task")
        cursor.execute("VACUUM ANALYZE sla_slatimer")
    out(
        f"Generated {count} cards and {2 * count} timers in {time.monotonic() - started:.1f} "
        f"s. Log in as bench-manager / {PASSWORD}."
    )


def _reference_rows() -> dict:
    """Users, teams, request types, clients, reasons and a 24/7 default policy; found by
    name, so the command can run again."""
    roles = ensure_role_groups()
    password = make_password(PASSWORD)

    def person(username: str, role: str, first: str, last: str):
        user, _ = User.objects.get_or_create(
            username=username,
            defaults={"password": password, "first_name": first, "last_name": last},
        )
        user.groups.add(roles[role])
        return user

    manager = person("bench-manager", "manager", "Mia", "Bench")
    dispatcher = person("bench-dispatcher", "dispatcher", "Dario", "Bench")
    teams, performers, approvers = [], [], []
    for t, name in enumerate(TEAMS):
        team, _ = Team.objects.get_or_create(name=name, defaults={"manager": manager})
        teams.append(team)
        team.members.add(dispatcher)
        approvers.append(person(f"bench-approver-{t}", "manager", f"Appr {t}", "Bench").pk)
        for n in range(PERFORMERS_PER_TEAM):
            user = person(f"bench-performer-{t}-{n}", "performer", f"Perf {t}-{n}", "Bench")
            team.members.add(user)
            performers.append(user.pk)
    request_types = [
        RequestType.objects.get_or_create(
            name=f"Bench request {i}", defaults={"default_team": teams[i % len(teams)]}
        )[0].pk
        for i in range(REQUEST_TYPES)
    ]
    existing = RelatedObject.objects.filter(name__startswith="Bench client ").count()
    RelatedObject.objects.bulk_create(
        RelatedObject(kind=RelatedObject.Kind.CLIENT, name=f"Bench client {i}")
        for i in range(existing, CLIENTS)
    )
    clients = list(
        RelatedObject.objects.filter(name__startswith="Bench client ")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # RelatedObject.save() sets root; bulk_create does not: a client is its own root.
    RelatedObject.objects.filter(pk__in=clients, root__isnull=True).update(root_id=F("pk"))
    reasons = [
        BlockingReason.objects.update_or_create(name=name, defaults={"pauses_sla": True})[0].pk
        for name in REASONS
    ]
    calendar, _ = BusinessCalendar.objects.get_or_create(
        name="Bench 24/7", defaults={"always_open": True}
    )
    SlaPolicy.objects.filter(is_default=True).exclude(name="Bench default").update(is_default=False)
    policy, _ = SlaPolicy.objects.update_or_create(
        name="Bench default", defaults={"is_default": True, "calendar": calendar}
    )
    work = calendar.work_calendar()
    offsets = []
    for priority, response, resolution in TARGETS:
        target_row, _ = SlaTarget.objects.update_or_create(
            policy=policy,
            priority=priority,
            defaults={
                "response_target": response,
                "resolution_target": resolution,
                "approval_target": APPROVAL_TARGET,
                "warn_pct": WARN_PCT,
            },
        )
        kinds = (
            (TimerKind.RESPONSE, response),
            (TimerKind.RESOLUTION, resolution),
            (TimerKind.APPROVAL, APPROVAL_TARGET),
        )
        for kind, target in kinds:
            offsets.append(
                (priority, kind, clocks.linear(work, target, target_row.warn_after(target)))
            )
    return {
        "teams": [t.pk for t in teams],
        "performers": performers,
        "approvers": approvers,
        "request_types": request_types,
        "clients": clients,
        "reasons": reasons,
        "calendar": calendar.pk,
        "policy": policy.pk,
        "offsets": offsets,
    }


def _insert_cards(cursor, lo: int, hi: int, closed: int, now, refs) -> tuple[int, int]:
    targets = ", ".join(
        f"('{p.value}', {int(r.total_seconds())}, {int(s.total_seconds())})" for p, r, s in TARGETS
    )
    cursor.execute(
        f"""
        WITH raw AS (
          SELECT g, random() AS r_status, random() AS r_pri, random() AS r_age,
                 random() AS r_resp, random() AS r_res, random() AS r_owner,
                 random() AS r_next
          FROM generate_series(%(lo)s, %(hi)s) AS g
        ), shaped AS (
          SELECT g, r_resp, r_res, r_owner, r_next, r_age,
            CASE WHEN g <= %(closed)s THEN
                   CASE WHEN r_status < 0.88 / 0.92 THEN 'done' ELSE 'cancelled' END
                 WHEN r_status < 0.15 THEN 'new' WHEN r_status < 0.35 THEN 'assigned'
                 WHEN r_status < 0.8 THEN 'in_progress'
                 WHEN r_status < 0.975 THEN 'waiting' ELSE 'on_approval' END AS status,
            CASE WHEN r_pri < 0.05 THEN 'critical' WHEN r_pri < 0.25 THEN 'high'
                 WHEN r_pri < 0.85 THEN 'normal' ELSE 'low' END AS priority
          FROM raw
        ), timed AS (
          SELECT s.*, t.response_s, t.resolution_s,
            %(now)s::timestamptz - make_interval(secs => CASE
              WHEN s.status IN ('done', 'cancelled')
                THEN 3 * 86400 + (1 - g::float / %(closed)s) * 3 * 365 * 86400 + r_age * 3600
              WHEN s.status IN ('new', 'assigned') THEN r_age * 1.5 * t.response_s
              ELSE r_age * 1.25 * t.resolution_s END) AS created
          FROM shaped s JOIN (VALUES {targets}) AS t(priority, response_s, resolution_s)
            ON t.priority = s.priority
        )
        INSERT INTO tasks_task (
          title, description, priority, status, next_step, next_step_due, source_url,
          created_at, first_response_at, resolved_at, updated_at, dispatch_flag, version,
          approver_id, blocking_reason_id, owner_id, related_object_id, request_type_id,
          team_id, approval_step, approval_round, source, external_ref)
        SELECT
          'Bench card ' || g || ' for client ' || (g %% {len(refs["clients"])}), '',
          priority, status,
          CASE WHEN status NOT IN ('done', 'cancelled', 'new') AND r_next < 0.75
               THEN 'Call the customer back' ELSE '' END,
          NULL, '', created,
          CASE WHEN status IN ('in_progress', 'waiting', 'on_approval', 'done')
               THEN created + make_interval(secs => r_resp * 1.3 * response_s) END,
          CASE WHEN status = 'done'
               THEN created + make_interval(secs => r_res * 1.3 * resolution_s) END,
          CASE WHEN status = 'done'
               THEN created + make_interval(secs => r_res * 1.3 * resolution_s)
               WHEN status = 'cancelled' THEN created + make_interval(secs => response_s)
               ELSE created END,
          CASE WHEN status IN ('new', 'assigned')
                    AND created + make_interval(secs => response_s) < %(now)s
                    AND r_next < 0.5
               THEN %(not_taken)s ELSE '' END,
          1,
          CASE WHEN status = 'on_approval'
               THEN (%(approvers)s::int[])[1 + g %% {len(refs["teams"])}] END,
          CASE WHEN status = 'waiting'
               THEN (%(reasons)s::bigint[])[1 + g %% {len(refs["reasons"])}] END,
          CASE WHEN status = 'new' AND r_owner < 0.7 THEN NULL
               ELSE (%(performers)s::int[])[1 + (g %% {len(refs["teams"])})
                    * {PERFORMERS_PER_TEAM} + (g / 7) %% {PERFORMERS_PER_TEAM}] END,
          (%(clients)s::bigint[])[1 + g %% {len(refs["clients"])}],
          (%(types)s::bigint[])[1 + g %% {len(refs["request_types"])}],
          (%(teams)s::bigint[])[1 + g %% {len(refs["teams"])}],
          CASE WHEN status = 'on_approval' THEN 1 ELSE 0 END,
          CASE WHEN status = 'on_approval' THEN 1 ELSE 0 END,
          '', ''
        FROM timed ORDER BY g
        RETURNING id
        """,
        {
            "lo": lo,
            "hi": hi,
            "closed": closed,
            "now": now,
            "reasons": refs["reasons"],
            "performers": refs["performers"],
            "approvers": refs["approvers"],
            "clients": refs["clients"],
            "types": refs["request_types"],
            "teams": refs["teams"],
            "not_taken": NOT_TAKEN_IN_TIME,
        },
    )
    ids = [row[0] for row in cursor.fetchall()]
    return min(ids), max(ids)


def _seconds(value: timedelta | None) -> str:
    return "NULL" if value is None else f"{value.total_seconds():.6f}"


def _insert_timers(cursor, first_id: int, last_id: int, now, refs) -> None:
    # The deadlines of each (priority, kind) as offsets from the start, from sla.engine (see
    # bench.generate.clocks): SQL adds them to a million starts, the engine could not.
    offsets = ", ".join(
        f"('{priority.value}', '{kind.value}', {o.target_seconds}, "
        f"{_seconds(o.warn_after)}::float, {_seconds(o.due)}::float, {_seconds(o.warn)}::float, "
        f"{o.axis_shift})"
        for priority, kind, o in refs["offsets"]
    )
    # One row per card and kind: when it stops (NULL: open), whether it is paused.
    cursor.execute(
        f"""
        WITH base AS (
          SELECT c.id AS task_id, c.status, k.kind,
            -- a decision is asked halfway through the card's life so far
            CASE WHEN k.kind = 'approval'
                 THEN c.created_at + (%(now)s::timestamptz - c.created_at) / 2
                 ELSE c.created_at END AS started,
            o.target_s, o.warn_after_s, o.due_s, o.warn_s, o.axis_shift,
            CASE
              WHEN k.kind = 'response' AND c.status = 'cancelled'
                THEN coalesce(c.first_response_at, c.updated_at)
              WHEN k.kind = 'response' THEN c.first_response_at
              WHEN c.status IN ('done', 'cancelled') THEN c.updated_at
            END AS stopped,
            (k.kind = 'resolution' AND c.status = 'waiting') AS paused
          FROM tasks_task c
          CROSS JOIN (VALUES ('response'), ('resolution'), ('approval')) AS k(kind)
          JOIN (VALUES {offsets})
            AS o(priority, kind, target_s, warn_after_s, due_s, warn_s, axis_shift)
            ON o.priority = c.priority AND o.kind = k.kind
          WHERE c.id BETWEEN %(first)s AND %(last)s
            AND (k.kind <> 'approval' OR c.status = 'on_approval')
        ), deadlines AS (
          SELECT b.*,
            b.started + make_interval(secs => b.due_s) AS due,
            b.started + make_interval(secs => b.warn_s) AS warn,
            coalesce(b.stopped, %(now)s::timestamptz) AS until
          FROM base b
        )
        INSERT INTO sla_slatimer (
          task_id, kind, cycle, policy_id, calendar_id, observe, state, target, warn_after,
          consumed, running_since, started_at, warn_at, due_at, warned_at, breached_at,
          stopped_at, next_check_at, due_clock, target_seconds, escalation_level, updated_at)
        SELECT
          task_id, kind, 1, {refs["policy"]}, {refs["calendar"]}, false,
          CASE
            WHEN stopped IS NOT NULL AND status = 'cancelled' THEN 'cancelled'
            WHEN stopped IS NOT NULL AND stopped <= due THEN 'met'
            WHEN stopped IS NOT NULL THEN 'breached'
            WHEN paused THEN 'paused'
            WHEN due <= %(now)s THEN 'breached'
            ELSE 'running' END,
          make_interval(secs => target_s),
          make_interval(secs => warn_after_s),
          CASE WHEN stopped IS NOT NULL THEN stopped - started
               WHEN paused THEN (%(now)s - started) / 2
               ELSE interval '0' END,
          CASE WHEN stopped IS NULL AND NOT paused THEN started END,
          started,
          CASE WHEN NOT paused OR stopped IS NOT NULL THEN warn END,
          CASE WHEN NOT paused OR stopped IS NOT NULL THEN due END,
          CASE WHEN warn <= until AND NOT (paused AND stopped IS NULL) THEN warn END,
          CASE WHEN due <= until AND NOT (paused AND stopped IS NULL)
                    AND status <> 'cancelled' THEN due END,
          stopped,
          -- sla.escalation.next_check: the pending warning, else the pending deadline (the
          -- bench policy has no escalation rules after a breach)
          CASE WHEN stopped IS NOT NULL OR paused THEN NULL
               WHEN warn > %(now)s THEN warn
               WHEN due > %(now)s THEN due END,
          -- engine.position of the deadline, set while the timer runs (sla.actions._store)
          -- and kept when it stops
          CASE WHEN NOT paused OR stopped IS NOT NULL
               THEN floor(extract(epoch FROM due - %(epoch)s::timestamptz))::bigint + axis_shift
          END,
          target_s, 0, until
        FROM deadlines
        ORDER BY task_id, kind
        """,
        {"first": first_id, "last": last_id, "now": now, "epoch": EPOCH},
    )
