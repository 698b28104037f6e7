"""CPU and queries of one POST /api/v1/cards/, in-process: independent of the machine's
load, unlike bench/api_bench.py's wall-clock figures (docs/performance.md, "The cards API").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_apicards_bench \
        .venv/bin/python bench/api_cpu.py [--posts 200]

Production settings (DEBUG=false), the Django test client with a write token of the bench
manager, a fresh `Idempotency-Key` and `source` + `external_ref` per card as the benchmark
sends them. Prints the queries of one POST and the median and mean process time (CPU of
this process: the request and its SQL client side, not PostgreSQL's) over `--posts`, after
20 warm-up POSTs. The cards made are left in the database (its name must contain "bench").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dashboard_bench import PROD_ENV  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument(
        "--cold-policies",
        action="store_true",
        help="Also time POSTs that read the policies again (the cache of "
        "sla.actions.active_policies emptied first), interleaved with the others so both "
        "see the same load.",
    )
    args = parser.parse_args()
    if "bench" not in os.environ.get("DATABASE_URL", ""):
        sys.exit("DATABASE_URL must name a benchmark database (with 'bench' in its name).")
    os.environ.update({**PROD_ENV, "API_THROTTLE_RATE": "10000000/min"})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from tasks.api.tokens import make_token
    from tasks.models import RequestType

    manager = get_user_model().objects.get(username="bench-manager")
    _token, secret = make_token(user=manager, name="cpu bench", scope="write")
    request_type = RequestType.objects.order_by("pk").first()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def post() -> None:
        body = {
            "title": "API CPU bench card",
            "request_type": request_type.pk,
            "priority": "normal",
            "source": "bench",
            "external_ref": str(uuid.uuid4()),
        }
        answer = client.post("/api/v1/cards/", json.dumps(body), content_type="application/json",
                             HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))  # fmt: skip
        if answer.status_code != 201:
            raise RuntimeError(f"POST: {answer.status_code} {answer.content[:300]!r}")

    for _ in range(20):
        post()
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):  # the test client resets connection.queries
        post()
    spent: dict[str, list[float]] = {"kept policies": [], "policies read again": []}
    for _ in range(args.posts):
        for variant, times in spent.items():
            if variant == "policies read again":
                if not args.cold_policies:
                    continue
                import sla.actions

                sla.actions._policies_cache = None
            start = time.process_time()
            post()
            times.append(time.process_time() - start)
    print(f"queries per POST: {len(queries)}")
    for variant, times in spent.items():
        if times:
            print(f"CPU per POST ({variant}): median {statistics.median(times) * 1000:.1f} ms, "
                  f"mean {statistics.mean(times) * 1000:.1f} ms over {len(times)} "
                  f"(load average {os.getloadavg()[0]:.1f})")  # fmt: skip


if __name__ == "__main__":
    main()
