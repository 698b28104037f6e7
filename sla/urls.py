from django.urls import path

from sla import views

urlpatterns = [
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/bell/", views.bell, name="notification_bell"),
    path("notifications/read/", views.mark_read, name="notifications_read"),
]
