"""`manage.py import_cards FILE.csv`: load past cards with their real timestamps."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db import DataError, IntegrityError

from reports import card_file, importer, jobs
from tasks.actions import WorkflowError


class Command(BaseCommand):
    help = (
        "Import past cards from a CSV (title, request_type, created_at; optional priority, "
        "owner, team, client, first_response_at, resolved_at, ref), replaying their history. "
        "Every row is checked first and every problem listed by line; then the whole file is "
        "imported, or nothing. Rows imported before are left as they are."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--timezone", default=settings.TIME_ZONE,
                            help="Timezone of times without an offset.")  # fmt: skip
        parser.add_argument("--actor", help="Username recorded as creating the cards.")
        parser.add_argument(
            "--partial",
            action="store_true",
            help="Import the good rows even if others have problems (those are listed).",
        )

    def handle(
        self, *args, file: str, timezone: str, actor: str | None, partial: bool, **options
    ) -> None:
        began = time.monotonic()
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CommandError(f"Unknown timezone {timezone!r}.") from None
        user = None
        if actor:
            user = get_user_model().objects.filter(username=actor).first()
            if user is None:
                raise CommandError(f"Unknown user {actor!r}.")
        progress = _Progress(self.stderr)
        try:
            with open(file, "rb") as raw:
                checked = card_file.read_card_file(
                    raw, tz=tz, progress=lambda n: progress.show(f"checking: {n:,} rows")
                )
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        except card_file.FileError as error:
            raise CommandError(f"{file}: {error}") from None
        finally:
            progress.clear()
        if checked.ignored_columns:
            self.stderr.write(f"Ignored column(s): {', '.join(checked.ignored_columns)}.")
        for problem in checked.problems:
            self.stderr.write(str(problem))
        bad = checked.bad_lines
        if bad and not partial:
            raise CommandError(
                f"{len(bad)} row(s) of {file} have problems (listed above): nothing was "
                "imported. Fix them and run it again (rows already imported are kept as they "
                "are), or use --partial to import the other rows."
            )

        total = len(checked.rows)
        started = time.monotonic()

        def written(n: int) -> None:
            rate = n / max(time.monotonic() - started, 1e-9)
            progress.show(f"writing: {n:,}/{total:,} cards ({rate:,.0f} rows/s)", force=n == total)

        try:
            created = importer.write(checked.rows, actor=user, progress=written)
        except IntegrityError as error:
            if "importedcard" not in str(error):  # not the import key: say what it was
                raise CommandError(
                    f"The database refused the rows ({error}): nothing was imported."
                ) from None
            raise CommandError(
                "Another import wrote some of these rows meanwhile: nothing was imported by "
                "this one. Run it again (rows imported by then are left as they are)."
            ) from None
        except WorkflowError as error:
            raise CommandError(f"A card was refused ({error}): nothing was imported.") from None
        except DataError as error:
            raise CommandError(
                f"The database refused a value ({error}): nothing was imported."
            ) from None
        finally:
            progress.clear()
        progress.show("refreshing the report tables…", force=True)
        try:
            refreshed = jobs.refresh_report_tables()
        finally:
            progress.clear()
        elapsed = time.monotonic() - began
        skipped = f", {len(bad)} skipped (line {_lines(bad)})" if bad else ""
        self.stdout.write(
            f"{created} created, {checked.unchanged} unchanged (imported before){skipped}: "
            f"{checked.read} row(s) in {elapsed:.1f} s ({checked.read / elapsed:,.0f} rows/s). "
            f"Report tables refreshed ({refreshed} card(s))."
        )


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:20])
    return shown + (f" and {len(numbers) - 20} more" if len(numbers) > 20 else "")


class _Progress:
    """One status line on stderr, rewritten in place (at most 5 times a second); nothing at
    all when stderr is not a terminal."""

    EVERY = 0.2  # seconds

    def __init__(self, out: OutputWrapper) -> None:
        self.out, self.on = out, out.isatty()
        self.width, self.last, self.text = 0, 0.0, ""

    def show(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self.on or (not force and self.width and now - self.last < self.EVERY):
            return
        self.out.write("\r" + text.ljust(self.width), ending="")
        self.out.flush()
        self.width, self.last = len(text), now

    def clear(self) -> None:
        if self.on and self.width:
            self.out.write("\r" + " " * self.width + "\r", ending="")
            self.out.flush()
            self.width = 0
