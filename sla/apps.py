from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        # Timers follow their card, then people are told (approver asked, decisions, status
        # changes, webhooks: outbox rows): tasks.actions calls follow_card_change after every
        # change of a card (its card-change hook), so the card domain never imports sla;
        # cards written in bulk with their past history (imports) are replayed set-based,
        # once per batch.
        from sla.card_changes import follow_card_change
        from sla.models.policies_version import track_policy_writes
        from sla.replay import replay_past_cards
        from tasks.actions import listen_to_card_changes, listen_to_past_cards

        listen_to_card_changes(follow_card_change)
        listen_to_past_cards(replay_past_cards)
        # Every write of what the policies depend on (and of webhook endpoints) bumps the
        # policies version, which the per-process cache (sla.actions.active_settings) checks.
        track_policy_writes()
