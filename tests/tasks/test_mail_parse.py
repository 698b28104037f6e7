"""Reading an incoming email (tasks.mail_parse, pure): bodies, quotes, automatic mail,
addresses and card threads — table-driven, no database."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

import pytest

from tasks.mail_parse import (
    Recipient,
    card_thread_id,
    cards_answered,
    html_to_text,
    notifications_answered,
    read,
    strip_quoted,
)


def raw(body: str = "Hello", **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Paula <Paula@Example.com>")
    message["Subject"] = "Quote"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes(policy=policy.SMTP)


@pytest.mark.parametrize(
    ("reply", "new_text"),
    [
        ("Yes.\n\nOn Mon, 7 Dec 2026 at 09:12, Turnaround <t@x> wrote:\n> old", "Yes."),
        ("Yes.\nOn Mon, 7 Dec 2026 at 09:12, Turnaround <t@x>\nwrote:\n> old", "Yes."),
        ("Ja.\n\nAm 07.12.2026 um 09:12 schrieb Turnaround <t@x>:\n> alt", "Ja."),
        ("Fine\n\n-----Original Message-----\nFrom: Turnaround\nold", "Fine"),
        ("Fine\n________________________________\nFrom: Turnaround\nSent: Monday\nold", "Fine"),
        ("Fine\n\nFrom: Turnaround <t@x>\nSent: Monday\nTo: Maria\nold", "Fine"),
        ("From: the client, as agreed.\nDone.", "From: the client, as agreed.\nDone."),
        ("> quoted\nmy answer\n> more quoted\nand more", "my answer\nand more"),
        ("Done.\n-- \nPaula Performer\n+49 30 1234", "Done."),
        ("No quote at all", "No quote at all"),
    ],
)
def test_strip_quoted_keeps_only_the_new_text(reply, new_text):
    assert strip_quoted(reply) == new_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("a<br>b", "a\nb"),
        ("<b>bold</b> &amp; <i>it</i> &lt;x&gt;", "bold & it <x>"),
        ("<ul><li>x</li><li>y</li></ul>", "- x\n- y"),
        ("<p>Items:</p><ol><li>x</li></ol><p>End</p>", "Items:\n\n- x\n\nEnd"),
        ("<a href='https://e.x/1'>deal</a>", "deal (https://e.x/1)"),
        ("<a href='javascript:alert(1)'>x</a>", "x"),
        ("<head><title>T</title><style>p{}</style></head><script>s()</script>Body", "Body"),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("headers", "envelope", "automatic"),
    [
        ({}, "paula@example.com", ""),
        ({"Auto_Submitted": "no"}, None, ""),
        ({"Auto_Submitted": "auto-replied"}, None, "Auto-Submitted: auto-replied"),
        ({"Auto_Submitted": "auto-generated; owner-email=x@y"}, None, "Auto-Submitted"),
        ({"Precedence": "Bulk"}, None, "Precedence: bulk"),
        ({"Precedence": "list"}, None, "Precedence: list"),
        ({"X_Autoreply": "yes"}, None, "X-Autoreply header"),
        ({"From": "MAILER-DAEMON@mx.example.com"}, None, "sent by mailer-daemon@"),
        ({"From": "postmaster@mx.example.com"}, None, "sent by postmaster@"),
        ({}, "", "empty return path"),
        ({}, "<>", "empty return path"),
    ],
)
def test_automatic_mail_is_recognised(headers, envelope, automatic):
    found = read(raw(**headers), envelope_sender=envelope).automatic
    assert found.startswith(automatic) if automatic else found == ""


def test_read_takes_the_sender_id_and_the_answered_ids():
    message = read(
        raw(
            Message_ID="<abc@mail.example.com>",
            In_Reply_To="<turnaround-7-0123456789abcdef@t.example>",
            References="<x@y> <turnaround-card-12@t.example>",
            Importance="High",
        )
    )
    assert (message.sender, message.message_id, message.urgent) == (
        "paula@example.com", "abc@mail.example.com", True
    )  # fmt: skip
    assert message.answers == (
        "turnaround-7-0123456789abcdef@t.example", "x@y", "turnaround-card-12@t.example"
    )  # fmt: skip
    assert cards_answered(message.answers, "t.example") == [12]
    assert cards_answered(message.answers, "other.example") == []
    assert notifications_answered(message.answers, "t.example") == ["turnaround-7-0123456789abcdef"]


def test_a_mail_without_message_id_gets_a_stable_digest():
    once, again = read(raw("same")), read(raw("same"))
    assert once.message_id.startswith("sha256:") and once.message_id == again.message_id
    assert read(raw("other")).message_id != once.message_id


def test_card_thread_ids_round_trip():
    assert card_thread_id(42, "t.example") == "<turnaround-card-42@t.example>"
    assert cards_answered([card_thread_id(42, "t.example").strip("<>")], "t.example") == [42]


@pytest.mark.parametrize(
    ("address", "parts"),
    [
        ("cards@t.example", ("cards", "", "t.example")),
        ("Cards+Hiring@T.Example", ("cards", "hiring", "t.example")),
        ("<cards+sales-lead@t.example>", ("cards", "sales-lead", "t.example")),
        ("hiring@t.example", ("hiring", "", "t.example")),
        ("cards", ("cards", "", "")),
    ],
)
def test_recipient_addresses_split_into_mailbox_tag_and_domain(address, parts):
    recipient = Recipient.of(address)
    assert (recipient.mailbox, recipient.tag, recipient.domain) == parts
