"""The 5-minute refresh and the weekly digest at once on PostgreSQL: they share the report
tables and must serialise (rollup.serialise), not fail with a duplicate key."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.models import F

from reports import jobs, rollup
from reports.models import CardFacts, DigestSent
from tasks.models import Task
from tests.factories import TeamFactory, UserFactory, make_task


@pytest.mark.postgresql(reason="two connections writing the report tables at once")
@pytest.mark.django_db(transaction=True)
def test_refresh_and_digest_running_at_once_do_not_collide():
    actor = UserFactory(email="manager@example.com")
    TeamFactory(manager=actor)
    for n in range(30):
        make_task(actor=actor, title=f"Card {n}")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run(job):
        try:
            start.wait()
            for _ in range(8):
                job()
        except BaseException as error:  # reported to the test
            errors.append(error)
        finally:
            connection.close()

    def touch_and_refresh():
        Task.objects.update(version=F("version") + 1)  # every card's facts go stale
        rollup.refresh()

    def digest_then_refresh():
        jobs.send_weekly_digest()  # its own refresh first, beside the others
        rollup.refresh()

    threads = [
        threading.Thread(target=run, args=(job,))
        for job in (
            touch_and_refresh,
            touch_and_refresh,
            jobs.refresh_report_tables,
            rollup.refresh,
        )
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert DigestSent.objects.count() <= 1  # sent at most once, whenever the test runs
    assert CardFacts.objects.count() == 30
