from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import accounts, help_page
from config.login import LoginView
from sla.health import health

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("health/", health, name="health"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include(accounts.urlpatterns)),
    path("", include(help_page.urlpatterns)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("tasks.api.urls")),
    path("", include("sla.urls")),
    path("reports/", include("reports.urls")),
    path("", include("tasks.urls")),
]
