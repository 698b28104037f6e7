"""The two-way Slack app (docs/slack.md): one signed endpoint for slash commands, shortcuts,
modals and buttons (`views`), answered at once with the work done by a job (`handlers`);
Slack users mapped to people by email (`people`); Block Kit messages (`blocks`); direct
messages and thread replies written as outbox rows (`alerts`) and delivered by the
delivery run's Slack-app lane (sla.delivery.SlackAppLane).

Every card change goes through `tasks.actions`, as the person who clicked or typed, with
the permissions `tasks.moves` / `tasks.permissions` give them.
"""
