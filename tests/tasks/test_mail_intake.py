"""Cards by email over the real protocol: the intake listener (tasks.mail_server) runs on a
free local port and smtplib talks SMTP or LMTP to it; the cards, comments and the log of
received mail (InboundMail) are read back from PostgreSQL. Replies answer real card emails,
sent by the notification delivery job into Django's mail outbox."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse

from sla import jobs
from tasks import actions, mail_intake
from tasks.mail_parse import card_thread_id
from tasks.mail_server import IntakeController
from tasks.models import Comment, InboundMail, Status, Task, TaskEvent
from tests.factories import RequestTypeFactory, UserFactory, make_task
from tests.sla.conftest import shares_the_database
from tests.sla.test_cluster import _database_url

pytestmark = pytest.mark.django_db(transaction=True)
Outcome = InboundMail.Outcome
Reason = InboundMail.Reason
MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def intake_settings(settings, request_type):
    settings.SITE_URL = "https://turnaround.example"
    settings.MAIL_INTAKE_DOMAINS = ["turnaround.example"]
    settings.MAIL_INTAKE_DEFAULT_TYPE = request_type.name
    settings.MAIL_INTAKE_ADDRESS = "cards@turnaround.example"
    settings.MAIL_INTAKE_MAX_BYTES = 10 * MB
    return settings


def _serve(lmtp: bool) -> Iterator[tuple[str, int]]:
    controller = IntakeController(hostname="127.0.0.1", port=_free_port(), lmtp=lmtp)
    controller.start()
    try:
        yield "127.0.0.1", controller.port
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(intake_settings):
    yield from _serve(lmtp=False)


@pytest.fixture
def lmtp_server(intake_settings):
    yield from _serve(lmtp=True)


def email(
    *,
    sender: str,
    subject: str = "Quote for ACME, 40 seats",
    text: str | None = "ACME wants a quote by Friday.\nThey asked for 40 seats.",
    html: str | None = None,
    message_id: str = "<quote-1@mail.example.com>",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "cards@turnaround.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    return message


def wire(message: EmailMessage) -> bytes:
    """The message as it travels: CRLF line ends."""
    return message.as_bytes(policy=policy.SMTP)


def deliver(server, message: EmailMessage, *, to=("cards@turnaround.example",), lmtp=False,
            mail_from: str | None = None) -> list[tuple[int, str]]:  # fmt: skip
    """Talk to the listener step by step (MAIL, RCPT…, DATA); the replies to RCPT refusals
    and after DATA (one per accepted recipient in LMTP), as (code, text)."""
    client = (smtplib.LMTP if lmtp else smtplib.SMTP)(*server)
    try:
        client.ehlo("relay.example.com")
        code, text = client.mail(message["From"] if mail_from is None else mail_from)
        assert code == 250, text
        replies, accepted = [], 0
        for address in to:
            code, text = client.rcpt(address)
            if code == 250:
                accepted += 1
            else:
                replies.append((code, text.decode()))
        if not accepted:
            return replies
        code, text = client.data(wire(message))
        replies.append((code, text.decode()))
        for _ in range(accepted - 1 if lmtp else 0):
            code, text = client.getreply()
            replies.append((code, text.decode()))
        return replies
    finally:
        client.quit()


def logged(**filters) -> list[tuple[str, str]]:
    return list(
        InboundMail.objects.filter(**filters).order_by("pk").values_list("outcome", "reason")
    )


# --------------------------------------------------------------------------- new cards


def test_a_mail_from_a_user_makes_a_card_in_her_name(smtp_server, performer, request_type):
    [(code, text)] = deliver(smtp_server, email(sender="Paula <paula@example.com>"))

    card = Task.objects.get()
    assert (code, text) == (250, f"2.0.0 Card #{card.pk} created")
    assert card.title == "Quote for ACME, 40 seats"
    assert card.description == "ACME wants a quote by Friday.\nThey asked for 40 seats."
    assert card.request_type == request_type and card.status == Status.NEW
    assert (card.source, card.external_ref) == ("email", "quote-1@mail.example.com")
    created = TaskEvent.objects.get(task=card, kind=TaskEvent.Kind.CREATED)
    assert created.actor == performer
    row = InboundMail.objects.get()
    assert (row.outcome, row.task, row.user, row.sender) == (
        Outcome.CARD, card, performer, "paula@example.com"
    )  # fmt: skip


def test_the_same_mail_delivered_twice_makes_one_card(lmtp_server, performer):
    message = email(sender="paula@example.com")
    [(first, _)] = deliver(lmtp_server, message, lmtp=True)
    [(second, text)] = deliver(lmtp_server, message, lmtp=True)

    card = Task.objects.get()
    assert (first, second) == (250, 250)
    assert text == f"2.0.0 Already tracked as card #{card.pk}"
    assert logged() == [(Outcome.CARD, ""), (Outcome.DUPLICATE, "")]


def test_a_plus_type_address_picks_the_request_type(lmtp_server, performer, request_type, team):
    hiring = RequestTypeFactory(name="Candidate screening", default_team=team, mail_alias="hiring")
    review = RequestTypeFactory(name="Contract review", default_team=team)
    to = ["cards+hiring@turnaround.example", "contract-review@turnaround.example"]

    replies = deliver(lmtp_server, email(sender="paula@example.com"), to=to, lmtp=True)

    # One email, one card (its Message-ID is the reference): the first address decides.
    card = Task.objects.get()
    assert card.request_type == hiring
    assert replies == [
        (250, f"2.0.0 Card #{card.pk} created"),
        (250, f"2.0.0 Already tracked as card #{card.pk}"),
    ]
    other = email(sender="paula@example.com", message_id="<quote-2@mail.example.com>")
    deliver(lmtp_server, other, to=["contract-review@turnaround.example"], lmtp=True)
    assert Task.objects.get(external_ref="quote-2@mail.example.com").request_type == review


def test_an_address_naming_no_request_type_is_refused_at_rcpt(smtp_server, performer):
    RequestTypeFactory(name="Candidate screening", mail_alias="hiring")
    replies = deliver(
        smtp_server,
        email(sender="paula@example.com"),
        to=["cards+hirng@turnaround.example", "cards@elsewhere.example"],
    )

    assert [code for code, _ in replies] == [550, 550]
    assert "no such Turnaround intake address" in replies[0][1]
    assert "hiring" in replies[0][1] and "sales-lead" in replies[0][1]  # the known types
    assert not Task.objects.exists()
    assert logged() == [(Outcome.REFUSED, Reason.UNKNOWN_MAILBOX)] * 2


def test_the_bare_address_without_a_default_type_asks_for_one(
    intake_settings, smtp_server, performer
):
    intake_settings.MAIL_INTAKE_DEFAULT_TYPE = ""
    [(code, text)] = deliver(smtp_server, email(sender="paula@example.com"))

    assert code == 550 and "say which kind of request: write to cards+TYPE@" in text
    assert not Task.objects.exists()


def test_an_html_only_mail_becomes_plain_text(smtp_server, performer):
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>Hello team,</p><p>ACME needs <b>40 seats</b> &amp; a <a href='https://crm.example/"
        "deal/7'>deal</a> by Friday.</p><ul><li>Discount</li><li>Training</li></ul>"
        "<script>alert(1)</script></body></html>"
    )
    deliver(smtp_server, email(sender="paula@example.com", text=None, html=html))

    description = Task.objects.get().description
    assert "Hello team," in description
    assert "ACME needs 40 seats & a deal (https://crm.example/deal/7) by Friday." in description
    assert "- Discount" in description and "- Training" in description
    assert "<" not in description and "color" not in description and "alert" not in description


def test_the_plain_part_wins_over_the_html_part(smtp_server, performer):
    deliver(smtp_server, email(sender="paula@example.com", text="Plain words.", html="<p>H</p>"))
    assert Task.objects.get().description == "Plain words."


def test_attachments_are_listed_on_the_card(smtp_server, performer):
    message = email(sender="paula@example.com")
    message.add_attachment(b"%PDF-1.4 " + b"x" * 3000, maintype="application", subtype="pdf",
                           filename="quote.pdf")  # fmt: skip
    message.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="seats.csv")

    [(code, text)] = deliver(smtp_server, message)

    assert code == 250, text
    description = Task.objects.get().description
    assert description.startswith("ACME wants a quote by Friday.")
    assert "- quote.pdf (3 KB, application/pdf)" in description
    assert "- seats.csv (8 B, text/csv)" in description
    assert InboundMail.objects.get().attachments == [
        {"name": "quote.pdf", "size": 3009, "type": "application/pdf"},
        {"name": "seats.csv", "size": 8, "type": "text/csv"},
    ]


def test_an_urgent_mail_makes_a_high_priority_card(smtp_server, performer):
    deliver(smtp_server, email(sender="paula@example.com", Importance="high"))
    assert Task.objects.get().priority == "high"


def test_encoded_subjects_and_other_charsets_are_read(smtp_server, performer):
    raw = (
        b"From: =?utf-8?q?Paula_P=C3=A9rformer?= <paula@example.com>\r\n"
        b"To: cards@turnaround.example\r\n"
        b"Subject: =?utf-8?b?QW5nZWJvdCBmw7xyIE3DvGxsZXIgR21iSA==?=\r\n"
        b"Message-ID: <latin@mail.example.com>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        b"Gr\xfc\xdfe, bitte bis Freitag.\r\n"
    )
    client = smtplib.SMTP(*smtp_server)
    try:
        client.sendmail("paula@example.com", ["cards@turnaround.example"], raw)
    finally:
        client.quit()

    card = Task.objects.get()
    assert (card.title, card.description) == (
        "Angebot für Müller GmbH",
        "Grüße, bitte bis Freitag.",
    )


@pytest.mark.django_db  # no listener thread: the test's own transaction
def test_bytes_that_are_no_email_make_nothing(intake_settings, performer):
    [answer] = mail_intake.receive(
        b"\x00\xff garbage", mail_from="paula@example.com", recipients=["cards@turnaround.example"]
    )
    assert answer.code == 550
    assert not Task.objects.exists()
    assert logged() == [(Outcome.REFUSED, Reason.UNKNOWN_SENDER)]


# --------------------------------------------------------------------------- refused


def test_an_unknown_sender_is_refused_with_550_and_logged(lmtp_server, performer):
    replies = deliver(
        lmtp_server,
        email(sender="stranger@example.org"),
        to=["cards@turnaround.example", "cards+sales-lead@turnaround.example"],
        lmtp=True,
    )

    assert [code for code, _ in replies] == [550, 550]
    assert "Sender unknown to Turnaround" in replies[0][1]
    assert not Task.objects.exists()
    rows = InboundMail.objects.order_by("pk")
    assert [(r.outcome, r.reason, r.sender) for r in rows] == [
        (Outcome.REFUSED, Reason.UNKNOWN_SENDER, "stranger@example.org")
    ] * 2
    assert "no active user has the address stranger@example.org" in rows[0].detail


def test_an_inactive_user_is_an_unknown_sender(smtp_server, performer):
    performer.is_active = False
    performer.save()
    [(code, _)] = deliver(smtp_server, email(sender="paula@example.com"))
    assert code == 550 and not Task.objects.exists()


def test_a_user_who_may_not_create_cards_is_refused(smtp_server, roles):
    UserFactory(username="nobody")  # no role: may not create cards
    [(code, text)] = deliver(smtp_server, email(sender="nobody@example.com"))
    assert (code, text) == (550, "5.7.1 You may not create Turnaround cards")
    assert logged() == [(Outcome.REFUSED, Reason.NOT_ALLOWED)]


@pytest.mark.parametrize(
    ("headers", "sender", "mail_from"),
    [
        ({"Auto_Submitted": "auto-replied"}, "paula@example.com", None),
        ({"Precedence": "bulk"}, "paula@example.com", None),
        ({"Precedence": "junk"}, "paula@example.com", None),
        ({"X_Autoreply": "yes"}, "paula@example.com", None),
        ({}, "MAILER-DAEMON@example.com", None),
        ({}, "paula@example.com", ""),  # MAIL FROM:<>, a bounce
    ],
)
def test_automatic_mail_makes_nothing_and_is_logged(
    lmtp_server, performer, headers, sender, mail_from
):
    message = email(sender=sender, subject="Out of office: Quote for ACME", **headers)
    [(code, text)] = deliver(lmtp_server, message, lmtp=True, mail_from=mail_from)

    # Accepted and dropped: a bounce to an autoresponder would start a mail loop.
    assert (code, text) == (250, "2.6.0 Automatic mail discarded, no card made")
    assert not Task.objects.exists()
    assert logged() == [(Outcome.DISCARDED, Reason.AUTOMATIC)]


def test_auto_submitted_no_is_a_person(smtp_server, performer):
    deliver(smtp_server, email(sender="paula@example.com", Auto_Submitted="no"))
    assert Task.objects.count() == 1


def _twenty_mb(sender: str) -> EmailMessage:
    message = email(sender=sender)
    message.add_attachment(b"\0" * (20 * MB), maintype="application", subtype="zip",
                           filename="photos.zip")  # fmt: skip
    return message


def test_a_20_mb_attachment_is_refused_with_552_when_announced(smtp_server, performer):
    """smtplib announces the size (MAIL FROM … SIZE=): refused before the data is sent."""
    client = smtplib.SMTP(*smtp_server)
    try:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("paula@example.com", ["cards@turnaround.example"],
                            wire(_twenty_mb("paula@example.com")))  # fmt: skip
    finally:
        client.quit()

    assert refused.value.smtp_code == 552
    assert refused.value.smtp_error.decode() == (
        "5.3.4 Message too big for Turnaround: at most 10.0 MB including attachments"
        " (send large files as a link)"
    )
    assert not Task.objects.exists()
    row = InboundMail.objects.get()
    assert (row.outcome, row.reason, row.sender) == (
        Outcome.REFUSED, Reason.TOO_BIG, "paula@example.com"
    )  # fmt: skip
    assert row.size > 20 * MB and "announced" in row.detail


def test_a_20_mb_attachment_is_refused_with_552_per_recipient_after_the_data(
    lmtp_server, performer
):
    """A relay that does not announce the size: the data is read and dropped, and LMTP
    answers each recipient."""
    to = ["cards@turnaround.example", "cards+sales-lead@turnaround.example"]
    replies = deliver(lmtp_server, _twenty_mb("paula@example.com"), to=to, lmtp=True)

    assert [code for code, _ in replies] == [552, 552]
    assert replies[0][1].startswith("5.3.4 Message too big for Turnaround: at most 10.0 MB")
    assert not Task.objects.exists()
    assert logged() == [(Outcome.REFUSED, Reason.TOO_BIG)] * 2
    assert set(InboundMail.objects.values_list("recipient", flat=True)) == set(to)


def test_the_size_cap_is_a_setting(intake_settings, performer):
    intake_settings.MAIL_INTAKE_MAX_BYTES = 2000
    for server in _serve(lmtp=True):
        message = email(sender="paula@example.com", text="x" * 3000)
        [(code, _)] = deliver(server, message, lmtp=True)
        small = email(sender="paula@example.com", text="short", message_id="<s@x>")
        [(small_code, _)] = deliver(server, small, lmtp=True)
    assert (code, small_code) == (552, 250)
    assert Task.objects.get().description == "short"


# --------------------------------------------------------------------------- replies


@pytest.fixture
def card_email(intake_settings, dispatcher, performer, manager, request_type):
    """A card sent for approval; the approver (Maria) got the notification email."""
    card = make_task(
        actor=dispatcher, owner=performer, request_type=request_type, title="Discount for ACME"
    )
    other = make_task(actor=dispatcher, owner=performer, request_type=request_type, title="Other")
    actions.change_status(task=card, to=Status.IN_PROGRESS, actor=performer)
    actions.change_status(task=card, to=Status.ON_APPROVAL, actor=performer, approver=manager)
    jobs.send_pending_notifications()  # (already run when the change committed: Q_SYNC)
    [sent] = [m for m in mail.outbox if m.to == ["maria@example.com"]]
    return card, other, sent


def test_card_emails_name_the_cards_thread_and_reply_to_the_intake(card_email):
    card, _, sent = card_email
    headers = sent.message()
    assert headers["References"] == f"<turnaround-card-{card.pk}@turnaround.example>"
    assert headers["Reply-To"] == "cards@turnaround.example"
    assert headers["Message-ID"].startswith("<turnaround-")
    assert "Reply to this email to add a comment to the card." in sent.body
    assert "<p>Reply to this email to add a comment to the card.</p>" in sent.alternatives[0][0]


def _reply(sent, *, sender: str, text: str, references: bool = True) -> EmailMessage:
    """What a mail client sends when Maria answers `sent` (headers unfolded)."""
    original = {k: " ".join(str(v).split()) for k, v in sent.message().items()}
    headers = {"In_Reply_To": original["Message-ID"]}
    if references:
        headers["References"] = f"{original['References']} {original['Message-ID']}"
    return email(
        sender=sender,
        subject=f"Re: {original['Subject']}",
        text=text,
        message_id="<reply-1@mail.example.com>",
        **headers,
    )


QUOTED = (
    "Approved up to 15%, not more.\n\n"
    "On Sun, 6 Dec 2026 at 10:00, Turnaround <turnaround@localhost> wrote:\n"
    "> Decision needed: #1 Discount for ACME\n> Open to decide\n"
)


def test_a_reply_to_a_card_email_becomes_a_comment_on_that_card(lmtp_server, card_email, manager):
    card, other, sent = card_email
    reply = _reply(sent, sender="Maria <maria@example.com>", text=QUOTED)

    [(code, text)] = deliver(lmtp_server, reply, to=["cards@turnaround.example"], lmtp=True)

    assert (code, text) == (250, f"2.0.0 Comment added to card #{card.pk}")
    comment = Comment.objects.get()
    assert (comment.task, comment.author) == (card, manager)
    assert comment.text == "Approved up to 15%, not more."
    assert not other.comments.exists()
    assert Task.objects.count() == 2  # no card made from the reply
    assert logged() == [(Outcome.COMMENT, "")]


def test_a_reply_that_keeps_only_in_reply_to_finds_its_card(smtp_server, card_email):
    card, _, sent = card_email
    reply = _reply(sent, sender="maria@example.com", text="Yes.", references=False)

    [(code, _)] = deliver(smtp_server, reply)

    assert code == 250
    assert Comment.objects.get().task == card


def test_a_reply_to_two_intake_addresses_is_one_comment(lmtp_server, card_email):
    card, _, sent = card_email
    reply = _reply(sent, sender="maria@example.com", text="Yes.")
    to = ["cards@turnaround.example", "cards+sales-lead@turnaround.example"]

    replies = deliver(lmtp_server, reply, to=to, lmtp=True)

    assert replies == [(250, f"2.0.0 Comment added to card #{card.pk}")] * 2
    assert Comment.objects.count() == 1
    assert logged() == [(Outcome.COMMENT, ""), (Outcome.DUPLICATE, "")]


def test_a_reply_with_nothing_new_is_refused(smtp_server, card_email):
    _, _, sent = card_email
    reply = _reply(sent, sender="maria@example.com", text="\n> only the quote\n")
    [(code, text)] = deliver(smtp_server, reply)
    assert (code, text) == (550, "5.6.0 No comment added: A comment cannot be empty.")
    assert not Comment.objects.exists()


def test_a_reply_delivered_twice_is_one_comment(smtp_server, card_email):
    card, _, sent = card_email
    reply = _reply(sent, sender="maria@example.com", text="Yes.")
    deliver(smtp_server, reply)
    [(code, text)] = deliver(smtp_server, reply)
    assert (code, text) == (250, f"2.0.0 Already added to card #{card.pk}")
    assert Comment.objects.count() == 1


def test_a_reply_by_someone_who_may_not_comment_is_refused(smtp_server, card_email, observer):
    _, _, sent = card_email
    reply = _reply(sent, sender="olga@example.com", text="Me too")
    [(code, text)] = deliver(smtp_server, reply)
    assert code == 550 and "may not comment" in text
    assert not Comment.objects.exists()


def test_a_reply_about_an_unknown_card_is_refused(smtp_server, performer):
    reply = email(
        sender="paula@example.com",
        subject="Re: gone",
        In_Reply_To="<turnaround-card-999999@turnaround.example>",
    )
    [(code, text)] = deliver(smtp_server, reply)
    assert (code, text) == (550, "5.1.1 This reply is about a card Turnaround does not know")
    assert not Task.objects.exists()
    assert logged() == [(Outcome.REFUSED, Reason.UNKNOWN_CARD)]


def test_our_own_notification_coming_back_is_dropped(smtp_server, card_email):
    looped = email(sender="maria@example.com", X_Turnaround_Notification="turnaround-1-abc")
    [(code, _)] = deliver(smtp_server, looped)
    assert code == 250
    assert Task.objects.count() == 2 and not Comment.objects.exists()
    assert logged() == [(Outcome.DISCARDED, Reason.LOOP)]


# --------------------------------------------------------------------------- cost


@pytest.mark.django_db  # no listener thread: the test's own transaction
def test_deciding_on_a_mail_takes_a_bounded_number_of_queries(
    intake_settings, performer, request_type, team, django_assert_max_num_queries
):
    """The listener's worker thread runs exactly this (`mail_intake.receive`); here it runs
    on the test's connection, so its queries are counted: a new card 15 (5 request types, 8
    attachments: neither adds queries; the active policies and webhook endpoints read once,
    as the first change of a process does), the same mail again 11, a reply 16."""
    for n in range(5):
        RequestTypeFactory(name=f"Type {n}", default_team=team)
    message = email(sender="paula@example.com")
    for n in range(8):
        message.add_attachment(b"x" * 100, maintype="image", subtype="png", filename=f"{n}.png")
    to = ["cards@turnaround.example"]
    with django_assert_max_num_queries(15) as new_card:
        mail_intake.receive(wire(message), mail_from="paula@example.com", recipients=to)
    with django_assert_max_num_queries(12):
        mail_intake.receive(wire(message), mail_from="paula@example.com", recipients=to)
    card = Task.objects.get()
    assert len(new_card.captured_queries) >= 10  # counted for real

    reply = email(
        sender="paula@example.com",
        subject="Re: Quote",
        text=QUOTED,
        message_id="<reply-9@mail.example.com>",
        References=card_thread_id(card.pk, "turnaround.example"),
    )
    with django_assert_max_num_queries(18):
        mail_intake.receive(wire(reply), mail_from="paula@example.com", recipients=to)
    assert card.comments.get().text == "Approved up to 15%, not more."


@pytest.mark.django_db  # no listener thread: the test's own transaction
def test_the_log_of_received_mail_is_a_read_only_admin_list(
    intake_settings, performer, admin_client, django_assert_max_num_queries
):
    for n in range(30):
        message = email(sender="paula@example.com", message_id=f"<m{n}@mail.example.com>")
        mail_intake.receive(wire(message), mail_from="", recipients=["cards@turnaround.example"])
    mail_intake.receive(
        wire(email(sender="paula@example.com", message_id="<m99@x>")),
        mail_from="paula@example.com",
        recipients=["cards@turnaround.example"],
    )
    with django_assert_max_num_queries(14):
        response = admin_client.get(reverse("admin:tasks_inboundmail_changelist"))
    page = response.content.decode()
    assert len(response.context["cl"].result_list) == 31
    assert page.count("Discarded (automatic mail)") >= 30 and "Card created" in page
    assert admin_client.get(reverse("admin:tasks_inboundmail_add")).status_code == 403


# --------------------------------------------------------------------------- the command


@pytest.mark.django_db  # no listener thread: the test's own transaction
def test_the_command_refuses_a_bad_listen_address():
    with pytest.raises(CommandError, match="--listen wants HOST:PORT"):
        call_command("mail_intake", "--listen", "localhost")


@shares_the_database
def test_the_command_serves_lmtp_until_sigterm(performer, request_type, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "MAIL_INTAKE_DEFAULT_TYPE": request_type.name,
    }
    log = tmp_path / "mail_intake.log"
    with log.open("w") as out:
        intake = subprocess.Popen(
            [sys.executable, "manage.py", "mail_intake", "--listen", f"127.0.0.1:{port}", "--lmtp"],
            cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert intake.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        [(code, _)] = deliver(("127.0.0.1", port), email(sender="paula@example.com"), lmtp=True)
    finally:
        intake.send_signal(signal.SIGTERM)
        returncode = intake.wait(timeout=20)
    assert code == 250 and Task.objects.get().request_type == request_type
    assert returncode == 0, log.read_text()
    assert f"Mail intake (LMTP) on 127.0.0.1:{port}" in log.read_text()


@pytest.mark.django_db  # no listener thread: the test's own transaction
def test_a_message_id_longer_than_the_reference_column_is_kept_as_its_digest(
    intake_settings, performer
):
    long_id = f"<{'x' * 300}@mail.example.com>"
    message = wire(email(sender="paula@example.com", message_id=long_id))
    to = ["cards@turnaround.example"]
    first = mail_intake.receive(message, mail_from="paula@example.com", recipients=to)
    again = mail_intake.receive(message, mail_from="paula@example.com", recipients=to)

    card = Task.objects.get()
    assert card.external_ref.startswith("sha256:") and len(card.external_ref) == 71
    assert [a.code for a in first + again] == [250, 250]
    assert again[0].text == f"2.0.0 Already tracked as card #{card.pk}"
