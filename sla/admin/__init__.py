"""Django admin for SLA configuration (calendars, policies) and a read-only view of what the
SLA side records (timers, events, notifications), one module per page family; `cards` adds a
card's timers to the card admin."""

from sla.admin import calendars, cards, policies, slack, timers, webhooks

__all__ = ["calendars", "cards", "policies", "slack", "timers", "webhooks"]
