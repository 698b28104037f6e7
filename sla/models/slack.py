"""The Slack app's memory: who a Slack user is here (SlackUser), which signed requests were
already taken (SlackRequest, the replay guard) and the thread a card was made from
(CardThread, where its news is posted). Written only by `sla.slack_app`."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SlackUser(models.Model):
    """A Slack user of an allowed workspace and the Turnaround user with the same email
    (None: nobody here has it). Refreshed from `users.info` when older than a day."""

    team_id = models.CharField(max_length=20)
    slack_id = models.CharField(max_length=20)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="slack_accounts",
    )
    email = models.CharField(max_length=254, blank=True)
    checked_at = models.DateTimeField()

    class Meta:
        verbose_name = "Slack user"
        constraints = [
            models.UniqueConstraint(fields=["team_id", "slack_id"], name="one_slack_user")
        ]

    def __str__(self) -> str:
        return f"{self.slack_id} ({self.email or 'no email'})"


class SlackRequest(models.Model):
    """A signed request already accepted: the same signature again is a replay (refused).
    Rows older than the signature's tolerance are deleted (they could not pass anyway)."""

    signature = models.CharField(max_length=100, unique=True)
    received_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.signature[:16]}… at {self.received_at:%H:%M:%S}"


class CardThread(models.Model):
    """The Slack thread a card was made from: its status changes, breach and resolution are
    posted there (Channel.SLACK_APP rows, recipient_key THREAD_KEY + id)."""

    task = models.OneToOneField("tasks.Task", on_delete=models.CASCADE, related_name="slack_thread")
    team_id = models.CharField(max_length=20)
    channel = models.CharField(max_length=40)
    thread_ts = models.CharField(max_length=40)
    permalink = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"#{self.task_id} in {self.channel} at {self.thread_ts}"
