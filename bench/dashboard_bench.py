"""Benchmark the dashboards (tasks/boards/) on PostgreSQL at 100,000 and 1,000,000 cards: the
at-risk queue, the dispatch board, My work and the approvals queue.

    .venv/bin/python bench/dashboard_bench.py                    # both sizes, ~15 min
    .venv/bin/python bench/dashboard_bench.py --sizes 100000     # one size
    .venv/bin/python bench/dashboard_bench.py --skip-generate    # reuse generated data
    .venv/bin/python bench/dashboard_bench.py --skip-generate --pages Approvals  # some pages

For each size it uses its own database (`<--db>_100k`, `<--db>_1m`; created if missing,
migrated with `DEBUG=true manage.py migrate`), fills it with `bench/generate_cards.py --cards N
--reset` unless it already holds exactly N cards, then:

1. in a child process with production settings (DEBUG=false, SECURE_SSL_REDIRECT=false),
   loaded through the WSGI entry point (config/wsgi.py) as gunicorn loads it, logs in with
   the Django test Client and times each page --runs times after warm-up:
   median and p95 server time, and the SQL query count and SQL time
   (CaptureQueriesContext, separate runs so the capture costs nothing in the timings);
   The at-risk pages are timed twice: "uncached" (the queue's 10-s cache cleared before
   each request) and "cached" (repeated requests of one URL, as polls mostly are);
2. starts `gunicorn config.wsgi -w 2` on 127.0.0.1:--port with the same settings and runs
   `wrk` (Debian package `wrk`) against the at-risk HTMX partial for --wrk-seconds with a
   logged-in manager's session cookie and `HX-Request: true`, then stops gunicorn; then
   again with a new ignored query parameter per request (every request misses the cache).

Prints a Markdown table per size (paste into docs/performance.md). Loopback only; every
request loop is bounded (--runs, --wrk-seconds).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
PROD_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "dashboard-bench",
    "ALLOWED_HOSTS": "*",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "LOG_LEVEL": "WARNING",
    "Q_SYNC": "false",
}


def label(size: int) -> str:
    return f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k"


# --- parent: databases, data, gunicorn and wrk -------------------------------------------


def ensure_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def card_count(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM tasks_task").fetchone()[0]


def manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not listen on 127.0.0.1:{port} within {timeout} s")


# Every request a new, ignored query parameter: a new cache key, so nothing is served from
# the queue's cache (the throughput of uncached requests).
BUST_LUA = """
request = function()
  return wrk.format(nil, wrk.path .. "?bust=" .. math.random(1, 1000000000))
