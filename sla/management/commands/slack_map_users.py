"""`manage.py slack_map_users`: find each active user on Slack by email address, so alerts
reach them as direct messages before they first use the app (docs/slack.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from sla.slack_app import people, web


class Command(BaseCommand):
    help = (
        "Look up every active user with an email address and no Slack account yet on Slack "
        "(users.lookupByEmail) and remember the match. Safe to run again."
    )

    def handle(self, *args, **options) -> None:
        if not web.configured():
            raise CommandError("Set SLACK_BOT_TOKEN first (docs/slack.md).")
        found, missing = people.map_by_email()
        self.stdout.write(f"{found} found on Slack, {missing} not found.")
