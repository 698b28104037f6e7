"""Benchmark `manage.py import_cards`: rows/s and wall time for a large CSV of past cards.

How to run (PostgreSQL; the database is created and migrated if missing, and the imported
cards are TRUNCATEd first, so its name must contain "bench"):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/turnaround_import_bench \\
        .venv/bin/python bench/import_bench.py --rows 50000

What it does:
  1. sets up an SLA configuration like a real one: an office calendar (Mon–Fri 09:00–17:00
     Europe/Berlin), a default policy with targets for every priority, warning, breach and
     after-breach rules, an observe-mode policy for one request type; 3 request types,
     5 teams, 50 owners;
  2. writes a CSV of N past cards (seeded): created over 18 months in office hours, 90 %
     taken into work, 85 % done, a third with one of 500 clients, priorities mixed; many
     breach, so the replay records warnings, breaches and escalations;
  3. runs the command as a user would (`call_command("import_cards", FILE)`, DEBUG off),
     and times it: the whole command (check, write, report refresh), then the same file
     again (every row unchanged);
  4. prints rows/s, wall time, the CPU time of this process and of its PostgreSQL backend
     (from /proc; it moves far less with the machine's load than wall time), what was
     written and the load average (the machine is shared: compare runs at similar load).

    --rows N         rows in the file (default 50,000)
    --profile FILE   cProfile the first import (top functions by cumulative and own time)
    --keep FILE      keep the generated CSV there
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BERLIN = ZoneInfo("Europe/Berlin")
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/turnaround_import_bench"
PRIORITIES = ["low"] * 2 + ["normal"] * 6 + ["high"] * 2 + ["critical"]
TYPES = ["Support", "Billing", "Sales lead"]


def ensure_database(url: str) -> None:
    """Refuse a name without "bench"; create the database if it does not exist."""
    name = urlparse(url).path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"Refusing: the import benchmark TRUNCATEs cards; {name!r} lacks 'bench'.")
    if url.startswith("sqlite"):  # a dry run of the script: a new file each time
        Path("/" + name).unlink(missing_ok=True)
        return
    import psycopg

    admin = urlparse(url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.update(DEBUG="false", SECRET_KEY="bench", ALLOWED_HOSTS="*")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


def reset_and_configure() -> None:
    """No cards; the SLA configuration and the people the file names."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            return _configure()
        # sla_slaevent and sla_notification have no database foreign key: named, or old
        # events would collide with the restarted timer ids.
        tables = ["tasks_task", "tasks_relatedobject", "sla_slatimer", "sla_slaevent",
                  "sla_notification", "reports_staleday", "reports_dailyvolume"]  # fmt: skip
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    return _configure()


def _configure() -> None:
    from django.contrib.auth.models import User

    from sla.models import (
        BusinessCalendar,
        EscalationRule,
        PolicyMode,
        SlaPolicy,
        SlaTarget,
        WorkingInterval,
    )
    from tasks.models import RelatedObject, RequestType, Team
    from tasks.roles import ensure_role_groups

    calendar, created = BusinessCalendar.objects.get_or_create(
        name="Bench office", defaults={"timezone": "Europe/Berlin"}
    )
    if created:
        for day in range(5):
            WorkingInterval.objects.create(
                calendar=calendar, weekday=day, start=clock_time(9), end=clock_time(17)
            )
    teams = [Team.objects.get_or_create(name=f"Bench team {n}")[0] for n in range(5)]
    types = {
        name: RequestType.objects.get_or_create(name=name, defaults={"default_team": teams[n]})[0]
        for n, name in enumerate(TYPES)
    }
    performers = ensure_role_groups()["performer"]  # owners are people who may work cards
    for n in range(50):
        owner, _ = User.objects.get_or_create(username=f"owner{n:02d}")
        owner.groups.add(performers)
    if SlaPolicy.objects.filter(name="Bench standard").exists():
        return
    SlaPolicy.objects.filter(is_default=True).update(is_default=False)
    standard = SlaPolicy.objects.create(name="Bench standard", calendar=calendar, is_default=True)
    observe = SlaPolicy.objects.create(
        name="Bench leads", calendar=calendar, order=10, request_type=types["Sales lead"],
        mode=PolicyMode.OBSERVE,
    )  # fmt: skip
    hours = timedelta(hours=1)
    targets = {"low": (8, 40), "normal": (2, 16), "high": (1, 8), "critical": (0.5, 4)}
    for policy in (standard, observe):
        for priority, (response, resolution) in targets.items():
            SlaTarget.objects.create(
                policy=policy, priority=priority, response_target=response * hours,
                resolution_target=resolution * hours, warn_pct=75,
            )  # fmt: skip
    EscalationRule.objects.create(policy=standard, trigger="warning", in_app=True)
    EscalationRule.objects.create(policy=standard, trigger="breach", in_app=True, email=True)
    EscalationRule.objects.create(
        policy=standard, trigger="after_breach", minutes_after_breach=240, notify_team_manager=True
    )
    assert RelatedObject.objects.count() == 0


