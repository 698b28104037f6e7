"""Benchmark sla.jobs.scan_due_timers on PostgreSQL: cost per run against open and due timers.

How to run (a dedicated database; DEBUG off so Django keeps no query log of its own):

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE turnaround_bench'
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/turnaround_bench
    DEBUG=true .venv/bin/python manage.py migrate --noinput
    export DEBUG=false SECRET_KEY=bench ALLOWED_HOSTS='*'
    .venv/bin/python bench/scan_bench.py --open 1000000 --due 10000

Each invocation is one scenario: it runs `bench/generate_timers.py --reset` (N open timers, M of
them due), VACUUM ANALYZEs, then times `scan_due_timers(now=…)` --runs times. A scan that
fired is not repeatable, so between runs the due timers are re-armed (breach cleared,
events/notifications/queue truncated, VACUUM ANALYZE): every run does the same work on the
same rows. After the first run it also shows EXPLAIN (ANALYZE, BUFFERS) of the scan's own
first due-timer statement (its SQL text as captured from that run: the set-based batch, or
the Python path's SELECT), on the re-armed data, rolled back. Prints a
Markdown table row: median/min/max wall time, thresholds fired, SQL queries, SlaEvent and
Notification rows written per run, and per run the time spent waiting on each kind of
statement per connection (the scan's own and its worker threads', sla.scan.SCAN_WORKERS;
logged like CaptureQueriesContext, BEGIN/COMMIT included) and the CPU time of the scan's
PostgreSQL backends (read from /proc: the server must run on this host), which varies far
less with the machine's load than wall time does.

    --batch N        sla.scan.SQL_SCAN_BATCH for this process (default: as shipped)
    --workers N      sla.scan.SCAN_WORKERS for this process (1: one connection, as before)
    --profile FILE   cProfile the last run, top functions by cumulative and own time
    --latency        instead of timing: start a real `manage.py qcluster` with the 1-minute
                     schedule, make timers come due over ~3 minutes and measure how long after
                     its due time each breach was recorded (takes ~5 minutes, mostly idle)
    --skip-generate  reuse the data already in the database, re-armed (same --open/--due)
    --as-is          reuse it as it is: after a run its due timers are breached, so this
                     times the no-op scan on however many open timers are there
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import os
import pstats
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["Q_SYNC"] = "false"  # the scan enqueues delivery; it must not run it inline

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.generate import timers  # noqa: E402
from sla import scan  # noqa: E402
from sla.jobs import scan_due_timers  # noqa: E402
from sla.models import Notification, SlaEvent, SlaTimer  # noqa: E402
from sla.scan import TIMER_FIELDS  # noqa: E402

REARM_SQL = """
UPDATE sla_slatimer
SET breached_at = NULL, state = 'running', escalation_level = 0, next_check_at = due_at
WHERE breached_at IS NOT NULL
"""


# A PROPOSED replacement for `SlaTimer.objects.bulk_update(timers, TIMER_FIELDS)` in
# sla/scan.py: one UPDATE … FROM unnest(arrays), no per-row CASE expressions built in Python.
# Used only with --variant unnest-update, to project what the change would buy; the shipped
# code is what every other run measures.
UNNEST_UPDATE_SQL = """
UPDATE sla_slatimer AS t
SET warned_at = v.warned_at, breached_at = v.breached_at, state = v.state,
    escalation_level = v.escalation_level, next_check_at = v.next_check_at,
    updated_at = v.updated_at
FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::varchar[],
            %s::smallint[], %s::timestamptz[], %s::timestamptz[])
    AS v(id, warned_at, breached_at, state, escalation_level, next_check_at, updated_at)
WHERE t.id = v.id
"""


def unnest_update(timers, fields) -> int:
    assert list(fields) == TIMER_FIELDS
    columns = [[t.pk for t in timers]] + [[getattr(t, f) for t in timers] for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(UNNEST_UPDATE_SQL, columns)
        return cursor.rowcount


def use_variant(name: str) -> None:
    if name == "unnest-update":
        # Instance attribute on the one manager object: shadows bulk_update in this process.
        SlaTimer.objects.bulk_update = unnest_update


def sql(statement: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def vacuum() -> None:
    for table in ("sla_slatimer", "tasks_task", "sla_slaevent", "sla_notification"):
        sql(f"VACUUM ANALYZE {table}")


def rearm() -> None:
    """Put the timers the last scan breached back to 'due', and drop what it wrote."""
    sql("TRUNCATE sla_notification, sla_slaevent, django_q_ormq")
    sql(REARM_SQL)
    vacuum()


def explain(select_sql: str) -> str:
    with transaction.atomic():
        rows = sql(f"EXPLAIN (ANALYZE, BUFFERS) {select_sql}")
        transaction.set_rollback(True)  # EXPLAIN ANALYZE really takes the row locks
    return "\n".join(r[0] for r in rows)


def due_select(queries: list[dict]) -> str:
    """The first batch's statement: the set-based one (PostgreSQL) if the scan ran it, else
    the Python path's due-timer SELECT."""
    texts = [q["sql"] for q in queries]
    return next((t for t in texts if t.lstrip().startswith("WITH claimed")), None) or next(
        t for t in texts if t.startswith("SELECT") and 'FROM "sla_slatimer"' in t
    )


