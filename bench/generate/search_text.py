"""Text for the search benchmark (bench/search_bench.py --text): descriptions and comments on
cards that `cards` generated (whose descriptions are empty and which have no comments), then
every card's search vector recomputed (`tasks.search_vector.VECTOR_SQL`).

    DATABASE_URL=postgres://…/turnaround_search_bench_1m .venv/bin/python \
        bench/generate_search_text.py

Words come from VOCABULARY made-up words drawn with a Zipf-like law (word k about 1/k as
often as word 1), as in natural text: the first words are in most cards, the thousandth in a
few hundred. Each card gets a description of 10 to 60 words; 40 % of cards get 1 to 3
comments of 5 to 40 words; then `VACUUM FULL` of the cards (about 1.5 min at 1M). Seeded
(setseed), reproducible. Refuses a database whose name does not contain "bench"; run it once
(it does not replace text already there).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable

from django.db import connection, transaction

from bench.generate import GeneratorError, require_bench_database
from tasks.search_vector import VECTOR_SQL

VOCABULARY = 20_000
CHUNK = 100_000
_SYLLABLES = (
    "ka", "ri", "to", "mu", "sel", "dor", "van", "lim", "pe", "qua", "bro", "fen", "gal", "hu",
    "ix", "jo", "ner", "pol", "sta", "tri", "ul", "ve", "wen", "yor", "zan", "ble", "cor", "dax",
    "el", "fi", "gor",
)  # fmt: skip


def vocabulary() -> list[str]:
    """VOCABULARY distinct made-up words, the most frequent first (deterministic)."""
    words = ("".join(parts) for n in (2, 3) for parts in itertools.product(_SYLLABLES, repeat=n))
    return list(itertools.islice(words, VOCABULARY))


def word_of_rank(rank: int) -> str:
    """The word drawn about 1/rank as often as the commonest (rank 1)."""
    return vocabulary()[rank - 1]


# One word: rank floor(V ** random()), log-uniform, so P(rank k) is about 1/k.
_WORD = "(%(vocab)s::text[])[floor(power(%(v)s, random()))::int]"


def generate(*, seed: float = 0.17, out: Callable = print) -> None:
    require_bench_database("generate_search_text")
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM tasks_task")
        low, high = cursor.fetchone()
        if low == 0:
            raise GeneratorError("No cards: run bench/generate_cards.py first.")
        cursor.execute("SELECT EXISTS (SELECT 1 FROM tasks_comment)")
        if cursor.fetchone()[0]:
            raise GeneratorError("Comments exist already: this database has its text.")
        cursor.execute("SELECT id FROM auth_user WHERE username = 'bench-manager'")
        author = cursor.fetchone()[0]
        params = {"vocab": vocabulary(), "v": VOCABULARY, "author": author}
        started = time.monotonic()
        cursor.execute("SELECT setseed(%s)", [seed])
        for lo in range(low, high + 1, CHUNK):
            hi = min(lo + CHUNK - 1, high)
            with transaction.atomic():
                # t.id in the subqueries makes PostgreSQL draw new words for every card.
                cursor.execute(
                    f"""
                    UPDATE tasks_task AS t SET description = (
                      SELECT string_agg({_WORD}, ' ')
                      FROM generate_series(1, 10 + (t.id * 7919) %% 51))
                    WHERE t.id BETWEEN %(lo)s AND %(hi)s
                    """,
                    {**params, "lo": lo, "hi": hi},
                )
                cursor.execute(
                    f"""
                    INSERT INTO tasks_comment (task_id, author_id, text, created_at)
                    SELECT t.id, %(author)s, (
                      SELECT string_agg({_WORD}, ' ')
                      FROM generate_series(1, 5 + (t.id * 31 + n * 17) %% 36)),
                      t.created_at + make_interval(mins => n * 30)
                    FROM tasks_task t CROSS JOIN generate_series(1, 3) AS n
                    WHERE t.id BETWEEN %(lo)s AND %(hi)s
                      AND (t.id * 2654435761) %% 100 < 40 AND n <= 1 + t.id %% 3
                    """,
                    {**params, "lo": lo, "hi": hi},
                )
                cursor.execute(
                    f"UPDATE tasks_task AS t SET search_vector = {VECTOR_SQL} "
                    "WHERE t.id BETWEEN %s AND %s",
                    [lo, hi],
                )
            out(f"  text: cards {lo}..{hi} ({time.monotonic() - started:.0f} s)")
        # Three updates of every card left its rows scattered over twice the pages; a table
        # that autovacuum kept would not be (the search reads cards backwards by id).
        cursor.execute("VACUUM FULL ANALYZE tasks_task")
        cursor.execute("VACUUM ANALYZE tasks_comment")
    out(f"Descriptions, comments and search vectors in {time.monotonic() - started:.0f} s.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=float, default=0.17, help="setseed() value.")
    args = parser.parse_args(argv)
    generate(seed=args.seed)
