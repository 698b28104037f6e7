"""Values the two paths of the scan share, spelled once.

The threshold rule is written twice on purpose: in Python (sla/escalation.py: `advance`,
`record`; every timer, the reference) and as one SQL statement (sla/sql/scan_batch.sql; the
common case, set-based, on PostgreSQL). Both start with the same table of the rules they
share (tests/sla/test_scan_rules.py holds the two tables equal). The strings both write are
here or on the models' choices (SlaEvent.Kind, TimerState, TimerKind, Channel,
Notification.State, EscalationRule.Trigger and Action); `sla.scan` passes all of them to the
SQL as parameters, so the statement spells none of them.

Plain values only: no Django here.
"""

from __future__ import annotations

# SlaEvent.key of a timer's warning and of its breach (one of each per timer, by constraint);
# tests/sla/test_scan_rules.py holds `escalation.advance`'s keys equal to these.
WARNING_KEY = "warning"
BREACH_KEY = "breach"

# EscalationRule.timer_kind of a rule that applies to every kind of timer.
ALL_KINDS = ""

# The role group (tasks.roles) whose members of the card's team a rule can notify.
DISPATCHER_ROLE = "dispatcher"

# Notification.recipient_key, unique per event and channel: a person is USER_KEY + user id, a
# webhook SLACK_KEY + its URL, a Slack rule with no webhook anywhere SLACK_RULE_KEY + rule id.
USER_KEY = "user:"
SLACK_KEY = "slack:"
SLACK_RULE_KEY = "slack:rule"
# An outgoing webhook: WEBHOOK_KEY + endpoint id + WEBHOOK_KIND_SEP + its event kind
# (sla.webhooks.recipient_key).
WEBHOOK_KEY = "webhook:"
WEBHOOK_KIND_SEP = ":"

# Notification.last_error of a notification that failed as it was written.
NO_EMAIL = " has no email address."  # after the recipient's username
NO_SLACK_WEBHOOK = "No Slack webhook configured on the rule or the card's team."
