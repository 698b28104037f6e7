"""The per-minute scan: each warning, breach and escalation fires exactly once, stamped at the
instant it was crossed, whoever notices it (the scan or a change of the card), however late.

Cards are made through the action layer; the scan is called directly with `now=` and the
clock stopped there. Default policy: 24/7, resolution 60 min, warning at 75 % (45 min).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.db.models import Count
from django.utils import timezone
from django_q.models import OrmQ

from sla import jobs
from sla import scan as scan_module
from sla.escalation import NOT_TAKEN_IN_TIME
from sla.models import (
    Channel,
    EscalationRule,
    Notification,
    PolicyMode,
    SlaEvent,
    SlaTimer,
    TimerKind,
    TimerState,
)
from tasks import actions
from tasks.models import Priority, Status, TaskEvent
from tests.factories import BlockingReasonFactory
from tests.sla.conftest import (
    FRI,
    MON,
    Clock,
    M,
    Trigger,
    berlin,
    scan,
    set_based_scan,
    shares_the_database,
    timer_of,
)

T0 = berlin(*MON, 10)  # a Monday morning

Kind = SlaEvent.Kind


@pytest.fixture
def policy(round_the_clock, make_policy, make_rule):
    policy_ = make_policy(round_the_clock)
    make_rule(policy_, Trigger.WARNING, notify_owner=True)
    make_rule(policy_, Trigger.BREACH, notify_owner=True, email=True)
    return policy_


def events(task=None, kind=None):
    rows = SlaEvent.objects.all()
    if task is not None:
        rows = rows.filter(timer__task=task)
    if kind is not None:
        rows = rows.filter(kind=kind)
    return list(rows.order_by("at", "pk"))


def counts() -> tuple[int, int]:
    return SlaEvent.objects.count(), Notification.objects.count()


# --------------------------------------------------------------------------- thresholds


def test_warning_fires_once_at_its_threshold(policy, new_card, performer):
    card = new_card(T0)
    assert scan(T0 + 44 * M) == 0
    assert counts() == (0, 0)

    assert scan(T0 + 45 * M) == 1

    (warning,) = events(card)
    assert warning.kind == Kind.WARNING
    assert warning.at == T0 + 45 * M
    (note,) = Notification.objects.filter(event=warning)
    assert (note.recipient, note.channel, note.state) == (
        performer,
        Channel.IN_APP,
        Notification.State.SENT,
    )
    assert timer_of(card).warned_at == T0 + 45 * M


def test_a_second_scan_creates_nothing(policy, new_card):
    new_card(T0)
    assert scan(T0 + 45 * M) == 1
    before = counts()

    assert scan(T0 + 45 * M) == 0
    assert scan(T0 + 50 * M) == 0
    assert counts() == before == (1, 1)


def test_breach_is_stamped_at_the_due_time_not_the_scan_time(policy, new_card):
    card = new_card(T0)
    scan(T0 + 45 * M)
    scan_time = T0 + 73 * M + timedelta(seconds=17)

    assert scan(scan_time) == 1

    timer = timer_of(card)
    assert timer.due_at == T0 + 60 * M
    assert timer.breached_at == timer.due_at
    assert timer.state == TimerState.BREACHED
    (breach,) = events(card, Kind.BREACH)
    assert breach.at == timer.due_at
    assert breach.recorded_at == scan_time
    channels = sorted(Notification.objects.filter(event=breach).values_list("channel", flat=True))
    assert channels == [Channel.EMAIL, Channel.IN_APP]
    assert scan(scan_time + M) == 0


def test_escalation_level_n_fires_n_minutes_after_breach_on_the_calendar_clock(
    policy, make_rule, new_card, manager
):
    first = make_rule(
        policy, Trigger.AFTER_BREACH, minutes_after_breach=30, clock=Clock.CALENDAR,
        notify_owner=False, notify_team_manager=True,
    )  # fmt: skip
    second = make_rule(
        policy, Trigger.AFTER_BREACH, minutes_after_breach=90, clock=Clock.CALENDAR,
        notify_owner=False, notify_team_manager=True,
    )  # fmt: skip
    card = new_card(T0)
    breached = T0 + 60 * M
    assert scan(breached + M) == 1  # the breach (its warning passed silently)

    assert scan(breached + 29 * M) == 0
    assert scan(breached + 30 * M) == 1
    assert timer_of(card).escalation_level == 1
    assert scan(breached + 89 * M) == 0
    assert scan(breached + 90 * M) == 1
    assert scan(breached + 200 * M) == 0

    escalations = events(card, Kind.ESCALATION)
    assert [(e.rule, e.at) for e in escalations] == [
        (first, breached + 30 * M),
        (second, breached + 90 * M),
    ]
    assert [e.key for e in escalations] == [f"escalation:{first.pk}", f"escalation:{second.pk}"]
    for escalation in escalations:
        (note,) = Notification.objects.filter(event=escalation)
        assert note.recipient == manager
    timer = timer_of(card)
    assert timer.escalation_level == 2
    assert timer.next_check_at is None


def test_business_clock_escalation_after_a_friday_evening_breach_fires_monday_morning(
    berlin_office, make_policy, make_rule, new_card, manager
):
    policy_ = make_policy(berlin_office, resolution=2 * 60 * M)
    rule = make_rule(
        policy_, Trigger.AFTER_BREACH, minutes_after_breach=60, clock=Clock.BUSINESS,
        notify_owner=False, notify_team_manager=True,
    )  # fmt: skip
    card = new_card(berlin(*FRI, 15, 30))
    assert timer_of(card).due_at == berlin(*FRI, 17, 30)

    assert scan(berlin(*FRI, 17, 31)) == 1
    timer = timer_of(card)
    assert timer.breached_at == berlin(*FRI, 17, 30)
    # Fri 17:30-18:00 is the first half hour, Monday 09:00-09:30 the second.
    assert timer.next_check_at == berlin(*MON, 9, 30)

    assert scan(berlin(2026, 11, 21, 12)) == 0  # Saturday
    assert scan(berlin(*MON, 9, 29)) == 0
    assert scan(berlin(*MON, 9, 30)) == 1

    (escalation,) = events(card, Kind.ESCALATION)
    assert escalation.rule == rule
    assert escalation.at == berlin(*MON, 9, 30)
    assert Notification.objects.get(event=escalation).recipient == manager


def test_pausing_before_the_warning_means_no_warning(policy, new_card, performer):
    card = new_card(T0)
    customer = BlockingReasonFactory(name="Waiting for customer", pauses_sla=True)
    actions.change_status(
        task=card, to=Status.WAITING, blocking_reason=customer, actor=performer, at=T0 + 30 * M
    )

    assert scan(T0 + 46 * M) == 0
    assert scan(T0 + 5 * 60 * M) == 0

    timer = timer_of(card)
    assert timer.state == TimerState.PAUSED
    assert timer.warned_at is None
    assert timer.next_check_at is None
    assert counts() == (0, 0)


def test_observe_mode_timers_get_events_but_no_notifications(
    round_the_clock, make_policy, make_rule, new_card, mailoutbox
):
    policy_ = make_policy(round_the_clock, mode=PolicyMode.OBSERVE)
    make_rule(policy_, Trigger.WARNING, notify_owner=True, email=True)
    make_rule(policy_, Trigger.BREACH, notify_owner=True, email=True)
    card = new_card(T0)

    assert scan(T0 + 45 * M) == 1
    assert scan(T0 + 61 * M) == 1

    fired = events(card)
    assert [(e.kind, e.at, e.observe) for e in fired] == [
        (Kind.WARNING, T0 + 45 * M, True),
        (Kind.BREACH, T0 + 60 * M, True),
    ]
    assert Notification.objects.count() == 0
    assert mailoutbox == []


def test_response_warning_flags_the_card_for_dispatch_and_taking_it_into_work_clears_it(
    round_the_clock, make_policy, make_rule, new_card, performer
):
    policy_ = make_policy(round_the_clock, response=60 * M, resolution=8 * 60 * M)
    make_rule(policy_, Trigger.WARNING, timer_kind=TimerKind.RESPONSE, notify_dispatchers=True)
    card = new_card(T0)

    assert scan(T0 + 45 * M) == 1

    card.refresh_from_db()
    assert card.dispatch_flag == NOT_TAKEN_IN_TIME
    flagged = TaskEvent.objects.get(task=card, kind=TaskEvent.Kind.DISPATCH_FLAGGED)
    assert (flagged.new_value, flagged.at, flagged.actor) == (NOT_TAKEN_IN_TIME, T0 + 45 * M, None)
    assert scan(T0 + 46 * M) == 0
    assert TaskEvent.objects.filter(task=card, kind=TaskEvent.Kind.DISPATCH_FLAGGED).count() == 1

    actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer, at=T0 + 50 * M)

    card.refresh_from_db()
    assert card.dispatch_flag == ""
    assert timer_of(card, TimerKind.RESPONSE).state == TimerState.MET


def test_rule_action_raise_priority_raises_one_step(policy, make_rule, new_card):
    make_rule(
        policy, Trigger.BREACH, notify_owner=True, action=EscalationRule.Action.RAISE_PRIORITY
    )
    card = new_card(T0, priority=Priority.NORMAL)

    assert scan(T0 + 61 * M) == 1
    card.refresh_from_db()
    assert card.priority == Priority.HIGH
    raised = TaskEvent.objects.get(task=card, kind=TaskEvent.Kind.PRIORITY_CHANGED)
    assert (raised.old_value, raised.new_value, raised.at) == (
        Priority.NORMAL,
        Priority.HIGH,
        T0 + 61 * M,
    )

    assert scan(T0 + 62 * M) == 0
    card.refresh_from_db()
    assert card.priority == Priority.HIGH


def _scan_that_dies_before_its_follow_ups(now, *, set_based: bool) -> int:
    """What a scan process killed right after its timers' transactions committed leaves:
    thresholds, events and notifications written, card-side reactions not yet run."""
    with time_machine.travel(now, tick=False):
        if set_based:
            return scan_module._scan_batch_sql(now, 100)[1]
        return scan_module._scan_batch(now, 100)[1]


@pytest.mark.parametrize(
    "set_based",
    [pytest.param(True, id="set-based", marks=set_based_scan), pytest.param(False, id="python")],
)
def test_a_dispatch_flag_lost_with_a_dying_scan_is_set_once_by_the_next_scan(
    round_the_clock, make_policy, make_rule, new_card, set_based
):
    policy_ = make_policy(round_the_clock, response=60 * M, resolution=8 * 60 * M)
    make_rule(policy_, Trigger.WARNING, timer_kind=TimerKind.RESPONSE, notify_dispatchers=True)
    cards = [new_card(T0, title=f"Card {n}") for n in range(3)]

    assert _scan_that_dies_before_its_follow_ups(T0 + 45 * M, set_based=set_based) == 3
    assert SlaEvent.objects.filter(follow_up=True).count() == 3
    for card in cards:
        card.refresh_from_db()
        assert card.dispatch_flag == ""

    assert scan(T0 + 46 * M, set_based=set_based) == 0  # nothing new fires; the flags catch up
    assert scan(T0 + 47 * M, set_based=set_based) == 0
    assert not SlaEvent.objects.filter(follow_up=True).exists()
    for card in cards:
        card.refresh_from_db()
        assert card.dispatch_flag == NOT_TAKEN_IN_TIME
        flagged = TaskEvent.objects.filter(task=card, kind=TaskEvent.Kind.DISPATCH_FLAGGED)
        assert flagged.count() == 1


def test_a_rule_action_lost_with_a_dying_scan_runs_once_in_the_next_scan(
    policy, make_rule, new_card
):
    make_rule(
        policy, Trigger.BREACH, notify_owner=True, action=EscalationRule.Action.RAISE_PRIORITY
    )
    card = new_card(T0, priority=Priority.NORMAL)

    assert _scan_that_dies_before_its_follow_ups(T0 + 61 * M, set_based=False) == 1
    card.refresh_from_db()
    assert card.priority == Priority.NORMAL

    assert scan(T0 + 62 * M) == 0
    assert scan(T0 + 63 * M) == 0
    card.refresh_from_db()
    assert card.priority == Priority.HIGH  # one step, once
    raised = TaskEvent.objects.get(task=card, kind=TaskEvent.Kind.PRIORITY_CHANGED)
    assert raised.at == T0 + 62 * M


def test_a_change_of_the_card_after_the_threshold_fires_it_and_the_scan_then_adds_nothing(
    policy, new_card, performer
):
    card = new_card(T0)
    actions.set_next_step(task=card, text="Call back", due=None, actor=performer, at=T0 + 50 * M)

    (warning,) = events(card)
    assert (warning.kind, warning.at, warning.recorded_at) == (
        Kind.WARNING,
        T0 + 45 * M,
        T0 + 50 * M,
    )
    assert Notification.objects.filter(event=warning).count() == 1

    assert scan(T0 + 50 * M) == 0
    assert counts() == (1, 1)


# --------------------------------------------------------------------------- downtime


def test_one_scan_after_three_hours_of_downtime_stamps_each_threshold_when_it_was_crossed(
    policy, make_rule, new_card, mailoutbox
):
    for minutes in (30, 90):
        make_rule(
            policy, Trigger.AFTER_BREACH, minutes_after_breach=minutes, clock=Clock.CALENDAR,
            notify_owner=True,
        )  # fmt: skip
    assert scan(T0) == 0  # the last run before the scheduler went down
    # Found breached, both escalation levels passed too.
    long_breached = new_card(berlin(*MON, 9, 30), title="long breached")
    # Found breached, the first escalation level passed.
    breached = new_card(berlin(*MON, 11, 30), title="breached")
    # Its warning passed, its breach has not.
    warned = new_card(berlin(*MON, 12, 10), title="warned")
    # Nothing passed yet.
    fresh = new_card(berlin(*MON, 12, 50), title="fresh")

    assert scan(T0 + 3 * 60 * M + 5 * M) == 3 + 2 + 1

    def fired(card):
        return [(e.kind, e.at) for e in events(card)]

    assert fired(long_breached) == [
        (Kind.BREACH, berlin(*MON, 10, 30)),
        (Kind.ESCALATION, berlin(*MON, 11)),
        (Kind.ESCALATION, berlin(*MON, 12)),
    ]
    assert fired(breached) == [
        (Kind.BREACH, berlin(*MON, 12, 30)),
        (Kind.ESCALATION, berlin(*MON, 13)),
    ]
    assert fired(warned) == [(Kind.WARNING, berlin(*MON, 12, 55))]
    assert fired(fresh) == []
    for card in (long_breached, breached):
        timer = timer_of(card)
        assert timer.breached_at == timer.due_at
        assert timer.warned_at == timer.warn_at  # passed, but announced by the breach only
    assert timer_of(breached).next_check_at == berlin(*MON, 14)
    assert timer_of(fresh).next_check_at == berlin(*MON, 13, 35)

    warnings = Notification.objects.filter(event__kind=Kind.WARNING)
    assert {n.event.timer.task for n in warnings} == {warned}
    # One in-app + one email per breach, one in-app per escalation, one in-app warning.
    assert Notification.objects.count() == 2 * 2 + 3 + 1
    assert sorted(m.subject for m in mailoutbox) == sorted(
        f"[Turnaround] SLA breached: #{card.pk} {card.title}" for card in (long_breached, breached)
    )

    assert scan(T0 + 3 * 60 * M + 6 * M) == 0
    assert Notification.objects.count() == 8


# --------------------------------------------------------------------------- crashes, races


def _db_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _make_due_cards(new_card, count: int, start):
    """`count` cards one second apart, all past breach and first escalation by `start+3h`."""
    return [new_card(start + timedelta(seconds=i), title=f"card {i}") for i in range(count)]


def _assert_every_threshold_once(cards, per_card_kinds):
    for card in cards:
        kinds = sorted(SlaEvent.objects.filter(timer__task=card).values_list("kind", flat=True))
        assert kinds == per_card_kinds, card.title
    dupes = (
        Notification.objects.values("event", "channel", "recipient_key")
        .order_by()
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert list(dupes) == []


# The real job in another process, stopped inside every batch after the first: when a
# batch asks django-q to deliver (its `pre_enqueue` signal), everything of the batch is
# written but not committed. More than one batch is due, so the scan runs its batches on
# two connections (sla.scan.SCAN_WORKERS): the first batch commits, the next two (one per
# connection: a connection waiting in one cannot start another) wait there, uncommitted, to
# be killed.
KILLED_SCAN = """
import sys, threading, time
import django
django.setup()
from datetime import datetime
from django.db import connection
from django_q.signals import pre_enqueue
from sla import jobs

