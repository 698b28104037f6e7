"""Reading a file of past cards for `import_cards`: every row checked before anything is
written, every problem of the file reported with its line and column.

Columns: title, request_type, created_at (required); priority, owner (username), team,
client, first_response_at, resolved_at, ref (optional; `ref` is the card's id in the system
it came from). Other columns are ignored. Times are ISO 8601 ("2026-03-02 09:15"); without
an offset they are read in the given timezone. UTF-8 (with or without BOM), any line ending.

Each good row becomes a `CardRow` with its key (reports.models.ImportedCard): "ref:" + its
ref, else "row:" + the SHA-256 of its values (times as UTC instants, names as found), so a
row read again, from the same file or a re-export of it, is known.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from reports.models import ImportedCard
from tasks import actions
from tasks.models import Priority, RelatedObject, RequestType, Status, Task, Team
from tasks.validators import (
    TITLE_MAX_LENGTH,
    validate_no_nul,
    validate_sane_date,
    validate_single_line,
)

REQUIRED = ("title", "request_type", "created_at")
OPTIONAL = ("priority", "owner", "team", "client", "first_response_at", "resolved_at", "ref")
TIMES = ("created_at", "first_response_at", "resolved_at")
REF_MAX_LENGTH = 100


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


# The longest text each column may hold: the column of the model it is stored in or found by.
MAX_LENGTH = {
    "title": min(TITLE_MAX_LENGTH, _max_length(Task, "title")),
    "request_type": _max_length(RequestType, "name"),
    "priority": _max_length(Task, "priority"),
    "owner": _max_length(get_user_model(), "username"),
    "team": _max_length(Team, "name"),
    "client": _max_length(RelatedObject, "name"),
    "ref": REF_MAX_LENGTH,
    **dict.fromkeys(TIMES, 40),
}


class FileError(Exception):
    """The file as a whole cannot be imported (no header, columns missing)."""


@dataclass(frozen=True)
class Problem:
    line: int
    column: str  # "" when it concerns the whole row
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.message}"


@dataclass
class CardRow:
    """A checked row: what `tasks.actions.record_past_cards` needs, with its key."""

    line: int
    key: str
    digest: str
    spec: actions.PastCardSpec
    client: str  # the client's name, found or created when written ("" for none)


@dataclass
class CardFile:
    rows: list[CardRow] = field(default_factory=list)  # to write
    unchanged: int = 0  # rows imported before, with the same values
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    read: int = 0  # rows read (blank rows not counted)

    @property
    def bad_lines(self) -> list[int]:
        return sorted({p.line for p in self.problems})


Progress = Callable[[int], None]


def read_card_file(
    raw: BinaryIO,
    *,
    tz: ZoneInfo,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> CardFile:
    """Read and check every row of a CSV of past cards (bytes); writes nothing."""
    now = now or timezone.now()
    result = CardFile()
    undecodable: set[int] = set()
    records = _records(_lines(raw, result.problems, undecodable), result.problems)
    header_line, _, header = next(records, (0, 0, None))
    if header is None and header_line:
        raise FileError(f"{result.problems[-1]} (the header)")
    if header is None:
        raise FileError(
            "The file is empty: its first line must name the columns "
            f"({', '.join(REQUIRED)}, and any of {', '.join(OPTIONAL)})."
        )
    if header_line in undecodable:
        raise FileError(f"line {header_line}: the header is not UTF-8 text.")
    columns = [name.strip().lower() for name in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise FileError(f"line {header_line}: the header lacks the column(s) {', '.join(missing)}.")
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        raise FileError(f"line {header_line}: the header names {', '.join(repeated)} twice.")
    result.ignored_columns = [c for c in columns if c not in REQUIRED + OPTIONAL]

    raw_rows: list[tuple[int, dict[str, str]]] = []
    for line, last, values in records:
        if values is None:
            continue  # unreadable as CSV: reported by _records
        if not any(v.strip() for v in values):
            continue
        result.read += 1
        if undecodable.intersection(range(line, last + 1)):
            continue  # reported by _lines
        if len(values) != len(columns):
            result.problems.append(Problem(line, "", (
                f"{len(values)} field(s) where the header has {len(columns)} "
                "(a comma or a quote out of place?)."
            )))  # fmt: skip
            continue
        raw_rows.append((line, {c: v.strip() for c, v in zip(columns, values, strict=True)}))
    if not raw_rows and not result.problems:
        raise FileError("The file holds no cards: only a header.")

    lookups = _Lookups(raw_rows)
    seen: dict[str, int] = {}
    checked: list[CardRow] = []
    for done, (line, values) in enumerate(raw_rows, start=1):
        row = _check_row(line, values, lookups, tz, now, result.problems)
        if row is not None:
            if row.key in seen:
                first = seen[row.key]
                label = _key_label(row.key)
                result.problems.append(
                    Problem(line, "", f"the same card as line {first} ({label}).")
                )
            else:
                seen[row.key] = line
                checked.append(row)
        if progress is not None and done % 1000 == 0:
            progress(done)
    _drop_imported(checked, result)
    order = {name: n for n, name in enumerate(columns)}  # a row's problems in column order
    result.problems.sort(key=lambda p: (p.line, order.get(p.column, -1)))
    return result


def _key_label(key: str) -> str:
    if key.startswith("ref:"):
        return f"ref {key[4:]!r}"
    return "same values; if they are different cards, give each its id in a ref column"


def _lines(raw: BinaryIO, problems: list[Problem], undecodable: set[int]) -> Iterator[str]:
    """The file's lines as text, each decoded on its own so a bad byte is reported with its
    line (b"\\n" never occurs inside a UTF-8 character); a BOM at the start is dropped."""
    for number, chunk in enumerate(raw, start=1):
        if number == 1 and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8) :]
        try:
            yield chunk.decode("utf-8")
        except UnicodeDecodeError as error:
            undecodable.add(number)
            problems.append(Problem(number, "", (
                f"not UTF-8 text (byte 0x{chunk[error.start]:02x} at byte {error.start + 1}); "
                "save the file as CSV UTF-8."
            )))  # fmt: skip
            yield chunk.decode("utf-8", errors="replace")


def _records(
    lines: Iterable[str], problems: list[Problem]
) -> Iterator[tuple[int, int, list[str] | None]]:
    """(first line, last line, fields) of each CSV record (a quoted field may span lines);
    None for a record that cannot be read as CSV (reported; the reader goes on at the next
    line)."""
    reader = csv.reader(lines, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            problems.append(Problem(start, "", f"cannot be read as CSV: {error}."))
            yield start, reader.line_num, None
            continue
        yield start, reader.line_num, values


class _Lookups:
    """Request types, teams and owners named in the file, each read in one query."""

    def __init__(self, rows: list[tuple[int, dict[str, str]]]) -> None:
        self.request_types = {t.name.lower(): t for t in RequestType.objects.all()}
        self.teams = {t.name.lower(): t for t in Team.objects.all()}
        names = {v.get("owner", "") for _, v in rows} - {""}
        names = {n for n in names if "\x00" not in n and len(n) <= MAX_LENGTH["owner"]}
        users = get_user_model().objects.filter(username__in=names) if names else []
        self.users = {u.username: u for u in users}


def _text(line, values, column, problems) -> str | None:
    """The column's text if it fits its bounds (None: a problem was reported)."""
    text = values.get(column, "")
    try:
        validate_no_nul(text)
        validate_single_line(text)
    except ValidationError as error:
        problems.append(Problem(line, column, error.messages[0]))
        return None
    if len(text) > MAX_LENGTH[column]:
        problems.append(Problem(
            line, column, f"{len(text)} characters; at most {MAX_LENGTH[column]}."
        ))  # fmt: skip
        return None
    return text


