"""/health/ against a real django-q2 cluster (`manage.py qcluster`, started here): healthy while
it runs, 503 within three minutes of stopping it. PostgreSQL only: the cluster is another
process and must see this test's rows.

Instead of waiting three minutes, the probe after the stop is made at the moment the
threshold passes, measured from the timestamps the cluster itself recorded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django_q.models import Success
from django_q.tasks import async_task

from sla import health
from tests.sla.conftest import shares_the_database
from tests.sla.test_cluster import _database_url, _wait_for


@shares_the_database
@pytest.mark.django_db(transaction=True)
def test_healthy_while_a_real_cluster_runs_and_503_within_three_minutes_of_stopping_it(
    client, tmp_path, monkeypatch
):
    monkeypatch.setattr(health, "ALARM_IN_BACKGROUND", False)
    call_command("sync_schedules", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert client.get(reverse("health")).status_code == 200  # nothing due yet

    log = tmp_path / "qcluster.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "Q_SYNC": "false",
        "Q_WORKERS": "1",
        "CONN_MAX_AGE": "0",
    }
    with log.open("w") as out:
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    scans = Success.objects.filter(func=health.SCAN_FUNC)
    try:
        # What the per-minute schedule does, without waiting for the scheduler's tick.
        async_task(health.SCAN_FUNC, sync=False, task_name="scan (health test)")
        _wait_for(scans.exists, "successful scan", cluster, log)

        running = client.get(reverse("health"))
        assert running.status_code == 200, running.json()
        assert running.json()["checks"]["scan"]["status"] == "ok"
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()

    last = scans.latest("stopped").stopped
    assert client.get(reverse("health")).status_code == 200  # within the grace period
    with time_machine.travel(last + health.SCAN_MAX_AGE + timedelta(seconds=1), tick=False):
        stopped = client.get(reverse("health"))
    assert stopped.status_code == 503
    assert stopped.json()["checks"]["scan"]["status"] == "fail"
    # The cluster stopped no later than `last` + its shutdown, so that is within 3 minutes.
