"""A job for the retry test (tests/sla/test_cluster.py): it fails on its first run and
succeeds on the next, keeping count in a file, so the test sees the cluster run it again."""

from __future__ import annotations

from pathlib import Path


def fail_once(counter: str) -> int:
    path = Path(counter)
    runs = int(path.read_text() or 0) + 1 if path.exists() else 1
    path.write_text(str(runs))
    if runs == 1:
        raise RuntimeError("the first run of this job fails")
    return runs