def write_csv(path: Path, rows: int, seed: int = 12) -> None:
    rng = random.Random(seed)
    start = datetime(2025, 1, 6, tzinfo=BERLIN)
    clients = [f"Client {n:03d}" for n in range(500)]
    fmt = "%Y-%m-%d %H:%M"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("title,request_type,priority,created_at,owner,team,client,"
                  "first_response_at,resolved_at\n")  # fmt: skip
        for n in range(rows):
            day = start + timedelta(days=rng.randrange(540))
            while day.weekday() >= 5:
                day += timedelta(days=1)
            created = day.replace(hour=rng.randrange(9, 17), minute=rng.randrange(60))
            owner = f"owner{rng.randrange(50):02d}" if rng.random() < 0.95 else ""
            responded = resolved = ""
            if owner and rng.random() < 0.9:
                first = created + timedelta(minutes=rng.randrange(5, 600))
                responded = f"{first:{fmt}}"
                if rng.random() < 0.95:
                    resolved = f"{first + timedelta(minutes=rng.randrange(10, 4000)):{fmt}}"
            team = f"Bench team {rng.randrange(5)}" if rng.random() < 0.2 else ""
            client = rng.choice(clients) if rng.random() < 0.33 else ""
            out.write(",".join([
                f"Past card {n}: printer {rng.randrange(1000)} jammed", rng.choice(TYPES),
                rng.choice(PRIORITIES), f"{created:{fmt}}", owner, team, client, responded,
                resolved,
            ]) + "\n")  # fmt: skip


def counts() -> str:
    from reports.models import CardFacts, ImportedCard, StageInterval
    from sla.models import Notification, SlaEvent, SlaPause, SlaTimer
    from tasks.models import Task, TaskEvent

    models = (Task, TaskEvent, SlaTimer, SlaEvent, SlaPause, Notification, CardFacts,
              StageInterval, ImportedCard)  # fmt: skip
    return ", ".join(f"{m.objects.count():,} {m._meta.verbose_name_plural}" for m in models)


def backend_cpu() -> float | None:
    """User + system CPU seconds of this connection's PostgreSQL backend (/proc: the server
    runs on this host), or None."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_import(path: Path, profile: str | None = None) -> tuple[float, float, str]:
    """Wall time, CPU time (this process + its PostgreSQL backend) and the summary."""
    from django.core.management import call_command

    out = io.StringIO()
    profiler = cProfile.Profile() if profile else None
    server = backend_cpu()
    began, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    call_command("import_cards", str(path), stdout=out, stderr=sys.stderr)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    after = backend_cpu()
    if server is not None and after is not None:
        print(f"  CPU: Python {cpu:.1f} s + PostgreSQL backend {after - server:.1f} s")
        cpu += after - server
    if profiler and profile:
        profiler.dump_stats(profile)
        for key in ("cumulative", "tottime"):
            pstats.Stats(profile).sort_stats(key).print_stats(25)
    return wall, cpu, out.getvalue().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--profile", help="cProfile the first import into this file")
    parser.add_argument("--keep", help="keep the generated CSV at this path")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    setup_django(url)
    reset_and_configure()
    folder = tempfile.mkdtemp(prefix="import_bench_")
    path = Path(args.keep) if args.keep else Path(folder) / "cards.csv"
    write_csv(path, args.rows)
    print(f"{args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip

    wall, cpu, summary = timed_import(path, args.profile)
    print(f"first import:  {wall:7.1f} s  {args.rows / wall:7,.0f} rows/s  "
          f"(CPU {cpu:.1f} s: {args.rows / cpu:,.0f} rows/CPU-s)   [{summary}]")  # fmt: skip
    print(f"  written: {counts()}")
    again, _, summary = timed_import(path)
    print(f"same file again: {again:5.1f} s  {args.rows / again:7,.0f} rows/s   [{summary}]")
    print(f"| {args.rows:,} rows | {wall:.1f} s | {args.rows / wall:,.0f} rows/s | {cpu:.1f} s | "
          f"{again:.1f} s (all unchanged) | load {os.getloadavg()[0]:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
