"""`/api/v1/`: the routes of the JSON API, its OpenAPI schema and the schema's docs (served
from drf-spectacular-sidecar's files: no CDN)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tasks.api import (
    card_actions,
    card_timers,
    cards,
    reference,
    schema,  # noqa: F401 (the Bearer scheme's extension, registered on import)
    timer_queue,
)

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
    # A card's moves, comments, timers and history.
    path(
        "cards/<int:pk>/transitions/",
        card_actions.CardTransitions.as_view(),
        name="card_transitions",
    ),
    path("cards/<int:pk>/comments/", card_actions.CardComments.as_view(), name="card_comments"),
    path("cards/<int:pk>/events/", card_actions.CardEvents.as_view(), name="card_events"),
    path("cards/<int:pk>/timers/", card_timers.CardTimers.as_view(), name="card_timers"),
    # The at-risk queue as data.
    path("timers/", timer_queue.TimerQueue.as_view(), name="timers"),
    # Reference data.
    path("request-types/", reference.RequestTypes.as_view(), name="request_types"),
    path("teams/", reference.Teams.as_view(), name="teams"),
    path("blocking-reasons/", reference.BlockingReasons.as_view(), name="blocking_reasons"),
    path("people/", reference.People.as_view(), name="people"),
    path("related-objects/", reference.RelatedObjects.as_view(), name="related_objects"),
]
