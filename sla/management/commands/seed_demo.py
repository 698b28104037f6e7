"""`manage.py seed_demo`: a demo company with weeks of card history and a living dashboard.

It lives with the SLA side because it seeds both the cards (`tasks.demo`) and the SLA
configuration (`sla.demo`), and only sla may import the card domain, not the reverse.
"""

from __future__ import annotations

import random
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sla import demo as sla_demo
from sla import escalation, scan
from tasks import demo
from tasks.models import Task
from tasks.roles import ensure_role_groups


class Command(BaseCommand):
    help = (
        "Create a demo company (users, teams, request types, clients), the demo SLA "
        "configuration and cards with history. Users are found by name, so it can run again; "
        "cards are added again on every run (use --if-empty to seed only an empty database)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument(
            "--cards", type=int, default=300, help="How many cards to create (default 300)."
        )
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if any card exists already."
        )

    def handle(self, *args, **options) -> None:
        count, seed = options["cards"], options["seed"]
        if count < 0:
            raise CommandError("--cards must be 0 or more.")
        ensure_role_groups()
        if options["if_empty"] and Task.objects.exists():
            self.stdout.write("Cards exist already: seed_demo --if-empty left the data alone.")
            return
        started = time.monotonic()
        company = demo.ensure_company()
        sla_demo.ensure_demo_sla_config()
        self.stdout.write(
            f"Company ready: {len(company.users)} users, {len(company.teams)} teams, "
            f"{len(company.related)} related objects; demo SLA configuration in place."
        )
        if count:
            now = timezone.now().replace(second=0, microsecond=0)
            plans = demo.plan_cards(
                rng=random.Random(seed),
                count=count,
                now=now,
                profiles=sla_demo.sla_profiles(list(company.request_types.values())),
                reasons=sla_demo.BLOCKING_REASONS,
            )
            step = max(1, -(-count // 10))  # report every 10 %

            def progress(done: int) -> None:
                if done % step == 0 or done == count:
                    self.stdout.write(f"  cards: {done}/{count} ({done * 100 // count} %)")

            # The history's own news (decisions asked, status changes told to followers)
            # reaches the bell, but its email and Slack rows are written skipped.
            with escalation.seeding_history():
                demo.apply_plans(plans, company, progress=progress)
        # After the history: replaying it must not announce weeks-old thresholds.
        rules = sla_demo.ensure_demo_escalation_rules()
        if rules:
            self.stdout.write(f"Escalation rules: {rules} created (warning, breach, +2 h).")
        # Bring the history up to now as the first scan would (events, the bell, dispatch
        # flags), but email and Slack rows are written skipped: a fresh demo does not mail
        # anyone about thresholds of a past that never happened.
        with escalation.seeding_history():
            caught_up = scan.run(timezone.now())
        if caught_up:
            self.stdout.write(f"History brought up to now: {caught_up} thresholds recorded.")
        elapsed = time.monotonic() - started
        self.stdout.write(f"Seeded {count} cards with seed {seed} in {elapsed:.1f} s.")
        self._logins()

    def _logins(self) -> None:
        rows = [("admin", demo.DEMO_PASSWORD, "superuser (Django admin)")]
        for person in demo.PEOPLE:
            where = f"manager of {person.manages}" if person.manages else ", ".join(person.teams)
            label = f"{person.role}: {person.first_name} {person.last_name}, {where}"
            rows.append((person.username, demo.DEMO_PASSWORD, label))
        width = max(len(name) for name, _, _ in rows)
        self.stdout.write("\nDemo logins:")
        self.stdout.write(f"  {'username'.ljust(width)}  password  role")
        for name, password, role in rows:
            self.stdout.write(f"  {name.ljust(width)}  {password.ljust(8)}  {role}")
