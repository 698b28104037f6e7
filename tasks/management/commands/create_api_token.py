"""`manage.py create_api_token USERNAME [--name N] [--scope read|write] [--expires DAYS]`:
a personal API token for a user; the secret is printed alone on the last line (shown once)."""

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from tasks.api import tokens
from tasks.models import ApiToken


class Command(BaseCommand):
    help = "Make a personal API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="Command line")
        parser.add_argument(
            "--scope", choices=[ApiToken.Scope.READ, ApiToken.Scope.WRITE], default="read"
        )
        parser.add_argument("--expires", type=int, metavar="DAYS", help="Days until it expires.")

    def handle(self, *args, username, name, scope, expires, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        try:
            token, secret = tokens.make_token(
                user=user, name=name, scope=scope, expires_in_days=expires
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        expiry = f", expires {token.expires_at:%Y-%m-%d}" if token.expires_at else ""
        self.stderr.write(f"Token {token.name!r} for {username} ({token.scope}{expiry}):")
        self.stdout.write(secret)
