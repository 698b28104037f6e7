from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        # Timers follow their card: tasks.actions calls this after every change of a card
        # (its card-change hook), so the card domain never imports sla; cards written in
        # bulk with their past history (imports) are replayed set-based, once per batch.
        from sla.actions import sync_timers
        from sla.card_notices import notify_card_change
        from sla.models.policies_version import track_policy_writes
        from sla.replay import replay_past_cards
        from tasks.actions import listen_to_card_changes, listen_to_past_cards

        listen_to_card_changes(sync_timers)
        # Then people are told (approver asked, decisions, status changes: outbox rows).
        listen_to_card_changes(notify_card_change)
        listen_to_past_cards(replay_past_cards)
        # Every write of what the policies depend on bumps the policies version, which the
        # per-process cache of active policies (sla.actions.active_policies) checks.
        track_policy_writes()
