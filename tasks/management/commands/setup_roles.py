from django.core.management.base import BaseCommand

from tasks.roles import ensure_role_groups


class Command(BaseCommand):
    help = "Create the role groups (manager, dispatcher, performer, observer); idempotent."

    def handle(self, *args, **options) -> None:
        groups = ensure_role_groups()
        self.stdout.write(f"Role groups ready: {', '.join(sorted(groups))}.")
