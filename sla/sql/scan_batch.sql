-- The set-based batch of the scan (sla/scan.py loads this file; lines starting with -- are
-- dropped before it runs). One statement claims a batch of due timers, moves them past their
-- warning or breach and writes the events and notifications through data-modifying CTEs.
-- %(name)s: parameters (sla.scan.sql_params); {name}: quoted table names.
--
-- Rules the set-based scan (sla/sql/scan_batch.sql) mirrors from the Python path (`advance`,
-- `record`, `needs_follow_up` in sla/escalation.py). Change both paths and both copies of this
-- table together; CAPITALS are constants of sla/scan_rules.py, passed to the SQL as parameters.
--
-- | rule             | what both paths do                                                |
-- |------------------|-------------------------------------------------------------------|
-- | set-based timers | on PostgreSQL, not replaying history: open timers due for a check |
-- |                  | whose policy has no active after-breach rule and no rule action   |
-- |                  | for their kind; every other timer takes the Python path           |
-- | breach           | not yet breached and due_at < now: breached_at = due_at (stamped  |
-- |                  | at the due time, not the scan time), state breached               |
-- | no late warning  | a timer found breached gets no warning event: a warning not yet   |
-- |                  | fired is stamped warned_at = warn_at silently                     |
-- | warning          | running, not warned and warn_at <= now: warned_at = warn_at       |
-- | next check       | earliest of warn_at (running, not warned) and due_at (not yet     |
-- |                  | breached); neither: none                                          |
-- | event            | one per (timer, key): key BREACH_KEY or WARNING_KEY, at = the     |
-- |                  | threshold crossed, recorded_at = now; one already there is kept   |
-- | observe mode     | the event is written (observe set) and nobody is notified         |
-- | follow-up        | a response timer's warning or breach (not observe) is marked for  |
-- |                  | the card's dispatch flag, set after the timers' commit            |
-- | rules            | active rules of the trigger (warning, breach) whose timer_kind is |
-- |                  | ALL_KINDS or the timer's kind                                     |
-- | recipients       | owner, performers, approver, team manager, the team's members in  |
-- |                  | DISPATCHER_ROLE, the rule's user and group: active users, once    |
-- | in-app           | written sent (sent_at = now); key USER_KEY + user id              |
-- | email            | pending now, to the user's address; none: failed, username +      |
-- |                  | NO_EMAIL; key USER_KEY + user id                                  |
-- | slack            | once per rule, to its webhook, else the card team's: pending now, |
-- |                  | key SLACK_KEY + url; none: failed, NO_SLACK_WEBHOOK, key          |
-- |                  | SLACK_RULE_KEY + rule id                                          |
-- | watchers         | a breach (not observe) also tells the card's watchers who chose   |
-- |                  | breaches and its observers without a watch row who may still see |
-- |                  | the card (active users): in-app sent, email pending (none without |
-- |                  | an address); key USER_KEY + user id; written by one shared        |
-- |                  | function after the batch's statement (`notify_breach_watchers`)   |
-- | outbox           | one notification per (event, channel, key), the first one kept;   |
-- |                  | delivery enqueued in the same transaction if any is pending       |
-- | webhooks         | a warning or breach (not observe) is one webhook row per active   |
-- |                  | endpoint whose event_kinds hold its kind (timer.warning, timer.   |
-- |                  | breached): pending now, to its URL; key WEBHOOK_KEY + endpoint id |
-- |                  | + WEBHOOK_KIND_SEP + kind (sla.webhooks)                          |

