"""The Redis path (REDIS_URL for the django-q2 broker, CACHE_URL for a shared cache), with TWO
real clusters and TWO web processes (`runserver` on loopback ports) against the machine's
Redis: a job enqueued through the Redis broker runs exactly once, and the at-risk queue cached
by one web process is served by the other.

PostgreSQL only (the processes share this test's database); skipped, loudly, without Redis.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.models import OrmQ, Success

from tasks.models import Task
from tests.sla.conftest import M, shares_the_database
from tests.sla.redis_jobs import RUNS_KEY
from tests.sla.test_cluster import _database_url

# A Redis database of its own, flushed before and after.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
JOBS = 40
WAIT = 90  # seconds


@pytest.fixture
def redis_db():
    try:
        import redis
    except ImportError:
        pytest.skip("SKIPPED LOUDLY: the `redis` package is missing (pip install .[redis])")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        pytest.skip(
            f"SKIPPED LOUDLY: Redis is not reachable at {REDIS_URL} ({error}): the Redis "
            "broker and shared cache are NOT tested. Start redis-server (.ci/run does)."
        )
    client.flushdb()
    yield client
    client.flushdb()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Processes started by the test, each with its log; all stopped at the end."""

    def __init__(self, tmp_path, env: dict[str, str]):
        self.tmp_path, self.env, self.running = tmp_path, env, []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = self.tmp_path / f"{name}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "manage.py", *args],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process.log = log
        self.running.append(process)
        return process

    def check(self) -> None:
        for process in self.running:
            if process.poll() is not None:
                pytest.fail(f"{process.args} exited:\n{process.log.read_text()[-3000:]}")

    def stop(self) -> None:
        for process in self.running:
            process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {p.args}\n{p.log.read_text()[-2000:]}" for p in self.running)


def _wait_for(condition, what: str, processes: Processes) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        processes.check()
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {WAIT} s\n{processes.logs()}")
        time.sleep(0.3)


def _get(port: int, path: str, session: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Cookie": f"sessionid={session}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


@shares_the_database
@pytest.mark.django_db(transaction=True)
def test_two_clusters_and_two_web_processes_share_redis(
    redis_db, round_the_clock, make_policy, new_card, manager, team, client, tmp_path
):
    make_policy(round_the_clock)
    # Due 10 minutes ago: on the at-risk queue.
    card = new_card(timezone.now() - 70 * M, title="Quote for 40 desks")
    client.force_login(manager)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value

    processes = Processes(
        tmp_path,
        {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": _database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "REDIS_URL": REDIS_URL,
            "CACHE_URL": REDIS_URL,
            "Q_SYNC": "false",
            "Q_WORKERS": "1",
            "CONN_MAX_AGE": "0",
            # Static files from the source tree (no collectstatic manifest here).
            "DEBUG": "true",
            "PYTHONPATH": str(settings.BASE_DIR),
        },
    )
    ports = [_free_port(), _free_port()]
    try:
        for n in (1, 2):
            processes.start(f"cluster{n}", "qcluster")
        for n, port in enumerate(ports, 1):
            processes.start(f"web{n}", "runserver", f"127.0.0.1:{port}", "--noreload")

        # Jobs enqueued through the Redis broker (by a third process: this one's queue is
        # the database, in sync mode).
        processes.start(
            "enqueue",
            "shell",
            "-c",
            "from django_q.tasks import async_task\n"
            f"for n in range({JOBS}): async_task('tests.sla.redis_jobs.record', f'job{{n}}')",
        ).wait(timeout=60)
        processes.running.pop()  # finished
        runs = Success.objects.filter(func="tests.sla.redis_jobs.record")
        _wait_for(lambda: runs.count() >= JOBS, f"{JOBS} successful jobs", processes)
        time.sleep(3)  # time for a second run of any job to show

        ran = [entry.decode().split() for entry in redis_db.lrange(RUNS_KEY, 0, -1)]
        tags = sorted(tag for tag, _ in ran)
        assert tags == sorted(f"job{n}" for n in range(JOBS)), "every job ran exactly once"
        assert runs.count() == JOBS
        assert not OrmQ.objects.exists(), "the queue was Redis, not the database"

        # The at-risk queue rendered by web 1 is served from the shared cache by web 2.
        for port in ports:
            _wait_for(lambda p=port: _get(p, "/health/", "")[0] in (200, 503), "web", processes)
        status, page = _get(ports[0], "/at-risk/", session)
        assert status == 200, processes.logs()
        assert "Quote for 40 desks" in page
        # Renamed behind the app's back (no signal, so nothing invalidates the cache): a web
        # process with a cache of its own would render the new title.
        Task.objects.filter(pk=card.pk).update(title="Renamed quietly")
        status, page = _get(ports[1], "/at-risk/", session)
        assert status == 200
        assert "Quote for 40 desks" in page
        assert "Renamed quietly" not in page
        # The health probe's cache check passes on both.
        for port in ports:
            status, body = _get(port, "/health/", "")
            assert '"cache": {"status": "ok"}' in body, body
    finally:
        processes.stop()
