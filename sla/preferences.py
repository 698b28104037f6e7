"""Notification preferences: what a person chose (which kinds reach her by email and Slack,
quiet hours, a daily digest), and the one place that applies them to the outbox.

Every delivery lane passes what it claims through `sort_out` before sending
(sla.delivery.Lane.claim), so the rule of `sla.notice_rules.decide` is applied wherever a
notice was written (the scan's two paths, card notices, breaches to watchers):

- a kind and channel she turned off: the row is skipped (`outbox.drop_muted`), never sent;
- breaches and escalations go out at once, whatever her quiet hours and digest;
- inside quiet hours the rest waits for their end (`outbox.hold_back`);
- with a daily digest, non-urgent emails wait for the digest hour and then go out as one
  email (sla.notify.digest_message).

In-app notices are recorded when they happen, whatever she chose: the bell and the
Notifications page keep everything. Webhook posts to a team's Slack channel are not one
person's, except a decision asked, which addresses the approver (`addressee_id`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time

from django.db import transaction

from sla import notice_words, outbox
from sla.models import Channel, NoticeKind, Notification, NotificationPreference
from sla.notice_rules import CHOOSABLE, Prefs, Verdict, decide
from tasks.models import Profile, TaskEvent
from tasks.profiles import zone_named, zone_of

# The preference channel each outbox channel answers to (others are not a person's).
CHANNEL_OF: dict[str, str] = {
    Channel.EMAIL: "email",
    Channel.SLACK: "slack",
    Channel.SLACK_APP: "slack",
}

DECISIONS = {TaskEvent.Kind.APPROVED.value, TaskEvent.Kind.REJECTED.value}


def kind_of(note: Notification) -> str:
    """The NoticeKind of a notification (reads its event or card event, select_related)."""
    if note.event is not None:
        return note.event.kind  # warning, breach, escalation: NoticeKind's first three
    if notice_words.asks(note):
        return NoticeKind.APPROVAL_ASKED
    assert note.card_event is not None  # a notification tells one of the two
    if note.card_event.kind in DECISIONS:
        return NoticeKind.DECISION
    return NoticeKind.STATUS_CHANGE


def addressee_id(note: Notification) -> int | None:
    """The id of the one person a notification addresses (notice_words.addressee)."""
    if note.recipient_id is not None:
        return note.recipient_id
    person = notice_words.addressee(note)
    return person.pk if person is not None else None


def _prefs(row: NotificationPreference, zone_name: str) -> Prefs:
    return Prefs(
        zone=zone_named(zone_name) or zone_of(None),
        muted=frozenset(row.muted),
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        digest_hour=row.digest_hour,
    )


def load(user_ids: Iterable[int]) -> dict[int, Prefs]:
    """The preferences of these people, with their zones (two queries; none for nobody).
    People without a row are absent: everything on."""
    ids = set(user_ids)
    if not ids:
        return {}
    rows = list(NotificationPreference.objects.filter(user_id__in=ids))
    if not rows:
        return {}
    zones = dict(
        Profile.objects.filter(user_id__in=[r.user_id for r in rows]).values_list(
            "user_id", "timezone"
        )
    )
    return {r.user_id: _prefs(r, zones.get(r.user_id, "")) for r in rows}


def sort_out(
    rows: list[Notification], *, now: datetime
) -> tuple[list[Notification], dict[int, list[Notification]]]:
    """Apply the addressees' preferences to claimed rows: rows turned off are skipped, rows
    held back (quiet hours, the digest's hour not come) are postponed, the rest returned —
    to send one by one, and, per person, the emails due in her digest now."""
    addressed = {note.pk: addressee_id(note) for note in rows if note.channel in CHANNEL_OF}
    prefs = load(pk for pk in addressed.values() if pk is not None)
    send: list[Notification] = []
    digests: dict[int, list[Notification]] = defaultdict(list)
    muted: list[int] = []
    held: dict[tuple[datetime, str], list[int]] = defaultdict(list)
    for note in rows:
        who = addressed.get(note.pk)
        if who is None or who not in prefs:
            send.append(note)
            continue
        decision = decide(
            kind=kind_of(note),
            channel=CHANNEL_OF[note.channel],
            prefs=prefs[who],
            now=now,
            written_at=note.created_at,
        )
        if decision.verdict is Verdict.SEND:
            send.append(note)
        elif decision.verdict is Verdict.DROP:
            muted.append(note.pk)
        elif decision.verdict is Verdict.DIGEST:
            digests[who].append(note)
        else:
            assert decision.until is not None
            why = "quiet hours" if decision.quiet else "daily digest"
            held[(decision.until, why)].append(note.pk)
    outbox.drop_muted(ids=muted)
    for (until, why), ids in held.items():
        outbox.hold_back(ids=ids, until=until, why=why)
    return send, dict(digests)


# ----------------------------------------------------------------------------- the page


def preferences_of(user) -> NotificationPreference:
    """Her saved preferences, or the defaults (unsaved) if she never chose."""
    found = NotificationPreference.objects.filter(user=user).first()
    return found or NotificationPreference(user=user)


@transaction.atomic
def save_preferences(
    *,
    user,
    muted: Iterable[tuple[str, str]],
    quiet_start: time | None,
    quiet_end: time | None,
    digest_hour: int | None,
) -> NotificationPreference:
    """Store a person's choices (the one writer). `muted` holds (kind, channel) pairs turned
    off; quiet hours need both ends, distinct (ValueError otherwise; the form says so)."""
    pairs = sorted(
        {f"{kind}:{channel}" for kind, channel in muted}
        & {f"{k}:{c}" for k in NoticeKind.values for c in CHOOSABLE}
    )
    if (quiet_start is None) != (quiet_end is None) or (
        quiet_start is not None and quiet_start == quiet_end
    ):
        raise ValueError("Quiet hours need a start and a different end.")
    if digest_hour is not None and not 0 <= digest_hour <= 23:
        raise ValueError("The digest hour is an hour of the day, 0 to 23.")
    row, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
    row.muted, row.quiet_start, row.quiet_end, row.digest_hour = (
        pairs,
        quiet_start,
        quiet_end,
        digest_hour,
    )
    row.save()
    return row
