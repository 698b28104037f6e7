"""Benchmark the report pages and calibration on PostgreSQL at N cards with history.

    createdb -h 127.0.0.1 -U postgres turnaround_reports_bench
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/turnaround_reports_bench
    export DJANGO_SETTINGS_MODULE=tests.settings
    .venv/bin/python manage.py migrate --noinput
    .venv/bin/python bench/reports_bench.py --cards 1000000          # generates, then times
    .venv/bin/python bench/reports_bench.py --cards 1000000 --skip-generate

Each page is requested through Django's test client as a manager (full request: filters,
queries, template, charts JSON), once to warm up and then --runs times; prints a Markdown
row per page and period: median/min/max wall time, SQL queries, and the process's peak RSS
growth during the timed runs (flat memory: rows never come into Python), and the machine's
load average before and after (other work on the machine makes the times noisy).

After changing the derived tables, rebuild them on an existing bench database (keeps the
cards, rewrites CardFacts and DailyVolume set-based, about a minute at 1M cards):

    .venv/bin/python bench/generate_reports.py --derived-only
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.generate import reports_data  # noqa: E402

PAGES = [
    "/reports/overview/",
    "/reports/flow/",
    "/reports/misses/",
    "/reports/causes/",
    "/reports/workload/",
    "/reports/automation/",
    "/reports/calibration/?source=observe",
    "/reports/calibration/?source=history&response=2h&resolution=8h",
    "/reports/weekly/",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-generate", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run on PostgreSQL (DATABASE_URL).")
    if not args.skip_generate:
        started = time.perf_counter()
        reports_data.generate(cards=args.cards)
        print(f"generated {args.cards} cards in {time.perf_counter() - started:.0f} s")
    setup_test_environment()
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-manager"))
    today = timezone.localdate()
    periods = {
        "90 days": "",
        "2 years": f"start={today - timedelta(days=730)}&end={today}",
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tasks_task")
        n = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM tasks_taskevent")
        events = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM sla_slatimer")
        timers = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM reports_stageinterval")
        stages = cursor.fetchone()[0]
    print(
        f"\n{n:,} cards, {events:,} events, {timers:,} timers, {stages:,} stage intervals; "
        f"{args.runs} timed runs after one warm-up; load average {_load()}\n"
    )
    print("| Page | Period | Median | Min | Max | Queries | Peak RSS growth |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for page in PAGES:
        for label, query in periods.items():
            if page.startswith("/reports/weekly/") or page.startswith("/reports/workload/"):
                if label != "90 days":
                    continue  # weekly review: one week; workload: current state
                label = "week" if "weekly" in page else "now"
            url = page + ("&" if "?" in page else "?") + query if query else page
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            times = []
            for _ in range(args.runs):
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = client.get(url)
                    times.append(time.perf_counter() - started)
                assert response.status_code == 200
            growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
            print(
                f"| `{page}` | {label} | {statistics.median(times) * 1000:.0f} ms "
                f"| {min(times) * 1000:.0f} ms | {max(times) * 1000:.0f} ms "
                f"| {len(queries)} | {growth / 1024:.1f} MB |"
            )
    print(f"\nload average at the end: {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