end
"""


def run_wrk(
    env: dict, *, port: int, session: str, path: str, seconds: int, bust: bool = False
) -> dict:
    server = subprocess.Popen(
        [GUNICORN, "config.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_port(port)
        command = [
            "wrk", "-t", "1", "-c", "4", "-d", f"{seconds}s", "--timeout", "10s", "--latency",
            "-H", f"Cookie: sessionid={session}", "-H", "HX-Request: true",
            f"http://127.0.0.1:{port}{path}",
        ]  # fmt: skip
        if bust:
            script = Path(tempfile.mkdtemp()) / "bust.lua"
            script.write_text(BUST_LUA)
            command[1:1] = ["-s", str(script)]
        shown = " ".join(c if "sessionid" not in c else "'Cookie: sessionid=…'" for c in command)
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    return {
        "rps": rps,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "p50": latency.get("50"),
        "p99": latency.get("99"),
        "command": shown,
        "raw": out,
    }


def bench_size(size: int, args) -> dict:
    url = f"{args.db}_{label(size)}"
    env = {**os.environ, "DATABASE_URL": url}
    ensure_database(url)
    manage({**env, "DEBUG": "true"}, "migrate", "--noinput", "-v", "0")
    generated = None
    if not args.skip_generate and card_count(url) != size:
        started = time.monotonic()
        subprocess.run(
            [PYTHON, str(ROOT / "bench" / "generate_cards.py"), "--cards", str(size), "--reset"],
            cwd=ROOT,
            env={**env, "DEBUG": "true"},
            check=True,
        )
        generated = time.monotonic() - started
    prod = {**env, **PROD_ENV}
    manage(prod, "collectstatic", "--noinput", "-v", "0")  # as a deployment does
    load_before = os.getloadavg()[0]
    child = subprocess.run(
        [PYTHON, __file__, "--measure", "--runs", str(args.runs), "--pages", args.pages],
        cwd=ROOT,
        env=prod,
        capture_output=True,
        text=True,
    )
    if child.returncode:
        sys.stderr.write(child.stderr)
        raise SystemExit(f"measuring {url} failed")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    result.update(size=size, database=url, generated_s=generated, load=[load_before])
    if shutil.which("wrk") and not args.pages:  # wrk times the at-risk partial
        session = result.pop("session")
        result["wrk"] = run_wrk(
            prod,
            port=args.port,
            session=session,
            path="/at-risk/",
            seconds=args.wrk_seconds,
        )
        result["load"].append(os.getloadavg()[0])
        result["wrk_uncached"] = run_wrk(
            prod,
            port=args.port,
            session=session,
            path="/at-risk/",
            seconds=args.wrk_seconds,
            bust=True,
        )
        result["load"].append(os.getloadavg()[0])
    else:
        result["wrk"] = None
        print("wrk not found (apt-get install wrk): requests/s not measured", file=sys.stderr)
    return result


def report(result: dict) -> str:
    lines = [
        f"### {result['size']:,} cards ({result['open_timers']:,} open timers of "
        f"{result['timers']:,}; database `{result['database'].rpartition('/')[2]}`)",
        "",
        "| Page | Rows | Median | p95 | Queries | SQL time (median) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for page in result["pages"]:
        lines.append(
            f"| {page['name']} | {page['rows']} | {page['median_ms']:.1f} ms | "
            f"{page['p95_ms']:.1f} ms | {page['queries']} | {page['sql_ms']:.1f} ms |"
        )
    wrk = result.get("wrk")
    if wrk:
        lines += [
            "",
            f"wrk, at-risk partial through gunicorn (2 workers): **{wrk['rps']:.1f} requests/s**, "
            f"latency p50 {wrk['p50']}, p99 {wrk['p99']}, non-2xx responses: {wrk['non_2xx']}.",
        ]
    bust = result.get("wrk_uncached")
    if bust:
        lines.append(
            f"Uncached (a new query string per request): **{bust['rps']:.1f} requests/s**, "
            f"latency p50 {bust['p50']}, p99 {bust['p99']}, non-2xx: {bust['non_2xx']}."
        )
    lines.append(
        "Load average (1 min) before / after: "
        + " / ".join(f"{x:.1f}" for x in result["load"])
        + " on 2 cores."
    )
    if result.get("generated_s"):
        lines.append(f"Generated by `bench/generate_cards.py` in {result['generated_s']:.0f} s.")
    return "\n".join(lines)


# --- child: in-process timings with the Django test client --------------------------------


def measure(runs: int, only: str = "") -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # As deployed: the WSGI entry point sets Django up (and freezes what it loaded, see
    # config/wsgi.py), as gunicorn does for the wrk runs below.
    importlib.import_module("config.wsgi")
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from sla.models import SlaTimer
    from tasks.models import Team

    user_model = get_user_model()
    manager = user_model.objects.get(username="bench-manager")
    dispatcher = user_model.objects.get(username="bench-dispatcher")
    performer = user_model.objects.get(username="bench-performer-0-0")
    approver = user_model.objects.get(username="bench-approver-0")
    team = Team.objects.order_by("pk").first()
    hx = {"HTTP_HX_REQUEST": "true"}
    filtered = f"/at-risk/?team={team.pk}&priority=high"
    # The at-risk queue's HTML is cached for tasks.boards.QUEUE_CACHE_SECONDS: "uncached"
    # rows clear the cache before every request (the cost of the first request per key),
    # the others show what repeated polls of one key cost.
    pages = [
        ("At-risk queue, full page, uncached", manager, "/at-risk/", {}, True),
        ("At-risk queue, HTMX partial, uncached", manager, "/at-risk/", hx, True),
        ("At-risk partial, filtered (team + high priority), uncached", manager, filtered, hx,
         True),
        ("At-risk queue, page 20, uncached", manager, "/at-risk/?page=20", hx, True),
        ("At-risk queue, full page, cached", manager, "/at-risk/", {}, False),
        ("At-risk queue, HTMX partial, cached", manager, "/at-risk/", hx, False),
        ("Dispatch board", dispatcher, "/dispatch/", {}, False),
        ("My work (a performer)", performer, "/my-work/", {}, False),
        ("Approvals, waiting for me (an approver)", approver, "/approvals/", {}, False),
        ("Approvals, all pending in my teams (manager)", manager, "/approvals/?scope=teams", {},
         False),
    ]  # fmt: skip
    pages = [page for page in pages if only.lower() in page[0].lower()]
    clients = {}
    for user in (manager, dispatcher, performer, approver):
        clients[user.pk] = Client()
        clients[user.pk].force_login(user)
    results = []
    for name, user, path, headers, uncached in pages:
        client = clients[user.pk]
        for _ in range(3):  # warm-up: connection, templates, calendar cache
            response = client.get(path, **headers)
            assert response.status_code == 200, (path, response.status_code)
        timings = []
        for _ in range(runs):
            if uncached:
                cache.clear()
            started = time.perf_counter()
            response = client.get(path, **headers)
            timings.append((time.perf_counter() - started) * 1000)
        query_counts, sql_times = [], []
        for _ in range(5):
            if uncached:
                cache.clear()
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path, **headers)
            query_counts.append(len(captured.captured_queries))
            sql_times.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        body = response.content.decode()
        rows = body.count("<tr data-band=") + body.count('<tr id="dispatch-row-')
        rows += body.count('<article id="work-') + body.count('<tr id="approval-')
        timings.sort()
        results.append(
            {
                "name": name,
                "path": path,
                "rows": rows,
                "median_ms": statistics.median(timings),
                "p95_ms": timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))],
                "queries": max(query_counts),
                "sql_ms": statistics.median(sql_times),
            }
        )
    return {
        "pages": results,
        "timers": SlaTimer.objects.count(),
        "open_timers": SlaTimer.objects.filter(stopped_at__isnull=True).count(),
        "session": clients[manager.pk].cookies["sessionid"].value,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--db",
        default="postgres://postgres@127.0.0.1:5432/turnaround_dash_bench",
        help="database URL prefix; _100k / _1m is appended per size",
    )
    parser.add_argument("--runs", type=int, default=40, help="timed requests per page")
    parser.add_argument("--wrk-seconds", type=int, default=20)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument(
        "--pages", default="", help="only the pages whose name contains this (e.g. Approvals)"
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.runs, args.pages)))
        return
    results = []
    for size in args.sizes:
        result = bench_size(size, args)
        results.append(result)
        print(report(result), flush=True)
        print(flush=True)
    if results and results[-1].get("wrk"):
        print(f"wrk command: `{results[-1]['wrk']['command']}`")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
