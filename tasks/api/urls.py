"""`/api/v1/`: the routes of the JSON API, its OpenAPI schema and the schema's docs (served
from drf-spectacular-sidecar's files: no CDN)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tasks.api import cards, schema  # noqa: F401 (schema: the Bearer scheme's extension)

app_name = "api"

# DRF marks its views login_not_required (it checks its own credentials); the docs are a
# page, so anonymous visitors are sent to the login page like everywhere else.
docs = SpectacularSwaggerSplitView.as_view(url_name="api:schema")
docs.login_required = True  # type: ignore[attr-defined]

urlpatterns = [
    # A machine endpoint: DRF checks the Bearer token (or the session), not the login page.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # A page: anonymous visitors go to the login page, then it reads the schema with the session.
    path("docs/", docs, name="docs"),
    path("cards/", cards.CardList.as_view(), name="cards"),
    path("cards/<int:pk>/", cards.CardDetail.as_view(), name="card"),
]