def _time(line, values, column, tz, now, problems) -> tuple[bool, datetime | None]:
    """(ok, the aware time or None when empty)."""
    text = _text(line, values, column, problems)
    if text is None:
        return False, None
    if not text:
        return True, None
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        message = f"{text!r} is not a date and time like 2026-03-02 09:15."
        problems.append(Problem(line, column, message))
        return False, None
    try:
        validate_sane_date(value)  # before any timezone arithmetic: year 1 would underflow
    except ValidationError as error:
        problems.append(Problem(line, column, f"{text!r}: {error.messages[0]}"))
        return False, None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, tz)
    if value > now:
        problems.append(Problem(line, column, f"{text!r} lies in the future."))
        return False, None
    return True, value


def _priority(text: str) -> Priority | None:
    if not text:
        return Priority.NORMAL
    for priority in Priority:
        if text.lower() in (priority.value, priority.label.lower()):
            return priority
    return None


def _check_row(line, values, lookups: _Lookups, tz, now, problems) -> CardRow | None:
    before = len(problems)

    def problem(column: str, message: str) -> None:
        problems.append(Problem(line, column, message))

    texts = {c: _text(line, values, c, problems) for c in MAX_LENGTH if c not in TIMES}
    times = {c: _time(line, values, c, tz, now, problems) for c in TIMES}
    if texts["title"] == "":
        problem("title", "empty; every card needs a title.")
    request_type = None
    if texts["request_type"] == "":
        problem("request_type", "empty.")
    elif texts["request_type"] is not None:
        request_type = lookups.request_types.get(texts["request_type"].lower())
        if request_type is None:
            known = ", ".join(t.name for t in list(lookups.request_types.values())[:10])
            name = texts["request_type"]
            problem("request_type", f"unknown request type {name!r} (known: {known}).")
    priority = _priority(texts["priority"] or "") if texts["priority"] is not None else None
    if texts["priority"] is not None and priority is None:
        known = ", ".join(p.value for p in Priority)
        problem("priority", f"unknown priority {texts['priority']!r} (use {known}).")
    owner = None
    if texts["owner"]:
        owner = lookups.users.get(texts["owner"])
        if owner is None:
            problem("owner", f"unknown user {texts['owner']!r}.")
    team = None
    if texts["team"]:
        team = lookups.teams.get(texts["team"].lower())
        if team is None:
            problem("team", f"unknown team {texts['team']!r}.")
    (created_ok, created), (_, responded), (_, resolved) = (times[c] for c in TIMES)
    if created_ok and created is None:
        problem("created_at", "empty; every card needs its creation time.")
    if created is not None:
        for column, value in (("first_response_at", responded), ("resolved_at", resolved)):
            if value is not None and value < created:
                problem(column, "before created_at.")
    if responded and resolved and resolved < responded:
        problem("resolved_at", "before first_response_at.")
    if (responded or resolved) and owner is None and not values.get("owner"):
        problem("owner", "empty, but a card that was worked on needs an owner.")
    if len(problems) > before:
        return None

    assert request_type is not None and created is not None and priority is not None
    moves = []
    if responded:
        moves.append(actions.Move(Status.IN_PROGRESS, responded, owner))
    if resolved:
        moves.append(actions.Move(Status.DONE, resolved, owner))
    client = texts["client"] or ""
    spec = actions.PastCardSpec(
        title=texts["title"] or "",
        request_type=request_type,
        priority=priority,
        created_at=created,
        owner=owner,
        team=team,
        moves=tuple(moves),
    )
    try:
        actions.check_past_card(spec)  # the workflow's own rules, with this row's line
    except actions.WorkflowError as error:
        problem("", str(error))
        return None
    digest = _digest(spec, client)
    ref = texts["ref"] or ""
    return CardRow(line, f"ref:{ref}" if ref else f"row:{digest}", digest, spec, client)


def _digest(spec: actions.PastCardSpec, client: str) -> str:
    def instant(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value else None

    values = [
        spec.title,
        spec.request_type.name,
        str(spec.priority),
        instant(spec.created_at),
        spec.owner.get_username() if spec.owner else None,
        spec.team.name if spec.team else None,
        client,
        *(instant(m.at) for m in spec.moves),
    ]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


def _drop_imported(rows: list[CardRow], result: CardFile) -> None:
    """Leave out rows imported before (same key, same values); a ref imported before with
    other values is a problem (import never changes a card)."""
    known: dict[str, str] = {}
    keys = [row.key for row in rows]
    for start in range(0, len(keys), 5000):
        known.update(
            ImportedCard.objects.filter(key__in=keys[start : start + 5000]).values_list(
                "key", "digest"
            )
        )
    for row in rows:
        digest = known.get(row.key)
        if digest is None:
            result.rows.append(row)
        elif digest == row.digest:
            result.unchanged += 1
        else:
            result.problems.append(Problem(row.line, "ref", (
                f"{row.key[4:]!r} was imported before with other values; import never "
                "changes a card it wrote (change it in the app)."
            )))  # fmt: skip
