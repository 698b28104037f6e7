"""Cards by email: what an incoming email does, decided per recipient.

`tasks.mail_server` (the SMTP/LMTP listener) hands over the envelope and the bytes; this
module reads them (`tasks.mail_parse`, pure), decides, acts through `tasks.actions` and
answers each recipient with an SMTP reply the relaying mail server turns into a clear bounce:

- a new email from an active user to the intake address makes a card (subject → title,
  text → description, attachments listed under it), of the request type named by the
  address (`cards+hiring@…` or `hiring@…`, a type's mail alias or its slugged name) or
  `MAIL_INTAKE_DEFAULT_TYPE`; its Message-ID is the card's external reference, so the same
  email delivered twice makes one card;
- a reply to an email about a card (its `In-Reply-To` / `References` name the card's thread,
  `mail_parse.card_thread_id`, or one of our notifications) adds the new text, without the
  quoted part, as a comment by the sender;
- unknown senders (550), senders not allowed to do that (550), replies to unknown cards
  (550) and mail above `MAIL_INTAKE_MAX_BYTES` (552) are refused; automatic mail
  (auto-replies, bulk, bounces) and our own emails coming back are accepted and dropped
  (250): bouncing those would start mail loops.

Every decision leaves an `InboundMail` row (admin: Tasks › Inbound mails) and a log line.
This module reads notifications (`sla.models.Notification`) to follow replies to alerts:
like the screens, it is a door above both `tasks` and `sla`; neither imports it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from sla.models import Notification
from sla.notify import idempotency_key, mail_host
from tasks import actions, permissions
from tasks.mail_parse import (
    InboundMessage,
    Recipient,
    cards_answered,
    human_size,
    notifications_answered,
    read,
    strip_quoted,
)
from tasks.models import InboundMail, Priority, RequestType, Task
from tasks.validators import TEXT_MAX_LENGTH, TITLE_MAX_LENGTH

EXTERNAL_REF_MAX_LENGTH = Task._meta.get_field("external_ref").max_length or 200

log = logging.getLogger("turnaround.mail_intake")

Outcome = InboundMail.Outcome
Reason = InboundMail.Reason
SOURCE = "email"


@dataclass(frozen=True)
class Answer:
    """An SMTP reply for one recipient: code and text (with its enhanced status code)."""

    code: int
    text: str

    @property
    def accepted(self) -> bool:
        return 200 <= self.code < 300

    def line(self) -> str:
        return f"{self.code} {self.text}"


def max_bytes() -> int:
    return int(getattr(settings, "MAIL_INTAKE_MAX_BYTES", 10 * 1024 * 1024))


def too_big_answer() -> Answer:
    limit = human_size(max_bytes())
    return Answer(
        552,
        f"5.3.4 Message too big for Turnaround: at most {limit} including attachments"
        " (send large files as a link)",
    )


# -- who and what ---------------------------------------------------------------------------


def _intake_domains() -> list[str]:
    return [d.lower() for d in getattr(settings, "MAIL_INTAKE_DOMAINS", [])]


def _mailbox() -> str:
    return str(getattr(settings, "MAIL_INTAKE_MAILBOX", "cards")).lower()


def _type_for(key: str, types: Sequence[RequestType]) -> RequestType | None:
    """The active type whose mail alias, slugged name or name is `key`."""
    key = key.strip().lower()
    if not key:
        return None
    for matches in (
        lambda t: (t.mail_alias or "").lower() == key,
        lambda t: slugify(t.name) == key,
        lambda t: t.name.lower() == key,
    ):
        if found := next((t for t in types if matches(t)), None):
            return found
    return None


def request_type_for(address: str, types: Sequence[RequestType]) -> tuple[bool, RequestType | None]:
    """Whether `address` is an intake address, and the request type it asks for:
    `cards+hiring@…` and `hiring@…` name a type (its mail alias or slugged name); the bare
    mailbox `cards@…` asks for MAIL_INTAKE_DEFAULT_TYPE (None when that names no type)."""
    recipient = Recipient.of(address)
    domains = _intake_domains()
    if domains and recipient.domain not in domains:
        return False, None
    if recipient.mailbox == _mailbox():
        if recipient.tag:
            found = _type_for(recipient.tag, types)
            return found is not None, found
        return True, _type_for(str(getattr(settings, "MAIL_INTAKE_DEFAULT_TYPE", "")), types)
    if recipient.tag:
        return False, None
    found = _type_for(recipient.mailbox, types)
    return found is not None, found


def _known(types: Sequence[RequestType]) -> str:
    return ", ".join(sorted(t.mail_alias or slugify(t.name) for t in types)) or "none yet"


def check_recipient(address: str, *, mail_from: str = "") -> Answer | None:
    """At RCPT time: None if `address` is an intake address, else the refusal (logged)."""
    types = list(RequestType.objects.filter(active=True))
    ours, _ = request_type_for(address, types)
    if ours:
        return None
    _record(
        recipient=address, sender=mail_from, outcome=Outcome.REFUSED, reason=Reason.UNKNOWN_MAILBOX
    )
    return Answer(
        550,
        f"5.1.1 <{address}>: no such Turnaround intake address"
        f" (write to {_mailbox()}+TYPE@, TYPE one of: {_known(types)})",
    )


def _sender(message: InboundMessage):
    """The active user with the sender's address, or the reason there is none."""
    if not message.sender:
        return None, "the message has no readable From address"
    users = list(
        get_user_model()
        .objects.filter(email__iexact=message.sender, is_active=True)
        .order_by("pk")[:2]
    )
    if len(users) != 1:
        why = "no active user" if not users else "more than one user"
        return None, f"{why} has the address {message.sender}"
    return users[0], ""


