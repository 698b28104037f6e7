"""Benchmark data generators (not part of the product): fill a PostgreSQL database whose
name contains "bench" with synthetic cards, timers and history, set-based.

- `cards` — cards and their SLA timers for the dashboards (bench/dashboard_bench.py);
- `timers` — open timers, some due, for the scan and delivery (bench/scan_bench.py,
  bench/delivery_bench.py);
- `reports_data` — cards with history and the reports' derived tables
  (bench/reports_bench.py).

Each module has `generate(...)` (for the benchmark scripts, Django already set up) and
`main(argv)` (for the entry points bench/generate_cards.py, generate_timers.py and
generate_reports.py). A timer's derived fields come from `sla.engine` through `clocks`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


class GeneratorError(Exception):
    """The generator refuses to run (wrong database, bad options)."""


def setup_django() -> None:
    """For the entry points: the project on sys.path and Django set up with its settings.
    DEBUG defaults to on so no SECRET_KEY is needed; these scripts serve no requests."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()


def require_bench_database(who: str) -> None:
    """Every generator TRUNCATEs tables: refuse anything but a PostgreSQL bench database."""
    from django.db import connection

    if connection.vendor != "postgresql":
        raise GeneratorError(f"{who} writes with PostgreSQL SQL: set DATABASE_URL.")
    if "bench" not in connection.settings_dict["NAME"]:
        raise GeneratorError(f"Refusing: {who} needs a database whose name contains 'bench'.")


def run(module: str, argv: list[str] | None = None) -> None:
    """Entry point: set Django up, run `module.main`, and turn a refusal into an exit
    message."""
    setup_django()
    import importlib

    try:
        importlib.import_module(module).main(argv)
    except GeneratorError as error:
        sys.exit(str(error))
