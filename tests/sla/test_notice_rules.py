"""The rule of notification preferences (sla.notice_rules, pure): what is dropped, held,
gathered into the digest or sent, table-driven, and a property: whatever the preferences and
the instant, a breach or an escalation that is not turned off goes out at once, and a hold
always ends later, within a day."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sla.notice_rules import (
    DIGEST,
    DROP,
    SEND,
    Decision,
    Prefs,
    Verdict,
    decide,
    in_quiet_hours,
    last_digest_slot,
    next_digest_slot,
    quiet_hours_end,
)

BERLIN = ZoneInfo("Europe/Berlin")
NY = ZoneInfo("America/New_York")


def at(*args, zone=BERLIN) -> datetime:
    return datetime(*args, tzinfo=zone)


NIGHT = Prefs(zone=BERLIN, quiet_start=time(22), quiet_end=time(7))
DIGEST_AT_9 = Prefs(zone=BERLIN, digest_hour=9)
MUTED = Prefs(zone=BERLIN, muted=frozenset({"warning:email", "breach:slack"}))
MON_23 = at(2026, 11, 23, 23)  # inside the night's quiet hours
MON_10 = at(2026, 11, 23, 10)
QUIET_TILL_7 = Decision(Verdict.HOLD, at(2026, 11, 24, 7), quiet=True)


@pytest.mark.parametrize(
    ("kind", "channel", "prefs", "now", "written", "expected"),
    [
        # no preferences: everything goes
        ("warning", "email", None, MON_23, MON_23, SEND),
        # turned off: dropped, urgent or not
        ("warning", "email", MUTED, MON_10, MON_10, DROP),
        ("breach", "slack", MUTED, MON_10, MON_10, DROP),
        ("warning", "slack", MUTED, MON_10, MON_10, SEND),
        ("breach", "email", MUTED, MON_10, MON_10, SEND),
        # quiet hours hold all but breaches and escalations, until 07:00 her time
        ("warning", "email", NIGHT, MON_23, MON_23, QUIET_TILL_7),
        ("decision", "slack", NIGHT, MON_23, MON_23, QUIET_TILL_7),
        ("breach", "email", NIGHT, MON_23, MON_23, SEND),
        ("escalation", "slack", NIGHT, MON_23, MON_23, SEND),
        ("warning", "email", NIGHT, MON_10, MON_10, SEND),
        # the digest: emails only, held until 09:00, then gathered
        ("status_change", "email", DIGEST_AT_9, MON_10, MON_10,
         Decision(Verdict.HOLD, at(2026, 11, 24, 9))),
        ("status_change", "email", DIGEST_AT_9, at(2026, 11, 24, 9), MON_10, DIGEST),
        ("status_change", "email", DIGEST_AT_9, at(2026, 11, 24, 8, 59), MON_10,
         Decision(Verdict.HOLD, at(2026, 11, 24, 9))),
        ("status_change", "slack", DIGEST_AT_9, MON_10, MON_10, SEND),
        ("breach", "email", DIGEST_AT_9, MON_10, MON_10, SEND),
    ],
)  # fmt: skip
def test_decide(kind, channel, prefs, now, written, expected):
    assert decide(kind=kind, channel=channel, prefs=prefs, now=now, written_at=written) == expected


def test_quiet_hours_within_one_day_and_across_midnight():
    day = Prefs(zone=BERLIN, quiet_start=time(12), quiet_end=time(14))
    assert not in_quiet_hours(day, at(2026, 11, 23, 11, 59))
    assert in_quiet_hours(day, at(2026, 11, 23, 12))
    assert not in_quiet_hours(day, at(2026, 11, 23, 14))
    assert in_quiet_hours(NIGHT, at(2026, 11, 23, 6, 59))
    assert not in_quiet_hours(NIGHT, at(2026, 11, 23, 7))
    assert quiet_hours_end(NIGHT, at(2026, 11, 23, 6)) == at(2026, 11, 23, 7)


def test_quiet_hours_are_her_wall_clock_across_a_dst_change():
    # New York leaves DST in the night to Sunday 2026-11-01: a night's quiet hours that began
    # at 22:00 EDT end at 07:00 EST, 12:00 UTC (not 11:00, which is 06:00 that morning).
    ny_night = Prefs(zone=NY, quiet_start=time(22), quiet_end=time(7))
    saturday_night = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # Sat 23:00 EDT
    end = quiet_hours_end(ny_night, saturday_night)
    assert end.astimezone(NY).time() == time(7)
    assert end.astimezone(UTC) == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_digest_slots_follow_her_zone():
    prefs = Prefs(zone=NY, digest_hour=8)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 07:00 in New York
    assert last_digest_slot(prefs, now) == datetime(2026, 11, 22, 8, tzinfo=NY)
    assert next_digest_slot(prefs, now) == datetime(2026, 11, 23, 8, tzinfo=NY)


kinds = st.sampled_from(
    ["warning", "breach", "escalation", "approval_asked", "decision", "status_change"]
)
channels = st.sampled_from(["email", "slack"])
clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
zones = st.sampled_from([BERLIN, NY, ZoneInfo("Asia/Kolkata"), ZoneInfo("Australia/Lord_Howe")])
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@st.composite
def preferences(draw):
    quiet = draw(st.one_of(st.none(), st.tuples(clock, clock).filter(lambda q: q[0] != q[1])))
    return Prefs(
        zone=draw(zones),
        muted=frozenset(draw(st.sets(st.sampled_from(["warning:email", "breach:slack"])))),
        quiet_start=quiet[0] if quiet else None,
        quiet_end=quiet[1] if quiet else None,
        digest_hour=draw(st.one_of(st.none(), st.integers(0, 23))),
    )


@given(kind=kinds, channel=channels, prefs=preferences(), now=instants)
def test_urgent_notices_are_never_held_and_holds_end_within_a_day(kind, channel, prefs, now):
    decision = decide(kind=kind, channel=channel, prefs=prefs, now=now, written_at=now)
    if f"{kind}:{channel}" in prefs.muted:
        assert decision == DROP
    elif kind in ("breach", "escalation"):
        assert decision == SEND
    if decision.verdict is Verdict.HOLD:
        assert decision.until is not None
        assert now < decision.until <= now + timedelta(days=1, hours=2)
    if decision.verdict is Verdict.DIGEST:
        assert channel == "email"