def _answered_card(message: InboundMessage) -> tuple[bool, int | None]:
    """Whether the message answers one of our emails, and the card it is about."""
    host = mail_host()
    cards = cards_answered(message.answers, host)
    if cards:
        return True, cards[0]
    keys = notifications_answered(message.answers, host)
    if not keys:
        return False, None
    by_pk = {int(key.split("-")[1]): key for key in keys}
    rows = Notification.objects.filter(pk__in=by_pk).select_related("event__timer", "card_event")
    for row in rows:
        if idempotency_key(row) == by_pk[row.pk]:
            if row.card_event is not None:
                return True, row.card_event.task_id
            if row.event is not None:
                return True, row.event.timer.task_id
    return True, None


# -- what it says ---------------------------------------------------------------------------


def _attachments_text(message: InboundMessage) -> str:
    if not message.attachments:
        return ""
    lines = "\n".join(a.line() for a in message.attachments)
    return f"\n\nAttachments (not stored; ask the sender for them):\n{lines}"


def _fit(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = "\n… (cut: the email was longer)"
    return text[: limit - len(cut)].rstrip() + cut


def _reference(message_id: str) -> str:
    """The card's external reference: the Message-ID, or its digest when it is longer than
    the column (a cut id could match another email's)."""
    if len(message_id) <= EXTERNAL_REF_MAX_LENGTH:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def _title(message: InboundMessage) -> str:
    title = message.subject.strip() or "(no subject)"
    return title if len(title) <= TITLE_MAX_LENGTH else title[: TITLE_MAX_LENGTH - 1] + "…"


# -- deciding -------------------------------------------------------------------------------


def receive(raw: bytes, *, mail_from: str, recipients: Sequence[str]) -> list[Answer]:
    """Decide and act on one email for each of its (already accepted) recipients; one
    answer per recipient, in order."""
    try:
        message = read(raw, envelope_sender=mail_from)
    except Exception as error:  # the stdlib parser's errors on broken mail have many classes
        for recipient in recipients:
            _record(
                recipient=recipient,
                sender=mail_from,
                outcome=Outcome.REFUSED,
                reason=Reason.INVALID,
                detail=f"unreadable: {error}",
                size=len(raw),
            )
        return [Answer(550, "5.6.0 Turnaround could not read this message")] * len(recipients)
    facts: dict[str, Any] = {
        "message_id": _reference(message.message_id),
        "sender": message.sender or mail_from,
        "subject": message.subject,
        "size": len(raw),
        "attachments": [
            {"name": a.name, "size": a.size, "type": a.content_type} for a in message.attachments
        ],
    }

    def every(answer: Answer, outcome: str, reason: str, detail: str = "", **extra) -> list:
        for recipient in recipients:
            _record(
                recipient=recipient, outcome=outcome, reason=reason, detail=detail, **facts, **extra
            )
        return [answer] * len(recipients)

    if len(raw) > max_bytes():
        return every(too_big_answer(), Outcome.REFUSED, Reason.TOO_BIG, f"{len(raw)} bytes")
    if message.loop:
        return every(
            Answer(250, "2.6.0 Own notification discarded"), Outcome.DISCARDED, Reason.LOOP
        )
    if message.automatic:
        return every(
            Answer(250, "2.6.0 Automatic mail discarded, no card made"),
            Outcome.DISCARDED,
            Reason.AUTOMATIC,
            message.automatic,
        )
    user, why = _sender(message)
    if user is None:
        return every(
            Answer(550, "5.7.1 Sender unknown to Turnaround: write from the address of your"
                   " Turnaround account"),
            Outcome.REFUSED,
            Reason.UNKNOWN_SENDER,
            why,
        )  # fmt: skip
    is_reply, card_pk = _answered_card(message)
    if is_reply:
        answer = _comment(message, user=user, card_pk=card_pk, facts=facts, recipients=recipients)
        return [answer] * len(recipients)
    types = list(RequestType.objects.filter(active=True))
    return [
        _card(message, user=user, recipient=recipient, types=types, facts=facts)
        for recipient in recipients
    ]


def _card(message, *, user, recipient: str, types, facts: dict) -> Answer:
    def record(outcome: str, reason: str = "", detail: str = "", task=None) -> None:
        _record(
            recipient=recipient, outcome=outcome, reason=reason, detail=detail, user=user,
            task=task, **facts,
        )  # fmt: skip

    if not permissions.can_create(user):
        record(Outcome.REFUSED, Reason.NOT_ALLOWED, f"{user} may not create cards")
        return Answer(550, "5.7.1 You may not create Turnaround cards")
    _, request_type = request_type_for(recipient, types)
    if request_type is None:
        record(Outcome.REFUSED, Reason.UNKNOWN_MAILBOX, "no request type for this address")
        return Answer(
            550,
            f"5.1.1 <{recipient}>: say which kind of request: write to {_mailbox()}+TYPE@,"
            f" TYPE one of: {_known(types)}",
        )
    description = _fit(message.text, TEXT_MAX_LENGTH - len(_attachments_text(message)))
    try:
        with transaction.atomic():
            task = actions.create_task(
                title=_title(message),
                request_type=request_type,
                priority=Priority.HIGH if message.urgent else Priority.NORMAL,
                actor=user,
                description=description + _attachments_text(message),
                source=SOURCE,
                external_ref=_reference(message.message_id),
            )
            record(Outcome.CARD, task=task, detail=f"card #{task.pk} ({request_type})")
    except actions.AlreadyTracked as tracked:
        record(Outcome.DUPLICATE, detail=f"already card #{tracked.task.pk}", task=tracked.task)
        return Answer(250, f"2.0.0 Already tracked as card #{tracked.task.pk}")
    except actions.WorkflowError as error:
        record(Outcome.REFUSED, Reason.INVALID, str(error))
        return Answer(550, f"5.6.0 No card made: {error}")
    return Answer(250, f"2.0.0 Card #{task.pk} created")


def _comment(
    message, *, user, card_pk: int | None, facts: dict, recipients: Sequence[str]
) -> Answer:
    """One decision for the reply, whatever number of intake addresses it went to (the
    others' rows say `duplicate` where the first says `comment`)."""

    def record(outcome: str, reason: str = "", detail: str = "", **extra) -> None:
        for n, recipient in enumerate(recipients):
            _record(
                recipient=recipient,
                outcome=Outcome.DUPLICATE if n and outcome == Outcome.COMMENT else outcome,
                reason=reason, detail=detail, user=user, **facts, **extra,
            )  # fmt: skip

    task = Task.objects.filter(pk=card_pk).first() if card_pk else None
    if task is None:
        record(Outcome.REFUSED, Reason.UNKNOWN_CARD, "the reply names no card we know")
        return Answer(550, "5.1.1 This reply is about a card Turnaround does not know")
    if not permissions.can_comment(user, task):
        record(Outcome.REFUSED, Reason.NOT_ALLOWED, f"{user} may not comment", task=task)
        return Answer(550, f"5.7.1 You may not comment on card #{task.pk}")
    done = InboundMail.objects.filter(message_id=facts["message_id"], outcome=Outcome.COMMENT)
    if (seen := done.first()) is not None:
        record(Outcome.DUPLICATE, detail="reply already added", task=task, comment=seen.comment)
        return Answer(250, f"2.0.0 Already added to card #{task.pk}")
    text = _fit(
        strip_quoted(message.text), TEXT_MAX_LENGTH - len(_attachments_text(message))
    ) + _attachments_text(message)
    try:
        with transaction.atomic():
            comment = actions.add_comment(task=task, text=text.strip(), actor=user)
            record(Outcome.COMMENT, task=task, comment=comment, detail=f"on card #{task.pk}")
    except IntegrityError:  # the same reply delivered twice at once: the other one added it
        record(Outcome.DUPLICATE, detail="reply already added", task=task)
        return Answer(250, f"2.0.0 Already added to card #{task.pk}")
    except actions.WorkflowError as error:
        record(Outcome.REFUSED, Reason.INVALID, str(error), task=task)
        return Answer(550, f"5.6.0 No comment added: {error}")
    return Answer(250, f"2.0.0 Comment added to card #{task.pk}")


def smtp_answer(answers: Sequence[Answer]) -> Answer:
    """SMTP has one reply after DATA for all recipients (LMTP has one each): the first
    acceptance if any recipient accepted (the refusals are in the log), else the first
    refusal."""
    return next((a for a in answers if a.accepted), answers[0])


def _record(*, recipient: str, outcome: str, reason: str = "", detail: str = "", **facts) -> None:
    row = InboundMail.objects.create(
        recipient=recipient[:254],
        outcome=outcome,
        reason=reason,
        detail=detail[:500],
        message_id=str(facts.pop("message_id", ""))[:255],
        sender=str(facts.pop("sender", ""))[:254],
        subject=str(facts.pop("subject", ""))[:300],
        **facts,
    )
    level = logging.INFO if outcome in (Outcome.CARD, Outcome.COMMENT) else logging.WARNING
    log.log(
        level,
        "mail %s from %s to %s: %s%s%s",
        row.message_id or "(no id)",
        row.sender or "?",
        recipient,
        outcome,
        f" ({reason})" if reason else "",
        f": {detail}" if detail else "",
    )


def refuse_too_big(*, sender: str, recipients: Sequence[str], size: int | None) -> Answer:
    """The listener refused a message above MAIL_INTAKE_MAX_BYTES (announced with SIZE= or
    counted while it arrived): logged once per recipient (or once if none yet)."""
    detail = f"{size} bytes announced" if size else f"more than {max_bytes()} bytes sent"
    for recipient in recipients or [""]:
        _record(
            recipient=recipient,
            sender=sender,
            outcome=Outcome.REFUSED,
            reason=Reason.TOO_BIG,
            detail=detail,
            size=size or 0,
        )
    return too_big_answer()
