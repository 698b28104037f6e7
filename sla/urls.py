from django.urls import path

from sla import views
from sla.slack_app import views as slack_views

urlpatterns = [
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/bell/", views.bell, name="notification_bell"),
    path("notifications/preview/", views.preview, name="notification_preview"),
    path("notifications/read/", views.mark_read, name="notifications_read"),
    path(
        "integrations/slack/events/", slack_views.events, name="slack_events"
    ),  # the Slack app (docs/slack.md)
]
