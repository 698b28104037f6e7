"""A real django-q2 cluster (`manage.py qcluster`, started here) scans, records and delivers:
a breach reaches a Slack webhook (a loopback HTTP server) and an SMTP relay (aiosmtpd on
loopback); and a job that raises is run again, not lost. PostgreSQL only: the cluster is
another process and must see this test's rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.models import OrmQ, Task
from django_q.tasks import async_task

from sla.models import Channel, Notification, SlaEvent
from tests.sla.conftest import M, Trigger, shares_the_database, timer_of

SITE = "https://turnaround.example"
WAIT = 60  # seconds


def _database_url() -> str:
    # pytest-django renamed the database (test_…, plus a suffix under xdist): ask at run time.
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait_for(condition, what: str, cluster: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if cluster.poll() is not None:
            pytest.fail(f"the cluster exited ({cluster.returncode}):\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {WAIT} s; cluster log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@contextmanager
def running_cluster(log: Path, **env: str) -> Iterator[subprocess.Popen]:
    """`manage.py qcluster` on this test's database (one worker), stopped on the way out."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(),
        # Jobs are signed with the secret key: the cluster must share the test process's.
        "SECRET_KEY": settings.SECRET_KEY,
        "Q_SYNC": "false",
        "Q_WORKERS": "1",
        "CONN_MAX_AGE": "0",
        **env,
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
    try:
        yield cluster
    finally:
        cluster.send_signal(signal.SIGTERM)  # the cluster stops its own workers
        try:
            cluster.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()


@shares_the_database
@pytest.mark.django_db(transaction=True)
def test_a_job_that_raises_stays_queued_and_runs_again_after_the_retry_time(tmp_path):
    counter = tmp_path / "runs"
    log = tmp_path / "qcluster.log"
    with running_cluster(log) as cluster:
        async_task("tests.sla.cluster_jobs.fail_once", str(counter), sync=False,
                   task_name="fails once (test)")  # fmt: skip
        first = Task.objects.filter(name="fails once (test)")
        _wait_for(first.exists, "first run recorded", cluster, log)
        assert (first.get().success, first.get().attempt_count) == (False, 1)
        # Not acknowledged: still queued, locked until `retry` seconds after it was taken.
        (queued,) = OrmQ.objects.all()
        wait = (queued.lock - timezone.now()).total_seconds()
        assert settings.Q_CLUSTER["retry"] - 30 < wait <= settings.Q_CLUSTER["retry"]
        # Instead of waiting three minutes: the retry time has come.
        OrmQ.objects.filter(pk=queued.pk).update(lock=timezone.now() - timedelta(seconds=1))
        _wait_for(lambda: first.get().success, "successful second run", cluster, log)
        _wait_for(lambda: not OrmQ.objects.exists(), "the job acknowledged", cluster, log)

    task = first.get()
    assert (task.success, task.attempt_count, task.result) == (True, 2, 2)
    assert counter.read_text() == "2"


@shares_the_database
@pytest.mark.django_db(transaction=True)
def test_a_real_cluster_delivers_a_breach_to_slack_and_by_email(
    round_the_clock, make_policy, make_rule, new_card, performer, slack_server, smtp_receiver,
    tmp_path,
):  # fmt: skip
    policy = make_policy(round_the_clock)
    make_rule(policy, Trigger.BREACH, notify_owner=True, email=True, slack=True,
              slack_webhook_url=slack_server.url("/sales"))  # fmt: skip
    # Created 70 minutes ago with a 60-minute target: due 10 minutes ago, nobody scanned yet.
    card = new_card(timezone.now() - 70 * M, title="Quote for 40 desks")
    due = timer_of(card).due_at
    assert SlaEvent.objects.count() == 0

    log = tmp_path / "qcluster.log"
    with running_cluster(
        log, EMAIL_URL=f"smtp://127.0.0.1:{smtp_receiver.port}", SITE_URL=SITE
    ) as cluster:
        # What the per-minute schedule does, without waiting for the scheduler's 30-s tick:
        # put the scan job on the ORM queue for the cluster to pick up.
        async_task("sla.jobs.scan_due_timers", sync=False, task_name="scan (test)")

        _wait_for(lambda: len(slack_server.requests) >= 1, "Slack post", cluster, log)
        _wait_for(lambda: len(smtp_receiver.messages) >= 1, "email", cluster, log)
        _wait_for(
            lambda: not Notification.objects.filter(state=Notification.State.PENDING).exists(),
            "notification marked sent",
            cluster,
            log,
        )

    link = f"{SITE}/cards/{card.pk}/"
    (breach,) = SlaEvent.objects.all()
    assert (breach.kind, breach.at) == (SlaEvent.Kind.BREACH, due)
    assert timer_of(card).breached_at == due

    (post,) = slack_server.requests
    assert post.path == "/sales"
    assert f"#{card.pk} Quote for 40 desks" in post.body["text"]
    assert f"<{link}|Open card #{card.pk}>" in post.body["text"]

    ((recipients, message),) = smtp_receiver.messages
    assert recipients == [performer.email]
    assert message["To"] == performer.email
    assert message["Subject"] == f"[Turnaround] SLA breached: #{card.pk} Quote for 40 desks"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"Open the card: {link}" in plain
    assert f'<a href="{link}">Open the card</a>' in html

    states = dict(
        Notification.objects.exclude(channel=Channel.IN_APP).values_list("channel", "state")
    )
    assert states == {
        Channel.EMAIL: Notification.State.SENT,
        Channel.SLACK: Notification.State.SENT,
    }
    for note in Notification.objects.exclude(channel=Channel.IN_APP):
        assert note.attempts == 1
        assert note.sent_at - breach.recorded_at < timedelta(seconds=WAIT)
