"""A job for the Redis test (tests/sla/test_redis.py): each run appends its tag to a Redis
list, so the test counts how often each enqueued job ran, whichever cluster ran it."""

from __future__ import annotations

import os

RUNS_KEY = "turnaround-test:runs"


def record(tag: str) -> str:
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).rpush(RUNS_KEY, f"{tag} {os.getpid()}")
    return tag
