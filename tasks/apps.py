from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Work"

    def ready(self) -> None:
        # Copies a person's stored timezone into her session at login (tasks.profiles).
        from tasks import profiles  # noqa: F401
