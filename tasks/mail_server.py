"""The mail intake's listener: SMTP or LMTP (aiosmtpd) in front of `tasks.mail_intake`.

Thin on purpose: the protocol is aiosmtpd's; each recipient is checked at RCPT
(`mail_intake.check_recipient`), each message decided after DATA (`mail_intake.receive`),
both on one worker thread (the ORM is synchronous), with the database connection closed
after each command as a request would. LMTP answers every recipient after DATA; SMTP
gives one answer for all (`mail_intake.smtp_answer`).

Size: aiosmtpd refuses a message above `data_size_limit` itself — at MAIL FROM when the
client announces `SIZE=`, else after the data — with a terse "552 Error: …"; `push` turns
that into our own 552 (one per recipient after DATA in LMTP, as the protocol wants) and
logs it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

from tasks import mail_intake

log = logging.getLogger("turnaround.mail_intake")

# aiosmtpd's own refusals of a message above data_size_limit (at MAIL FROM, after DATA).
_TOO_BIG_AT_MAIL = "552 Error: message size exceeds fixed maximum message size"
_TOO_BIG_AFTER_DATA = "552 Error: Too much mail data"


# Said when deciding failed (the database is down, a bug): a 4xx keeps the mail in the
# relaying server's queue, to be tried again, where aiosmtpd's own "500" would bounce it.
TRY_LATER = mail_intake.Answer(451, "4.3.0 Turnaround cannot take mail just now; try again later")


def _in_worker(function):
    """Run `function` on the one worker thread, with a fresh database connection."""

    def run(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return sync_to_async(run, thread_sensitive=True)


class IntakeHandler:
    """aiosmtpd handler: the hooks call the intake; answers are SMTP reply lines."""

    def __init__(self, *, lmtp: bool) -> None:
        self.lmtp = lmtp

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        try:
            refusal = await _in_worker(mail_intake.check_recipient)(
                address, mail_from=envelope.mail_from or ""
            )
        except Exception:
            log.exception("mail intake: checking the recipient %s failed", address)
            return TRY_LATER.line()
        if refusal is not None:
            return refusal.line()
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        recipients = list(envelope.rcpt_tos)
        try:
            answers = await _in_worker(mail_intake.receive)(
                raw, mail_from=envelope.mail_from or "", recipients=recipients
            )
        except Exception:
            log.exception("mail intake: deciding on a message from %s failed", envelope.mail_from)
            answers = [TRY_LATER] * len(recipients)
        if self.lmtp:
            return "\r\n".join(answer.line() for answer in answers)
        return mail_intake.smtp_answer(answers).line()


class _ClearRefusals:
    """Say why a message is refused for its size, and log it (see the module docstring)."""

    _mail_from_arg = ""

    async def smtp_MAIL(self, arg: str) -> None:
        self._mail_from_arg = arg or ""
        await super().smtp_MAIL(arg)  # type: ignore[misc]

    async def push(self, status: Any) -> None:
        if isinstance(status, str) and status in (_TOO_BIG_AT_MAIL, _TOO_BIG_AFTER_DATA):
            envelope = getattr(self, "envelope", None)
            at_mail = status == _TOO_BIG_AT_MAIL
            # At MAIL FROM the envelope is not filled in yet: read the command's argument.
            sender = re.search(r"<([^>]*)>", self._mail_from_arg)
            announced = re.search(r"SIZE=(\d+)", self._mail_from_arg, re.IGNORECASE)
            recipients = [] if at_mail or envelope is None else list(envelope.rcpt_tos)
            try:
                await _in_worker(mail_intake.refuse_too_big)(
                    sender=sender.group(1) if sender else "",
                    recipients=recipients,
                    size=int(announced.group(1)) if at_mail and announced else None,
                )
            except Exception:  # the refusal stands even if it cannot be logged to the database
                log.exception("mail intake: logging a too big message failed")
            count = len(recipients) if self.lmtp and recipients else 1
            status = "\r\n".join([mail_intake.too_big_answer().line()] * count)
        await super().push(status)  # type: ignore[misc]

    @property
    def lmtp(self) -> bool:
        return isinstance(self, LMTP)


class IntakeSMTP(_ClearRefusals, SMTP):
    pass


class IntakeLMTP(_ClearRefusals, LMTP):
    pass


class IntakeController(Controller):
    """aiosmtpd's threaded controller, serving SMTP or LMTP with the intake's handler."""

    def __init__(self, *, hostname: str, port: int, lmtp: bool = False) -> None:
        self.lmtp = lmtp
        super().__init__(
            IntakeHandler(lmtp=lmtp),
            hostname=hostname,
            port=port,
            data_size_limit=mail_intake.max_bytes(),
            ident="Turnaround mail intake",
        )

    def factory(self) -> SMTP:
        server_class = IntakeLMTP if self.lmtp else IntakeSMTP
        return server_class(self.handler, **self.SMTP_kwargs)
