"""`manage.py import_cards FILE.csv`: load past cards with their real timestamps."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from reports import importer, rollup


class Command(BaseCommand):
    help = (
        "Import past cards from a CSV (title, request_type, created_at; optional priority, "
        "owner, team, client, first_response_at, resolved_at), replaying their history. "
        "Bad rows are reported with line numbers; good rows are kept."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")
        parser.add_argument("--timezone", default=settings.TIME_ZONE,
                            help="Timezone of times without an offset.")  # fmt: skip
        parser.add_argument("--actor", help="Username recorded as creating the cards.")

    def handle(self, *args, file: str, timezone: str, actor: str | None, **options) -> None:
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CommandError(f"Unknown timezone {timezone!r}.") from None
        user = None
        if actor:
            user = get_user_model().objects.filter(username=actor).first()
            if user is None:
                raise CommandError(f"Unknown user {actor!r}.")
        try:
            with open(file, encoding="utf-8-sig", newline="") as lines:
                result = importer.read(lines, tz=tz, actor=user)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file} is not UTF-8 text.") from None
        except importer.RowError as error:
            raise CommandError(str(error)) from None
        for line, message in result.errors:
            self.stderr.write(f"line {line}: {message}")
        rollup.refresh()
        self.stdout.write(f"Imported {len(result.imported)} card(s).")
        if result.errors:
            raise CommandError(
                f"{len(result.errors)} row(s) rejected (listed above); the others were kept."
            )