batches = 0
lock = threading.Lock()

def stop_after_first_batch(sender, task, **kwargs):
    global batches
    with lock:
        batches += 1
        n = batches
    if n == 3:  # the other connection already waits in its batch
        print("written", flush=True)
    if n >= 2:
        time.sleep(600)

pre_enqueue.connect(stop_after_first_batch)
with connection.cursor() as cursor:
    cursor.execute("select pg_backend_pid()")
    print("pid", cursor.fetchone()[0], flush=True)
jobs.scan_due_timers(now=datetime.fromisoformat(sys.argv[1]), batch_size=10, workers=2)
"""


@shares_the_database
@pytest.mark.django_db(transaction=True)
def test_a_scan_killed_midway_leaves_nothing_half_done_and_the_next_scan_completes_it(
    policy, new_card, tmp_path
):
    cards = _make_due_cards(new_card, 25, T0)
    now = T0 + 3 * 60 * M
    script = tmp_path / "killed_scan.py"
    script.write_text(KILLED_SCAN)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _db_url(),
        "PYTHONPATH": str(settings.BASE_DIR),
        "Q_SYNC": "false",  # enqueue delivery on the ORM queue, as in production
    }
    proc = subprocess.Popen(
        [sys.executable, str(script), now.isoformat()],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        backend = int(proc.stdout.readline().split()[1])
        assert proc.stdout.readline().strip() == "written"
        # Two connections hold a batch each, written, not committed: the scan's own and
        # its worker's (15 timers left, 10 per batch).
        deadline = time.monotonic() + 30
        with connection.cursor() as cursor:
            while True:
                cursor.execute(
                    "select pid from pg_stat_activity where datname = current_database() "
                    "and pid <> pg_backend_pid() and state = 'idle in transaction'"
                )
                waiting = {row[0] for row in cursor.fetchall()}
                if len(waiting) == 2:
                    break
                assert time.monotonic() < deadline, f"batches in progress: {waiting}"
                time.sleep(0.05)
        assert backend in waiting
        # The first batch is committed whole: timers, events, notifications, delivery job.
        # The other two are written but not committed: invisible from here.
        assert SlaEvent.objects.count() == 10
        assert Notification.objects.count() == 10 * 2
        assert SlaTimer.objects.filter(breached_at__isnull=False).count() == 10
        assert OrmQ.objects.count() == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    # The server rolls the open transactions back once it notices their client is gone:
    # the scan's own connection and its worker's.
    deadline = time.monotonic() + 10
    while _still_connected(sorted(waiting)):
        assert time.monotonic() < deadline, "the killed scan's connections linger"
        time.sleep(0.05)

    assert SlaEvent.objects.count() == 10
    assert Notification.objects.count() == 10 * 2
    assert SlaTimer.objects.filter(breached_at__isnull=False).count() == 10

    assert scan(now, batch_size=10) == 15

    assert SlaEvent.objects.count() == 25
    _assert_every_threshold_once(cards, [Kind.BREACH])
    assert Notification.objects.filter(event__kind=Kind.BREACH).count() == 25 * 2
    for timer in SlaTimer.objects.all():
        assert timer.breached_at == timer.due_at
    assert scan(now, batch_size=10) == 0


@shares_the_database
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_scans_fire_every_threshold_exactly_once(policy, new_card, mailoutbox):
    cards = _make_due_cards(new_card, 300, T0)
    now = T0 + 3 * 60 * M
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(timeout=30)
            results.append(jobs.scan_due_timers(now=now, batch_size=50))
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    with time_machine.travel(now, tick=False):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    assert len(results) == 2
    assert min(results) > 0  # both took batches: the scans really ran side by side
    assert sum(results) == 300
    assert SlaEvent.objects.count() == 300
    _assert_every_threshold_once(cards, [Kind.BREACH])
    assert Notification.objects.filter(channel=Channel.EMAIL).count() == 300
    assert Notification.objects.filter(channel=Channel.IN_APP).count() == 300
    assert sorted(m.subject for m in mailoutbox) == sorted(
        f"[Turnaround] SLA breached: #{card.pk} {card.title}" for card in cards
    )
    assert Notification.objects.exclude(state=Notification.State.SENT).count() == 0
    assert scan(now) == 0


class _Connections:
    """The connections a scan opens besides the caller's (django's connection_created), and
    per thread the set-based batch statements run."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.backends: list[int] = []  # their server processes
        self.batches: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        if sql.lstrip().startswith("WITH claimed"):
            name = threading.current_thread().name
            with self._lock:
                self.batches[name] = self.batches.get(name, 0) + 1
        return execute(sql, params, many, context)

    def created(self, sender, connection, **kwargs) -> None:
        with self._lock:
            self.opened.append(threading.current_thread().name)
            self.backends.append(connection.connection.info.backend_pid)
        connection.execute_wrappers.append(self)

    def __enter__(self):
        connection_created.connect(self.created)
        self._own = connection.execute_wrapper(self)
        self._own.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._own.__exit__(*exc)
        connection_created.disconnect(self.created)


