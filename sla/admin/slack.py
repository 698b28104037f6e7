"""The Slack app's memory in the admin: who each Slack user is here (deleting a row makes the
app ask Slack again at the person's next request) and the threads cards were made from."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from sla.models import CardThread, SlackUser
from tasks.admin import ReadOnlyMixin


@admin.register(SlackUser)
class SlackUserAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["slack_id", "team_id", "email", "user", "checked_at"]
    list_select_related = ["user"]
    search_fields = ["slack_id", "email", "user__username"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return bool(request.user.is_superuser)  # forget a mapping: asked again next time


@admin.register(CardThread)
class CardThreadAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["task", "channel", "thread_ts", "created_at"]
    list_select_related = ["task"]
    search_fields = ["=task__id", "channel"]
