"""Reading an incoming email (pure: no Django): what it says, who sent it, what it answers.

`read(raw)` turns the bytes a mail server handed over into an `InboundMessage`: the sender's
address, the subject, a plain-text body (the text part, else the HTML part converted to
text), the attachments (name, size, type; their bytes are not kept), whether it is an
automatic message, and the Message-IDs it answers (`In-Reply-To`, then `References`).
`tasks.mail_intake` decides what to do with it.

Card threads: every email about card N carries `References: <turnaround-card-N@host>`
(`card_thread_id`), so a reply names its card in `References` whatever the mail client keeps
of the chain; `cards_answered` reads those ids back.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr
from html.parser import HTMLParser

# Headers that say a message was written by a machine (RFC 3834 and common practice).
_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list"})
_AUTO_SENDERS = frozenset({"mailer-daemon", "postmaster"})
_AUTO_FLAGS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply")


@dataclass(frozen=True)
class Attachment:
    name: str
    size: int  # bytes, decoded
    content_type: str

    def line(self) -> str:
        return f"- {self.name} ({human_size(self.size)}, {self.content_type})"


@dataclass(frozen=True)
class InboundMessage:
    message_id: str  # as sent, without the angle brackets; a digest of the bytes if missing
    sender: str  # the From address, lower-cased ("" if none could be read)
    subject: str
    text: str  # the plain-text body (HTML-only mail converted to text)
    attachments: tuple[Attachment, ...] = ()
    answers: tuple[str, ...] = ()  # In-Reply-To then References, without brackets
    automatic: str = ""  # why it is an automatic message ("" for a person's mail)
    urgent: bool = False  # Importance: high / X-Priority 1-2
    loop: bool = False  # one of our own emails come back


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _ids(value: str | None) -> list[str]:
    """Message-IDs in a header, without their angle brackets, in order."""
    if not value:
        return []
    found = re.findall(r"<([^<>\s]+)>", str(value))
    return found or [part for part in str(value).split() if "@" in part]


def automatic_reason(message: Message, envelope_sender: str | None = None) -> str:
    """Why this message was sent by a machine, or "" when a person wrote it."""
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto}"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    for flag in _AUTO_FLAGS:
        if message.get(flag) is not None:
            return f"{flag} header"
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    if sender.split("@")[0] in _AUTO_SENDERS:
        return f"sent by {sender}"
    if envelope_sender is not None and envelope_sender.strip("<> ") == "":
        return "empty return path (a bounce)"
    return ""


class _TextOfHtml(HTMLParser):
    """Text of an HTML body: blocks become lines, list items dashes, links keep their
    address; scripts, styles and the head are dropped; entities are decoded."""

    _BLOCKS = frozenset(
        {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
         "pre", "table", "ul", "ol", "hr", "section", "article", "header", "footer"}
    )  # fmt: skip
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._BLOCKS and tag != "li":  # the next item starts its own line
            self.parts.append("\n")
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href and href.startswith(("http://", "https://", "mailto:")):
                self.parts.append(f" ({href.removeprefix('mailto:')})")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# Where a quoted earlier message starts in a reply: "On … wrote:", Outlook's separators.
_QUOTE_STARTS = (
    re.compile(r"^\s*On\b.*\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Am\b.*\bschrieb\b.*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),
)
_HEADER_BLOCK = re.compile(r"^\s*\*?(From|Von):\*?\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\*?(Sent|Date|To|Gesendet|An|Subject):\*?\s", re.IGNORECASE)


def _quote_starts(lines: list[str], index: int) -> bool:
    line = lines[index]
    if any(pattern.match(line) for pattern in _QUOTE_STARTS):
        return True
    following = lines[index + 1 : index + 3]
    # "On Mon, … <x@y>" wrapped before "wrote:" onto the next line.
    if re.match(r"^\s*On\b", line) and following and re.search(r"\bwrote:\s*$", following[0]):
        return True
    # Outlook's "From: … / Sent: … / To: …" block above the earlier message.
    return bool(_HEADER_BLOCK.match(line)) and any(_HEADER_NEXT.match(n) for n in following)


def strip_quoted(text: str) -> str:
    """The new text of a reply: what comes before the quoted earlier message (an
    "On … wrote:" line, Outlook's separator or From/Sent header block) and before the
    signature separator ("-- "), without lines quoted with `>`."""
    lines = text.splitlines()
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.rstrip() == "--" or _quote_starts(lines, index):
            break
        if not line.startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip()


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _attachment(part: Message) -> Attachment:
    payload = part.get_payload(decode=True)
    size = len(payload) if isinstance(payload, bytes) else 0
    name = part.get_filename() or "(unnamed)"
    return Attachment(name=one_line(name)[:200], size=size, content_type=part.get_content_type())


def one_line(text: str) -> str:
    return " ".join(re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", text).split())


def _body_and_attachments(message: Message) -> tuple[str, tuple[Attachment, ...]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        disposition = (part.get_content_disposition() or "").lower()
        kind = part.get_content_type()
        if disposition == "attachment" or (
            part.get_filename() and kind not in ("text/plain", "text/html")
        ):
            attachments.append(_attachment(part))
        elif kind == "text/plain":
            plain.append(_text(part))
        elif kind == "text/html":
            html.append(_text(part))
        elif part is not message and not kind.startswith("multipart/"):
            attachments.append(_attachment(part))  # an inline image, a calendar invite…
    text = "\n\n".join(plain) if plain else "\n\n".join(html_to_text(h) for h in html)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text, tuple(attachments)


def read(raw: bytes, *, envelope_sender: str | None = None) -> InboundMessage:
    """The message in `raw` (the bytes after DATA). The parser is lenient: what cannot be
    read is left empty for the caller to refuse."""
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    try:
        sender = parseaddr(str(message.get("From", "")))[1].strip().lower()
    except Exception:  # a header too broken to read: treated as no sender
        sender = ""
    ids = _ids(message.get("Message-ID"))
    message_id = ids[0] if ids else "sha256:" + hashlib.sha256(raw).hexdigest()
    answers = _ids(message.get("In-Reply-To")) + _ids(message.get("References"))
    text, attachments = _body_and_attachments(message)
    importance = str(message.get("Importance", "")).strip().lower()
    x_priority = str(message.get("X-Priority", "")).strip()[:1]
    return InboundMessage(
        message_id=message_id,
        sender=sender,
        subject=one_line(str(message.get("Subject", ""))),
        text=text,
        attachments=attachments,
        answers=tuple(dict.fromkeys(answers)),
        automatic=automatic_reason(message, envelope_sender),
        urgent=importance == "high" or x_priority in ("1", "2"),
        loop=message.get("X-Turnaround-Notification") is not None,
    )


@dataclass(frozen=True)
class Recipient:
    """An intake address split up: `cards+hiring@example.com` is mailbox "cards", tag
    "hiring", domain "example.com"."""

    mailbox: str
    tag: str
    domain: str

    @classmethod
    def of(cls, address: str) -> Recipient:
        address = parseaddr(address)[1] or address.strip("<> ")
        local, _, domain = address.rpartition("@")
        if not local:
            local, domain = domain, ""
        mailbox, _, tag = local.partition("+")
        return cls(mailbox=mailbox.lower(), tag=tag.lower(), domain=domain.lower())


def card_thread_id(card_pk: int, host: str) -> str:
    """The Message-ID (with brackets) that stands for card `card_pk`'s thread: every email
    about the card names it in References, so replies carry it back."""
    return f"<turnaround-card-{card_pk}@{host}>"


def cards_answered(answers: tuple[str, ...] | list[str], host: str) -> list[int]:
    """Cards whose thread ids appear among `answers` (ids without brackets), first first."""
    pattern = re.compile(rf"^turnaround-card-(\d+)@{re.escape(host)}$", re.IGNORECASE)
    cards = [int(m.group(1)) for a in answers if (m := pattern.match(a))]
    return list(dict.fromkeys(cards))


def notifications_answered(answers: tuple[str, ...] | list[str], host: str) -> list[str]:
    """Our notification Message-IDs (`turnaround-<row>-<digest>`) among `answers`: the keys."""
    pattern = re.compile(rf"^(turnaround-\d+-[0-9a-f]{{16}})@{re.escape(host)}$", re.IGNORECASE)
    return [m.group(1) for a in answers if (m := pattern.match(a))]


__all__ = [
    "Attachment",
    "InboundMessage",
    "Recipient",
    "automatic_reason",
    "card_thread_id",
    "cards_answered",
    "html_to_text",
    "notifications_answered",
    "read",
    "strip_quoted",
]