def statement(sql_text: str) -> str:
    """A short label for a captured statement: verb and table."""
    if sql_text.lstrip().startswith("WITH claimed"):
        return "WITH (set-based batch)"
    verb = sql_text.split(None, 1)[0].upper() if sql_text.strip() else "?"
    table = re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"', sql_text)
    return f"{verb} {table.group(1)}" if table else verb


def breakdown(captured: list[dict]) -> dict[tuple[str, str], tuple[int, float]]:
    """Statements grouped by thread, verb and table: (count, seconds waiting on the DB)."""
    out: dict[tuple[str, str], tuple[int, float]] = {}
    for q in captured:
        key = (q["thread"], statement(q["sql"]))
        count, seconds = out.get(key, (0, 0.0))
        out[key] = (count + 1, seconds + q["time"])
    return out


def backend_pid(conn) -> int:
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def backend_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a PostgreSQL backend on this host (/proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Recorder:
    """Logs every statement of the scan (with BEGIN and COMMIT, as CaptureQueriesContext
    does) on its own connection and on those its worker threads open (sla.scan.SCAN_WORKERS),
    with the thread that ran it."""

    def __init__(self) -> None:
        self.connections = [(threading.current_thread().name, connection)]
        self._lock = threading.Lock()
        self._backends: dict[int, tuple[float, float]] = {}  # pid: (CPU at start, latest)
        self._sampling = threading.Event()

    def attach(self, sender, connection, **kwargs) -> None:
        """connection_created: a worker thread's new connection."""
        self._watch(backend_pid(connection))
        connection.force_debug_cursor = True
        with self._lock:
            self.connections.append((threading.current_thread().name, connection))

    def _watch(self, pid: int) -> None:
        cpu = backend_cpu(pid)
        if cpu is not None:
            with self._lock:
                self._backends[pid] = (cpu, cpu)

    def _sample(self) -> None:
        """A worker's backend ends with its connection: read its CPU time every 20 ms."""
        while not self._sampling.wait(0.02):
            with self._lock:
                for pid, (start, latest) in list(self._backends.items()):
                    self._backends[pid] = (start, backend_cpu(pid) or latest)

    @property
    def backend_cpu(self) -> float | None:
        """CPU seconds the scan's PostgreSQL backends used (None: not on this host)."""
        if not self._backends:
            return None
        return sum(latest - start for start, latest in self._backends.values())

    def __enter__(self) -> Recorder:
        connection.queries_log.clear()  # the log keeps 9,000 queries; count from empty
        self._watch(backend_pid(connection))
        connection.force_debug_cursor = True
        connection_created.connect(self.attach)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def __exit__(self, *exc) -> None:
        connection_created.disconnect(self.attach)
        connection.force_debug_cursor = False
        self._sampling.set()
        self._sampler.join()
        pid = backend_pid(connection)
        with self._lock:
            start, latest = self._backends.get(pid, (0.0, 0.0))
            self._backends[pid] = (start, backend_cpu(pid) or latest)

    @property
    def captured(self) -> list[dict]:
        return [
            {**q, "thread": thread, "time": float(q["time"])}
            for thread, conn in self.connections
            for q in conn.queries_log
        ]


def timed_scan(profile_to: str | None = None) -> dict:
    events0, notes0 = SlaEvent.objects.count(), Notification.objects.count()
    now = timezone.now()
    profiler = cProfile.Profile() if profile_to else None
    with Recorder() as recorder:
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        fired = scan_due_timers(now=now)
        wall = time.perf_counter() - started
        if profiler:
            profiler.disable()
    captured = recorder.captured
    cpu = recorder.backend_cpu
    if profiler:
        write_profile(profiler, profile_to)
    return {
        "wall": wall,
        "fired": fired,
        "queries": len(captured),
        "threads": len({q["thread"] for q in captured}),
        "events": SlaEvent.objects.count() - events0,
        "notifications": Notification.objects.count() - notes0,
        "captured": captured,
        "backend_cpu": cpu,
    }


def write_profile(profiler: cProfile.Profile, path: str) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(25)
    Path(path).write_text(out.getvalue())
    print(f"profile written to {path}")


def generate(args) -> None:
    started = time.perf_counter()
    timers.generate(
        open_timers=args.open,
        due=args.due,
        chunk=args.chunk,
        reset=True,
        defer_indexes=args.defer_indexes,
    )
    print(f"generated in {time.perf_counter() - started:.1f} s; VACUUM ANALYZE …")
    started = time.perf_counter()
    vacuum()
    print(f"vacuumed in {time.perf_counter() - started:.1f} s")


def bench(args) -> None:
    if args.as_is:
        vacuum()
    elif args.skip_generate:
        rearm()
    else:
        generate(args)
    open_timers = sql("SELECT count(*) FROM sla_slatimer WHERE stopped_at IS NULL")[0][0]
    due_now = sql(
        "SELECT count(*) FROM sla_slatimer WHERE stopped_at IS NULL AND next_check_at <= now()"
    )[0][0]
    print(f"open timers: {open_timers:,}; due now: {due_now:,}")
    print(f"batch {scan.SQL_SCAN_BATCH:,} timers, up to {scan.SCAN_WORKERS} connection(s)")
    print("load average before the runs: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

    results = []
    plan = ""
    rearmed = False
    for run in range(args.runs):
        # Re-arm only what the previous run fired (a no-op scan is repeatable as it is).
        if run and results[-1]["fired"] and not rearmed:
            rearm()
        last = run == args.runs - 1
        result = timed_scan(args.profile if last else None)
        results.append(result)
        rearmed = False
        if run == 0:
            # The plan of the scan's first SELECT (its real SQL text), on the same data.
            if result["fired"]:
                rearm()
                rearmed = True
            plan = explain(due_select(result["captured"]))
        print(
            f"run {run + 1}: {result['wall'] * 1000:,.1f} ms, fired {result['fired']:,}, "
            f"{result['queries']} queries on {result['threads']} connection(s), "
            f"+{result['events']:,} events, +{result['notifications']:,} notifications"
        )
        if result["backend_cpu"] is not None:
            print(f"    PostgreSQL backends' CPU time: {result['backend_cpu'] * 1000:,.0f} ms")
        main_db = 0.0
        main = threading.current_thread().name
        for (thread, label), (count, seconds) in sorted(breakdown(result["captured"]).items()):
            main_db += seconds if thread == main else 0.0
            print(
                f"    {thread:<12} {count:4d} x {label:<28} {seconds * 1000:9.1f} ms "
                "(DB + round trip)"
            )
        print(
            f"    {main:<12} Python/Django outside the DB: "
            f"{(result['wall'] - main_db) * 1000:,.1f} ms"
        )
    print("\nEXPLAIN (ANALYZE, BUFFERS) of the first batch's due-timer statement:\n")
    print(plan)
    walls = [r["wall"] * 1000 for r in results]
    first = results[0]
    print(
        "\n| Open timers | Due | Runs | Median ms | Min ms | Max ms | Fired | Queries "
        "| SlaEvent rows | Notification rows |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {open_timers:,} | {due_now:,} | {len(walls)} | {statistics.median(walls):,.1f} "
        f"| {min(walls):,.1f} | {max(walls):,.1f} | {first['fired']:,} | {first['queries']} "
        f"| {first['events']:,} | {first['notifications']:,} |"
    )


def latency(args) -> None:
    """Real cluster, real 1-minute schedule: how late is each breach recorded?"""
    if not args.skip_generate:
        generate(args)
    sql("TRUNCATE sla_notification, sla_slaevent, django_q_ormq, django_q_task")
    sql("DELETE FROM django_q_schedule")
    call_command("sync_schedules")
    # Only the scan matters here (no deliveries, no report refreshes competing with it).
    sql("DELETE FROM django_q_schedule WHERE func <> 'sla.jobs.scan_due_timers'")
    start = timezone.now() + timedelta(seconds=20)
    per_step, steps, step = args.latency_timers // 12, 12, timedelta(seconds=15)
    ids = [
        r[0]
        for r in sql(
            "SELECT id FROM sla_slatimer WHERE breached_at IS NULL AND next_check_at > now() "
            "ORDER BY id LIMIT %s",
            [per_step * steps],
        )
    ]
    for j in range(steps):
        due = start + j * step
        chunk = ids[j * per_step : (j + 1) * per_step]
        sql(
            "UPDATE sla_slatimer SET due_at = %s, warn_at = %s, warned_at = %s, "
            "next_check_at = %s WHERE id = ANY(%s)",
            [due, due - timedelta(hours=2), due - timedelta(hours=2), due, chunk],
        )
    last_due = start + (steps - 1) * step
    print(f"{len(ids):,} timers come due between {start:%H:%M:%S} and {last_due:%H:%M:%S}")
    env = {**os.environ, "Q_WORKERS": "1", "EMAIL_URL": "dummymail://", "LOG_LEVEL": "WARNING"}
    cluster = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + args.latency_wait
    try:
        while time.monotonic() < deadline:
            time.sleep(5)
            left = sql(
                "SELECT count(*) FROM sla_slatimer WHERE id = ANY(%s) AND breached_at IS NULL",
                [ids],
            )[0][0]
            if not left and timezone.now() > last_due:
                break
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
    (recorded, noticed, median, missing) = sql(
        "SELECT count(e.id), max(e.recorded_at - e.at), "
        "  percentile_cont(0.5) WITHIN GROUP (ORDER BY e.recorded_at - e.at), "
        "  (SELECT count(*) FROM sla_slatimer WHERE id = ANY(%s) AND breached_at IS NULL) "
        "FROM sla_slaevent e WHERE e.timer_id = ANY(%s) AND e.key = 'breach'",
        [ids, ids],
    )[0]
    for due, late in sql(
        "SELECT e.at, max(e.recorded_at - e.at) FROM sla_slaevent e "
        "WHERE e.timer_id = ANY(%s) AND e.key = 'breach' GROUP BY e.at ORDER BY e.at",
        [ids],
    ):
        print(f"  due {due:%H:%M:%S}: recorded by the scan of {due + late:%H:%M:%S} (+{late})")
    runs = sql(
        "SELECT started, stopped FROM django_q_task WHERE func = 'sla.jobs.scan_due_timers' "
        "ORDER BY started"
    )
    durations = [(b - a).total_seconds() for a, b in runs]
    gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(runs)]
    print(f"breaches recorded: {recorded:,}/{len(ids):,} (never recorded: {missing:,})")
    print(f"scan runs: {len(runs)}; start-to-start gaps (s): {[round(g, 1) for g in gaps]}")
    print(f"scan durations (s): {[round(d, 2) for d in durations]}")
    if noticed is not None:
        worst = noticed.total_seconds() + (max(durations) if durations else 0)
        print(
            f"median (scan's now - due_at): {median.total_seconds():.1f} s; "
            f"max: {noticed.total_seconds():.1f} s; "
            f"+ longest scan = upper bound on commit latency: {worst:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--defer-indexes", action="store_true")
    parser.add_argument("--skip-generate", action="store_true", help="re-arm the data there")
    parser.add_argument(
        "--as-is", action="store_true", help="time the data as it is (after a run: 0 due)"
    )
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument(
        "--variant",
        choices=["shipped", "unnest-update"],
        default="shipped",
        help="unnest-update: projection of the proposed UPDATE … FROM unnest in sla/scan.py",
    )
    parser.add_argument(
        "--batch", type=int, help=f"sla.scan.SQL_SCAN_BATCH (default {scan.SQL_SCAN_BATCH})"
    )
    parser.add_argument(
        "--workers", type=int, help=f"sla.scan.SCAN_WORKERS (default {scan.SCAN_WORKERS})"
    )
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--latency-timers", type=int, default=1200)
    parser.add_argument("--latency-wait", type=int, default=330, help="seconds, at most")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (e.g. …/turnaround_bench).")
    use_variant(args.variant)
    # Set in this process only, like --variant: the figures of another batch size or
    # number of connections than the shipped ones.
    scan.SQL_SCAN_BATCH = args.batch or scan.SQL_SCAN_BATCH
    scan.SCAN_WORKERS = args.workers or scan.SCAN_WORKERS
    print(
        f"database {connection.settings_dict['NAME']}, DEBUG={settings.DEBUG}, "
        f"variant {args.variant}"
    )
    latency(args) if args.latency else bench(args)


if __name__ == "__main__":
    main()