WITH claimed AS (
    SELECT t.id, t.task_id, t.kind, t.observe, t.policy_id, t.running_since, t.warn_at,
           t.due_at, t.warned_at, t.breached_at,
           CASE WHEN t.breached_at IS NULL AND t.due_at IS NOT NULL AND t.due_at < %(now)s
                    THEN %(breach)s
                WHEN t.running_since IS NOT NULL AND t.warned_at IS NULL
                     AND t.warn_at IS NOT NULL AND t.warn_at <= %(now)s
                    THEN %(warning)s
           END AS fired
    FROM {timer} t
    WHERE t.stopped_at IS NULL AND t.next_check_at <= %(now)s
      AND NOT EXISTS (
          SELECT 1 FROM {rule} r
          WHERE r.policy_id = t.policy_id AND r.active
            AND (r.timer_kind = %(all_kinds)s OR r.timer_kind = t.kind)
            AND (r.trigger = %(after_breach)s OR r.action <> %(no_action)s)
      )
    ORDER BY t.next_check_at
    LIMIT %(batch)s
    FOR UPDATE OF t SKIP LOCKED
), decided AS (
    SELECT c.*,
           CASE WHEN c.fired = %(breach)s THEN c.due_at ELSE c.breached_at END AS new_breached,
           CASE WHEN c.fired IS NOT NULL AND c.warned_at IS NULL THEN c.warn_at
                ELSE c.warned_at END AS new_warned
    FROM claimed c
), timers AS (
    UPDATE {timer} t
    SET breached_at = d.new_breached,
        warned_at = d.new_warned,
        state = CASE WHEN d.fired = %(breach)s THEN %(breached)s ELSE t.state END,
        next_check_at = LEAST(
            CASE WHEN d.running_since IS NOT NULL AND d.new_warned IS NULL
                      AND d.warn_at IS NOT NULL THEN d.warn_at END,
            CASE WHEN d.new_breached IS NULL THEN d.due_at END
        ),
        updated_at = %(now)s
    FROM decided d
    WHERE t.id = d.id
    RETURNING t.id, t.task_id, t.kind, t.observe, t.policy_id, d.fired,
              CASE d.fired WHEN %(breach)s THEN d.due_at ELSE d.warn_at END AS at
), events AS (
    INSERT INTO {event} (timer_id, key, kind, rule_id, at, recorded_at, observe, follow_up)
    SELECT id, CASE fired WHEN %(breach)s THEN %(breach_key)s ELSE %(warning_key)s END, fired,
           NULL, at, %(now)s, observe, kind = %(response)s AND NOT observe
    FROM timers WHERE fired IS NOT NULL
    ON CONFLICT (timer_id, key) DO NOTHING
    RETURNING id, timer_id, kind, observe
), targets AS (
    SELECT e.id AS event_id, r.id AS rule_id, r.in_app, r.email, r.slack,
           r.notify_owner, r.notify_performers, r.notify_approver, r.notify_team_manager,
           r.notify_dispatchers, r.notify_user_id, r.notify_group_id,
           r.slack_webhook_url AS rule_url, tm.slack_webhook_url AS team_url,
           k.id AS task_id, k.owner_id, k.approver_id, k.team_id, tm.manager_id
    FROM events e
    -- The timer table, not the `timers` CTE: the planner cannot estimate a CTE's rows and
    -- joined two of them in a nested loop (batch² comparisons). The columns read here
    -- (policy, kind, card) are ones the batch does not change, so the statement's snapshot
    -- of the table is right.
    JOIN {timer} t ON t.id = e.timer_id
    JOIN {rule} r ON r.policy_id = t.policy_id AND r.active
                 AND r.trigger = CASE e.kind WHEN %(breach)s THEN %(on_breach)s
                                             ELSE %(on_warning)s END
                 AND (r.timer_kind = %(all_kinds)s OR r.timer_kind = t.kind)
    JOIN {task} k ON k.id = t.task_id
    LEFT JOIN {team} tm ON tm.id = k.team_id
    WHERE NOT e.observe
), people AS (
    SELECT DISTINCT g.event_id, g.in_app, g.email, u.id AS user_id, u.email AS address,
                    u.username
    FROM targets g
    CROSS JOIN LATERAL (
        SELECT g.owner_id WHERE g.notify_owner
        UNION ALL
        SELECT p.user_id FROM {performers} p
        WHERE g.notify_performers AND p.task_id = g.task_id
        UNION ALL
        SELECT g.approver_id WHERE g.notify_approver
        UNION ALL
        SELECT g.manager_id WHERE g.notify_team_manager
        UNION ALL
        SELECT m.user_id FROM {members} m
        JOIN {user_groups} ug ON ug.user_id = m.user_id
        JOIN {group} gr ON gr.id = ug.group_id AND gr.name = %(dispatcher)s
        WHERE g.notify_dispatchers AND m.team_id = g.team_id
        UNION ALL
        SELECT g.notify_user_id
        UNION ALL
        SELECT ug.user_id FROM {user_groups} ug WHERE ug.group_id = g.notify_group_id
    ) AS x(user_id)
    JOIN {user} u ON u.id = x.user_id AND u.is_active
), slack AS (
    SELECT event_id, rule_id, COALESCE(NULLIF(rule_url, ''), team_url, '') AS url
    FROM targets WHERE slack
), notes AS (
    INSERT INTO {note} (event_id, recipient_id, channel, recipient_key, address, state,
                        attempts, last_error, next_attempt_at, created_at, sent_at)
    SELECT event_id, user_id, %(in_app)s, %(user_key)s || user_id, '', %(sent)s, 0, '',
           NULL::timestamptz, %(now)s, %(now)s
    FROM people WHERE in_app
    UNION ALL
    SELECT event_id, user_id, %(email)s, %(user_key)s || user_id, address,
           CASE WHEN address <> '' THEN %(pending)s ELSE %(failed)s END, 0,
           CASE WHEN address <> '' THEN '' ELSE username || %(no_email)s END,
           CASE WHEN address <> '' THEN %(now)s END, %(now)s, NULL
    FROM people WHERE email
    UNION ALL
    SELECT event_id, NULL,
           %(slack)s,
           CASE WHEN url <> '' THEN %(slack_key)s || url ELSE %(slack_rule_key)s || rule_id END,
           url, CASE WHEN url <> '' THEN %(pending)s ELSE %(failed)s END, 0,
           CASE WHEN url <> '' THEN '' ELSE %(no_slack_webhook)s END,
           CASE WHEN url <> '' THEN %(now)s END, %(now)s, NULL
    FROM slack
    ON CONFLICT (event_id, channel, recipient_key) DO NOTHING
    RETURNING state
-- Outgoing webhooks (sla.webhooks.timer_event_rows in the Python path): one row per
-- (event, active endpoint subscribed to its kind). Kept apart from the other channels.
), hooks AS (
    INSERT INTO {note} (event_id, recipient_id, channel, recipient_key, address, state,
                        attempts, last_error, next_attempt_at, created_at, sent_at)
    SELECT e.id, NULL, %(webhook)s, %(webhook_key)s || h.id || %(webhook_kind_sep)s || w.kind, h.url,
           %(pending)s, 0, '', %(now)s, %(now)s, NULL
    FROM events e
    CROSS JOIN LATERAL (
        SELECT CASE e.kind WHEN %(breach)s THEN %(timer_breached)s::text
                           ELSE %(timer_warning)s::text END
    ) AS w(kind)
    JOIN {endpoint} h ON h.active AND h.event_kinds @> jsonb_build_array(w.kind)
    WHERE NOT e.observe
    ON CONFLICT (event_id, channel, recipient_key) DO NOTHING
    RETURNING state
)
SELECT (SELECT count(*) FROM timers),
       (SELECT count(*) FROM events),
       (SELECT count(*) FROM notes WHERE state = %(pending)s)
       + (SELECT count(*) FROM hooks),
       -- the batch's breaches and their cards, which tell watchers too
       -- (sla.escalation.notify_breach_watchers); the timer table, not the CTE (see targets)
       (SELECT array_agg(e.id ORDER BY e.id) FROM events e
        WHERE e.kind = %(breach)s AND NOT e.observe),
       (SELECT array_agg(t.task_id ORDER BY e.id) FROM events e JOIN {timer} t ON t.id = e.timer_id
        WHERE e.kind = %(breach)s AND NOT e.observe),
       -- the Slack app (kept apart): every event not in observe mode as [event id, card id,
       -- event kind, timer kind], for its direct messages (sla.slack_app.alerts)
       (SELECT json_agg(json_build_array(e.id, t.task_id, e.kind, t.kind) ORDER BY e.id)
        FROM events e JOIN {timer} t ON t.id = e.timer_id WHERE NOT e.observe)
