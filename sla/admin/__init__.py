"""Django admin for SLA configuration (calendars, policies) and a read-only view of what the
SLA side records (timers, events, notifications), one module per page family."""

from sla.admin import calendars, policies, timers

__all__ = ["calendars", "policies", "timers"]
