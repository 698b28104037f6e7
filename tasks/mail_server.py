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

import re
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections

from tasks import mail_intake

# aiosmtpd's own refusals of a message above data_size_limit (at MAIL FROM, after DATA).
_TOO_BIG_AT_MAIL = "552 Error: message size exceeds fixed maximum message size"
_TOO_BIG_AFTER_DATA = "552 Error: Too much mail data"


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
        refusal = await _in_worker(mail_intake.check_recipient)(address)
        if refusal is not None:
            return refusal.line()
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        answers = await _in_worker(mail_intake.receive)(
            raw, mail_from=envelope.mail_from or "", recipients=list(envelope.rcpt_tos)
        )
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
            recipients = list(envelope.rcpt_tos) if envelope is not None else []
            if status == _TOO_BIG_AT_MAIL:
                sender = re.search(r"<([^>]*)>", self._mail_from_arg)
                announced = re.search(r"SIZE=(\d+)", self._mail_from_arg, re.IGNORECASE)
                answer = await _in_worker(mail_intake.refuse_too_big)(
                    sender=sender.group(1) if sender else "",
                    recipients=[],
                    size=int(announced.group(1)) if announced else None,
                )
                status = answer.line()
            else:
                answer = await _in_worker(mail_intake.refuse_too_big)(
                    sender=envelope.mail_from or "" if envelope is not None else "",
                    recipients=recipients,
                    size=None,
                )
                count = len(recipients) if self.lmtp and recipients else 1
                status = "\r\n".join([answer.line()] * count)
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
