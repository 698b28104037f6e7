"""`import_cards` with bad input: each file is refused as a whole with a CommandError, the
problem is reported with its line (and column), and nothing at all is written, not even the
good rows before it (issue 12: a long title, a NUL, a year-1 date or a byte that is not UTF-8
used to end in a traceback or a half-imported file)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from reports.models import CardFacts, ImportedCard, StageInterval
from sla.models import SlaEvent, SlaPause, SlaTimer
from tasks.models import RelatedObject, Task, TaskEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HEADER = b"title,request_type,priority,created_at,owner,team,client,first_response_at,resolved_at\n"
GOOD = b"Good one,Support,,2026-11-16 09:00,paula,,ACME,2026-11-16 09:20,\n"  # line 2
REF_HEADER = HEADER.replace(b"\n", b",ref\n")


def rows(*lines: bytes, header: bytes = HEADER, good: bytes = GOOD) -> bytes:
    """A file: the header (line 1), a good row (line 2), then `lines` from line 3 on."""
    return header + good + b"".join(line + b"\n" for line in lines)


def row(title=b"X", rtype=b"Support", prio=b"", created=b"2026-11-16 09:00", owner=b"",
        team=b"", client=b"", responded=b"", resolved=b"") -> bytes:  # fmt: skip
    return b",".join([title, rtype, prio, created, owner, team, client, responded, resolved])


LONG = b"L" * 300
YEAR_1, YEAR_9999 = b"0001-01-01 00:00", b"9999-12-31 23:59"
RANGE = b"Enter a date between 2000-01-01 and 2099-12-31."
NUL = b"Text cannot contain NUL characters."
ONE_LINE = b"Use a single line of text"
MANY_GOOD = b"".join(b"Card %d,Support,,2026-11-16 09:00,,,,,\n" % n for n in range(100))

CASES = [
    # Lengths and characters of every text column.
    ("title-300", rows(row(title=LONG)), b"line 3, title: 300 characters; at most 200."),
    ("client-300", rows(row(client=LONG)), b"line 3, client: 300 characters; at most 200."),
    ("type-300", rows(row(rtype=LONG)), b"line 3, request_type: 300 characters; at most 100."),
    ("owner-300", rows(row(owner=LONG)), b"line 3, owner: 300 characters; at most 150."),
    ("team-300", rows(row(team=LONG)), b"line 3, team: 300 characters; at most 100."),
    (
        "ref-101",
        rows(row() + b"," + b"R" * 101, header=REF_HEADER, good=GOOD[:-1] + b",A\n"),
        b"line 3, ref: 101 characters; at most 100.",
    ),
    ("title-nul", rows(row(title=b"Print\x00er")), b"line 3, title: " + NUL),
    ("client-nul", rows(row(client=b"AC\x00ME")), b"line 3, client: " + NUL),
    ("owner-nul", rows(row(owner=b"pa\x00ula")), b"line 3, owner: " + NUL),
    ("type-nul", rows(row(rtype=b"Sup\x00port")), b"line 3, request_type: " + NUL),
    ("date-nul", rows(row(created=b"2026-11-16\x00 09:00")), b"line 3, created_at: " + NUL),
    ("title-newline", rows(row(title=b'"Two\nlines"')), b"line 3, title: " + ONE_LINE),
    ("title-escape", rows(row(title=b"Bell\x07")), b"line 3, title: " + ONE_LINE),
    # Dates: out of range (before any timezone arithmetic), malformed, missing, in the future.
    (
        "created-year-1",
        rows(row(created=YEAR_1)),
        b"line 3, created_at: '0001-01-01 00:00': " + RANGE,
    ),
    (
        "created-9999",
        rows(row(created=YEAR_9999)),
        b"line 3, created_at: '9999-12-31 23:59': " + RANGE,
    ),
    (
        "resolved-year-1-offset",
        rows(row(owner=b"paula", resolved=b"0001-01-01T00:00+14:00")),
        b"line 3, resolved_at: ",
    ),
    (
        "responded-9999",
        rows(row(owner=b"paula", responded=YEAR_9999)),
        b"line 3, first_response_at: ",
    ),
    (
        "feb-30",
        rows(row(created=b"2026-02-30 09:00")),
        b"line 3, created_at: '2026-02-30 09:00' is not a date and time like 2026-03-02 09:15.",
    ),
    ("words", rows(row(created=b"yesterday")), b"line 3, created_at: 'yesterday' is not a date"),
    ("created-empty", rows(row(created=b"")), b"line 3, created_at: empty"),
    (
        "future",
        rows(row(created=b"2099-01-01 09:00")),
        b"line 3, created_at: '2099-01-01 09:00' lies in the future.",
    ),
    (
        "responded-before-created",
        rows(row(owner=b"paula", responded=b"2026-11-15 09:00")),
        b"line 3, first_response_at: before created_at.",
    ),
    (
        "resolved-before-responded",
        rows(row(owner=b"paula", responded=b"2026-11-16 11:00", resolved=b"2026-11-16 10:00")),
        b"line 3, resolved_at: before first_response_at.",
    ),
    # Names that match nothing, values outside the enums.
    (
        "unknown-type",
        rows(row(rtype=b"Nope")),
        b"line 3, request_type: unknown request type 'Nope' (known: ",
    ),
    ("empty-type", rows(row(rtype=b"")), b"line 3, request_type: empty."),
    (
        "unknown-priority",
        rows(row(prio=b"urgent")),
        b"line 3, priority: unknown priority 'urgent' (use critical, high, normal, low).",
    ),
    ("unknown-owner", rows(row(owner=b"ghost")), b"line 3, owner: unknown user 'ghost'."),
    (
        "inactive-owner",
        rows(row(owner=b"ivan")),
        b"line 3: ivan is not an active user and cannot be the owner.",
    ),
    ("unknown-team", rows(row(team=b"Nowhere")), b"line 3, team: unknown team 'Nowhere'."),
    (
        "worked-without-owner",
        rows(row(resolved=b"2026-11-16 10:00")),
        b"line 3, owner: empty, but a card that was worked on needs an owner.",
    ),
    ("title-empty", rows(row(title=b"")), b"line 3, title: empty; every card needs a title."),
    ("title-blank", rows(row(title=b"   ")), b"line 3, title: empty"),
    # The file's shape.
    (
        "missing-column",
        b"title,request_type\nPrinter,Support\n",
        b"line 1: the header lacks the column(s) created_at.",
    ),
    (
        "repeated-column",
        HEADER.replace(b"\n", b",title\n") + GOOD.replace(b"\n", b",Again\n"),
        b"line 1: the header names title twice.",
    ),
    ("empty-file", b"", b"The file is empty: its first line must name the columns"),
    ("header-only", HEADER, b"The file holds no cards: only a header."),
    (
        "header-and-blank-lines",
        HEADER + b"\n,,,,,,,,\n\n",
        b"The file holds no cards: only a header.",
    ),
    ("too-many-fields", rows(row() + b",extra"), b"line 3: 10 field(s) where the header has 9"),
    (
        "too-few-fields",
        rows(b"X,Support,,2026-11-16 09:00"),
        b"line 3: 4 field(s) where the header has 9",
    ),
    (
        "stray-quote",
        rows(row(title=b'"Printer" jam')),
        b"line 3: cannot be read as CSV: ',' expected after '\"'.",
    ),
    (
        "unclosed-quote",
        rows(row(title=b'"Printer jam'), row(title=b"After")),
        b"line 3: cannot be read as CSV: unexpected end of data.",
    ),
    (
        "duplicate-rows",
        rows(GOOD[:-1]),
        b"line 3: the same card as line 2 (same values; if they are different cards, give each "
        b"its id in a ref column).",
    ),
    (
        "duplicate-refs",
        rows(row(title=b"Other") + b",T-1", header=REF_HEADER, good=GOOD[:-1] + b",T-1\n"),
        b"line 3: the same card as line 2 (ref 'T-1').",
    ),
    (
        "header-quoting",
        b'"title,request_type,created_at\n' + GOOD,
        b"line 1: cannot be read as CSV: unexpected end of data. (the header)",
    ),
    (
        "old-mac-line-endings",
        rows(row()).replace(b"\n", b"\r"),
        b"line 1: cannot be read as CSV: new-line character seen in unquoted field",
    ),
    # Encodings and line endings.
    (
        "latin-1-midway",
        HEADER + MANY_GOOD + row(title=b"Caf\xe9") + b"\n" + MANY_GOOD.replace(b"Card", b"More"),
        b"line 102: not UTF-8 text (byte 0xe9 at byte 4); save the file as CSV UTF-8.",
    ),
    (
        "not-utf8-header",
        b"t\xedtle,request_type,created_at\n" + GOOD,
        b"line 1: the header is not UTF-8 text.",
    ),
    (
        "utf-16",
        "\ufeff".encode("utf-16-le") + HEADER.decode().encode("utf-16-le"),
        b"line 1: the header is not UTF-8",
    ),
    (
        "bom-crlf",
        b"\xef\xbb\xbf" + rows(row(created=b"2026-13-01 09:00")).replace(b"\n", b"\r\n"),
        b"line 3, created_at: '2026-13-01 09:00' is not a date",
    ),
    (
        "multi-line-record-then-bad",
        rows(row(title=b'"Two\nlines"'), row(prio=b"urgent")),
        b"line 5, priority: unknown priority 'urgent'",
    ),
]


def _written() -> tuple[int, ...]:
    models = (Task, TaskEvent, SlaTimer, SlaEvent, SlaPause, RelatedObject, ImportedCard,
              CardFacts, StageInterval)  # fmt: skip
    return tuple(model.objects.count() for model in models)


@pytest.fixture
def world(policies, support, performer, team):
    UserFactory(username="ivan", is_active=False)
    RelatedObject.objects.create(kind=RelatedObject.Kind.CLIENT, name="Existing")


def _run(tmp_path, content: bytes, *args: str) -> tuple[str, str, CommandError | None]:
    path = tmp_path / "cards.csv"
    path.write_bytes(content)
    out, err = StringIO(), StringIO()
    try:
        call_command("import_cards", str(path), *args, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


@pytest.mark.parametrize(("content", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_file_is_refused_with_its_line_and_writes_nothing(tmp_path, world, content, message):
    before = _written()

    out, err, error = _run(tmp_path, content)

    assert isinstance(error, CommandError)
    reported = err + "\n" + str(error)
    assert message.decode() in reported
    assert "Traceback" not in reported and out == ""
    assert _written() == before


def test_every_problem_of_the_file_is_listed_before_anything_is_written(tmp_path, world):
    content = rows(
        row(title=b"A" * 201),  # line 3
        row(title=b"Fine"),  # line 4: good
        row(created=YEAR_1, owner=b"ghost", prio=b"urgent"),  # line 5: three problems
        row(title=b"Also fine", client=b"C\x00"),  # line 6
    )
    before = _written()

    _, err, error = _run(tmp_path, content)

    assert error is not None
    assert str(error).endswith(
        "3 row(s) of " + str(tmp_path / "cards.csv") + " have problems (listed above): nothing "
        "was imported. Fix them and run it again (rows already imported are kept as they are), "
        "or use --partial to import the other rows."
    )
    assert err.splitlines() == [
        "line 3, title: 201 characters; at most 200.",
        "line 5, priority: unknown priority 'urgent' (use critical, high, normal, low).",
        "line 5, created_at: '0001-01-01 00:00': " + RANGE.decode(),
        "line 5, owner: unknown user 'ghost'.",
        "line 6, client: " + NUL.decode(),
    ]
    assert _written() == before


def test_partial_skips_undecodable_lines_and_keeps_the_rest(tmp_path, world):
    content = HEADER + MANY_GOOD + row(title=b"Caf\xe9") + b"\n"

    out, err, error = _run(tmp_path, content, "--partial")

    assert error is None
    assert "line 102: not UTF-8 text" in err
    assert out.startswith("100 created, 0 unchanged (imported before), 1 skipped (line 102)")
    assert Task.objects.count() == 100


def test_partial_skips_a_record_with_an_undecodable_line_inside_its_quotes(tmp_path, world):
    notes = HEADER.replace(b"\n", b",notes\n")
    content = notes + b"".join([
        row(title=b"Fine") + b",\n",
        row(title=b"Odd") + b',"two lines,\nthe second \xe9"\n',  # lines 3 and 4
        row(title=b"Ok") + b",\n",
    ])  # fmt: skip

    _out, err, error = _run(tmp_path, content, "--partial")

    assert error is None, err
    assert "line 4: not UTF-8 text" in err
    assert sorted(Task.objects.values_list("title", flat=True)) == ["Fine", "Ok"]


def test_a_bom_and_windows_line_endings_are_read_as_plain_utf8(tmp_path, world):
    content = b"\xef\xbb\xbf" + rows(row(title=b"Caf\xc3\xa9 \xe2\x82\xac")).replace(b"\n", b"\r\n")

    out, err, error = _run(tmp_path, content)

    assert error is None, err
    assert out.startswith("2 created")
    assert Task.objects.filter(title="Café €").exists()


def test_extra_columns_are_named_and_ignored(tmp_path, world):
    content = HEADER.replace(b"\n", b",notes\n") + GOOD.replace(b"\n", b",whatever\n")

    out, err, error = _run(tmp_path, content)

    assert error is None
    assert err == "Ignored column(s): notes.\n"
    assert out.startswith("1 created")