def _still_connected(backends: list[int]) -> int:
    """How many of these server processes are still connected (other tests' connections,
    e.g. a live server's, may stay open all session: only these are asked about)."""
    with connection.cursor() as cursor:
        cursor.execute("select count(*) from pg_stat_activity where pid = any(%s)", [backends])
        return cursor.fetchone()[0]


@shares_the_database
@pytest.mark.django_db(transaction=True)
def test_a_scan_with_several_batches_shares_them_with_a_second_connection(
    policy, new_card, mailoutbox
):
    cards = _make_due_cards(new_card, 45, T0)
    with _Connections() as seen:
        assert scan(T0 - M, batch_size=10, workers=2) == 0  # nothing due: one connection
    assert seen.opened == []

    with _Connections() as seen:
        assert scan(T0 + 3 * 60 * M, batch_size=10, workers=2) == 45

    # More than one batch was due, so one worker thread joined with a connection of its
    # own; both ran batches, and the worker closed its connection at the end.
    assert len(seen.opened) == 1 and seen.opened[0].startswith("scan")
    assert seen.batches[threading.main_thread().name] >= 1
    assert seen.batches[seen.opened[0]] >= 1
    assert sum(seen.batches.values()) >= 5  # 45 timers, at most 10 per batch
    assert len(seen.backends) == 1 and _still_connected(seen.backends) == 0
    _assert_every_threshold_once(cards, [Kind.BREACH])
    assert Notification.objects.filter(channel=Channel.EMAIL).count() == 45
    assert len(mailoutbox) == 45
    assert scan(T0 + 3 * 60 * M, batch_size=10, workers=2) == 0


