"""The SLA side's models, one module per concern; every public name is importable from here.

- calendar: business calendars, their hours and holidays
- policy: policies, their targets and escalation rules
- policies_version: the one row that changes with every write of what the policies depend on
- timer: the timers on cards, their pauses and re-targets, and the queries over them
- events: thresholds that fired and the outbox of notifications
- preferences: which notices reach a person, on which channel and when
- slack: the Slack app's users, accepted requests and card threads
"""

from sla.models.calendar import (
    BusinessCalendar,
    Holiday,
    Weekday,
    WorkingInterval,
    clear_calendar_cache,
    validate_timezone,
)
from sla.models.events import (
    Channel,
    DeliveryHold,
    Notification,
    NotificationQuerySet,
    SlaEvent,
    WebhookEndpoint,
)
from sla.models.policies_version import PoliciesVersion
from sla.models.policy import (
    CARD_TIMER_KINDS,
    MAX_MINUTES_AFTER_BREACH,
    MAX_TARGET,
    MIN_TARGET,
    EscalationRule,
    PolicyMode,
    SlaPolicy,
    SlaTarget,
    TimerKind,
    validate_target,
)
from sla.models.preferences import NoticeKind, NotificationPreference
from sla.models.slack import CardThread, SlackRequest, SlackUser
from sla.models.timer import (
    BAND_COLUMNS,
    SlaPause,
    SlaRetarget,
    SlaTimer,
    SlaTimerQuerySet,
    TimerState,
    band_expression,
)

__all__ = [
    "BAND_COLUMNS",
    "CARD_TIMER_KINDS",
    "MAX_MINUTES_AFTER_BREACH",
    "MAX_TARGET",
    "MIN_TARGET",
    "BusinessCalendar",
    "CardThread",
    "Channel",
    "DeliveryHold",
    "EscalationRule",
    "Holiday",
    "NoticeKind",
    "Notification",
    "NotificationPreference",
    "NotificationQuerySet",
    "PoliciesVersion",
    "PolicyMode",
    "SlaEvent",
    "SlaPause",
    "SlaPolicy",
    "SlaRetarget",
    "SlaTarget",
    "SlaTimer",
    "SlaTimerQuerySet",
    "SlackRequest",
    "SlackUser",
    "TimerKind",
    "TimerState",
    "WebhookEndpoint",
    "Weekday",
    "WorkingInterval",
    "band_expression",
    "clear_calendar_cache",
    "validate_target",
    "validate_timezone",
]
