from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        # Timers follow their card: tasks.actions calls this after every change of a card
        # (its card-change hook), so the card domain never imports sla.
        from sla.actions import sync_timers
        from tasks.actions import listen_to_card_changes

        listen_to_card_changes(sync_timers)