@shares_the_database
@pytest.mark.django_db(transaction=True)
def test_a_scan_with_one_batch_due_keeps_to_its_own_connection(policy, new_card):
    cards = _make_due_cards(new_card, 10, T0)
    with _Connections() as seen:
        assert scan(T0 + 3 * 60 * M, batch_size=10, workers=2) == 10
    assert seen.opened == []
    assert seen.batches == {threading.main_thread().name: 2}  # the second finds nothing
    _assert_every_threshold_once(cards, [Kind.BREACH])


@shares_the_database
def test_a_scan_inside_a_transaction_keeps_to_its_own_connection(policy, new_card):
    # pytest-django runs this test in a transaction: another connection could not see its
    # cards, so the scan must not hand batches to one.
    cards = _make_due_cards(new_card, 25, T0)
    with _Connections() as seen:
        assert scan(T0 + 3 * 60 * M, batch_size=10, workers=2) == 25
    assert seen.opened == []
    assert seen.batches == {threading.main_thread().name: 3}
    _assert_every_threshold_once(cards, [Kind.BREACH])


def test_scan_uses_the_clock_when_called_without_now(policy, new_card):
    card = new_card(T0)
    with time_machine.travel(T0 + 61 * M, tick=False):
        assert jobs.scan_due_timers() == 1
        assert timezone.now() == T0 + 61 * M
    assert timer_of(card).breached_at == T0 + 60 * M
