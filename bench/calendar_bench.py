"""Benchmark sla.calendar.WorkCalendar against the businesstimedelta package.

How to run (businesstimedelta and pytz live only in this throwaway venv, never in the project):

    python3 -m venv /tmp/bench-venv
    /tmp/bench-venv/bin/pip install businesstimedelta pytz
    PYTHONPATH=. /tmp/bench-venv/bin/python bench/calendar_bench.py

Without businesstimedelta installed it still runs and reports only sla.calendar figures.
Prints a Markdown table: calls per second (single thread, after warm-up) for ``add`` and
``between`` at +4 h and +40 h on the same pseudo-random starts (fixed seed), the speed-up over
businesstimedelta, how many results the two libraries agree on, and the time to recompute
1,000,000 deadlines in bulk.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from sla.calendar import WorkCalendar

try:
    import businesstimedelta as btd
    import pytz
except ImportError:  # benchmark-only dependencies
    btd = None
    pytz = None

SEED = 20250601
N_STARTS = 10_000  # per case; both libraries get exactly these starts
REPEATS = 3  # best of N for sla.calendar (cheap), businesstimedelta is timed once
BULK = 1_000_000

US_HOLIDAYS_2025 = [
    date(2025, 1, 1),
    date(2025, 1, 20),
    date(2025, 2, 17),
    date(2025, 5, 26),
    date(2025, 6, 19),
    date(2025, 7, 4),
    date(2025, 9, 1),
    date(2025, 10, 13),
    date(2025, 11, 27),
    date(2025, 12, 25),
]


# A real deployment also knows next year's holidays; businesstimedelta even requires it (its
# HolidayRule crashes when no holiday follows within its 5-year look-ahead, see probe below).
HOLIDAYS = [
    *US_HOLIDAYS_2025,
    date(2026, 1, 1),
    date(2026, 1, 19),
    date(2026, 2, 16),
    date(2026, 5, 25),
    date(2026, 6, 19),
    date(2026, 7, 3),
    date(2026, 9, 7),
    date(2026, 10, 12),
    date(2026, 11, 26),
    date(2026, 12, 25),
]
OFFICE = "Mon-Fri 09-17 New York, 10 holidays/yr"
SHIFTS = "Mon-Sat 06-14 + 14-22 New York"


def starts(n: int, seed: int = SEED) -> list[datetime]:
    """Pseudo-random aware UTC instants (whole seconds) spread over 2025."""
    rng = random.Random(seed)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    return [base + timedelta(seconds=rng.randrange(365 * 86_400)) for _ in range(n)]


def rate(fn: Callable[[], object], calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = clock.perf_counter()
        fn()
        best = min(best, clock.perf_counter() - t0)
    return calls / best


def ours_cases() -> dict[str, WorkCalendar]:
    return {
        OFFICE: WorkCalendar(
            "America/New_York", {d: [(time(9), time(17))] for d in range(5)}, HOLIDAYS
        ),
        SHIFTS: WorkCalendar(
            "America/New_York",
            {d: [(time(6), time(14)), (time(14), time(22))] for d in range(6)},
        ),
    }


def theirs_cases() -> dict[str, object]:
    if btd is None:
        return {}
    tz = pytz.timezone("America/New_York")
    office = btd.WorkDayRule(
        start_time=time(9), end_time=time(17), working_days=[0, 1, 2, 3, 4], tz=tz
    )
    holidays = btd.HolidayRule(HOLIDAYS, tz=tz)
    early = btd.WorkDayRule(start_time=time(6), end_time=time(14), working_days=range(6), tz=tz)
    late = btd.WorkDayRule(start_time=time(14), end_time=time(22), working_days=range(6), tz=tz)
    return {
        OFFICE: btd.Rules([office, holidays]),
        SHIFTS: btd.Rules([early, late]),
    }


def fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def main() -> None:
    ours = ours_cases()
    theirs = theirs_cases()
    sample = starts(N_STARTS)
    rows: list[str] = []
    notes: list[str] = []
    for name, cal in ours.items():
        rules = theirs.get(name)
        for hours in (4, 40):
            duration = timedelta(hours=hours)
            # Warm-up: builds the calendar's cached tables for the whole sample range.
            deadlines = [cal.add(s, duration) for s in sample]
            pairs = list(zip(sample, deadlines, strict=True))
            # Default arguments bind this iteration's values (and are fast local lookups).
            add_rate = rate(
                lambda cal=cal, d=duration: [cal.add(s, d) for s in sample], N_STARTS, REPEATS
            )
            between_rate = rate(
                lambda cal=cal, pairs=pairs: [cal.between(s, e) for s, e in pairs],
                N_STARTS,
                REPEATS,
            )

            their_add = their_between = None
            agree_add = agree_between = "n/a"
            if rules is not None:
                delta = btd.BusinessTimeDelta(rules, hours=hours)
                try:
                    t0 = clock.perf_counter()
                    their_deadlines = [s + delta for s in sample]
                    their_add = N_STARTS / (clock.perf_counter() - t0)
                    same = sum(a == b for a, b in zip(deadlines, their_deadlines, strict=True))
                    agree_add = f"{same:,}/{N_STARTS:,}"
                    if same != N_STARTS:
                        bad = next(
                            (s, a, b)
                            for s, a, b in zip(sample, deadlines, their_deadlines, strict=True)
                            if a != b
                        )
                        notes.append(
                            f"{name}, add +{hours} h: businesstimedelta differs on "
                            f"{N_STARTS - same:,} starts, e.g. start {bad[0].isoformat()}: "
                            f"ours {bad[1].isoformat()}, theirs "
                            f"{bad[2].astimezone(UTC).isoformat()}"
                        )
                except Exception as exc:  # report, don't crash: it is not our library
                    notes.append(f"{name}, add +{hours} h: businesstimedelta failed: {exc!r}")
                try:
                    t0 = clock.perf_counter()
                    their_spans = [rules.difference(s, e).timedelta for s, e in pairs]
                    their_between = N_STARTS / (clock.perf_counter() - t0)
                    same = sum(span == duration for span in their_spans)
                    agree_between = f"{same:,}/{N_STARTS:,}"
                    if same != N_STARTS:
                        notes.append(
                            f"{name}, between +{hours} h: businesstimedelta differs on "
                            f"{N_STARTS - same:,} pairs"
                        )
                except Exception as exc:
                    notes.append(f"{name}, between +{hours} h: businesstimedelta failed: {exc!r}")

            for op, ours_rate, theirs_rate, agree in (
                ("add", add_rate, their_add, agree_add),
                ("between", between_rate, their_between, agree_between),
            ):
                ratio = f"{ours_rate / theirs_rate:,.0f}x" if theirs_rate else "n/a"
                rows.append(
                    f"| {name} | `{op}` | +{hours} h | {fmt_rate(ours_rate)} | "
                    f"{fmt_rate(theirs_rate)} | {ratio} | {agree} |"
                )

    # Bulk recomputation: 1M deadlines (+4 h) on the office calendar, one cached instance.
    office = next(iter(ours.values()))
    bulk_starts = starts(BULK, seed=SEED + 1)
    four_hours = timedelta(hours=4)
    t0 = clock.perf_counter()
    bulk = [office.add(s, four_hours) for s in bulk_starts]
    bulk_seconds = clock.perf_counter() - t0
    assert len(bulk) == BULK

    # Cold start: construct a calendar and answer the first query (builds one year table).
    t0 = clock.perf_counter()
    ours_cases()[OFFICE].add(sample[0], four_hours)
    cold_ms = (clock.perf_counter() - t0) * 1000

    # Probe: businesstimedelta with only 2025's holidays, asked about the last days of 2025.
    if btd is not None:
        tz = pytz.timezone("America/New_York")
        rules_2025 = btd.Rules(
            [
                btd.WorkDayRule(time(9), time(17), [0, 1, 2, 3, 4], tz=tz),
                btd.HolidayRule(US_HOLIDAYS_2025, tz=tz),
            ]
        )
        late_start = datetime(2025, 12, 29, 12, tzinfo=UTC)
        try:
            late_start + btd.BusinessTimeDelta(rules_2025, hours=4)
        except Exception as exc:
            notes.append(
                "businesstimedelta cannot use a holiday list that ends: with only 2025's 10 "
                f"holidays, adding 4 h to {late_start.isoformat()} raises {exc!r} (its "
                "HolidayRule finds no later holiday); both libraries were therefore given "
                "2025 and 2026 holidays"
            )

    print("## Business calendar benchmark (sla/calendar.py)\n")
    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPU(s), single thread; {N_STARTS:,} pseudo-random starts over 2025 "
        f"(seed {SEED}); sla.calendar best of {REPEATS}, businesstimedelta one pass.\n"
    )
    print(
        "| Calendar | Operation | Duration | sla.calendar calls/s | businesstimedelta calls/s "
        "| Speed-up | Same result |"
    )
    print("|---|---|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    print()
    print(
        f"- Bulk: {BULK:,} deadlines (`add` +4 h, office calendar) recomputed in "
        f"{bulk_seconds:.2f} s ({BULK / bulk_seconds:,.0f}/s)."
    )
    print(
        f"- Cold start (construct + first `add`, builds one 52-week table chunk): {cold_ms:.1f} ms."
    )
    if btd is None:
        print("- businesstimedelta not installed: comparison columns are n/a.")
    for note in notes:
        print(f"- Note: {note}")


if __name__ == "__main__":
    sys.exit(main())
