"""`GET /api/v1/timers/`: the at-risk queue as data. The same timers, filters and order as
the page (`tasks.boards.at_risk`: `sla.queries.risk_counts` + `risk_page`, breached longest
ago first, then the smallest share of target left), of every card the caller may see,
`?state=` picking one band. Paged by number (`?page=`), as the page is: the order moves with
the clock, so a cursor would not hold."""

from __future__ import annotations

from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from sla.queries import BAND_NAMES, RANK_ALL_UP_TO, risk_counts, risk_page, with_band
from tasks.api.cursors import MAX_PAGE_SIZE
from tasks.api.strict import MAX_ID, StrictQuery
from tasks.api.timer_serializers import STATE_OF_BAND, QueuePageSerializer, QueueRow
from tasks.boards.at_risk import QUEUE_PAGE, ROW_RELATED, visible_timers
from tasks.filters import AtRiskFilter
from tasks.queries import sees_all

BAND_FILTER = {"breached": "breached", "at_risk": "warned", "running": "running",
               "paused": "paused"}  # fmt: skip
PAGING = ("state", "page", "page_size")


def _positive(request: Request, name: str, default: int, *, most: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1 or (most is not None and int(raw) > most):
        limit = f" up to {most}" if most else ""
        raise ValidationError({name: [f"A whole number from 1{limit}."]})
    return int(raw)


def _filters(request: Request) -> QueryDict:
    """The page's filters from the query (`state` as the page's `timer` filter)."""
    data = request.query_params.copy()
    for name in PAGING:
        data.pop(name, None)
    state = request.query_params.get("state")
    if state is not None:
        if state not in BAND_FILTER:
            raise ValidationError({"state": [f"One of {', '.join(BAND_FILTER)}."]})
        data["timer"] = BAND_FILTER[state]
    return data


CARD_FILTER_PARAMETERS = [
    OpenApiParameter(name, {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                     description=f"The card's {label} (id).")
    for name, label in (("team", "team"), ("owner", "owner"), ("request_type", "request type"),
                        ("client", "client or related object"),
                        ("blocking_reason", "blocking reason"))
]  # fmt: skip


class TimerQueue(StrictQuery, generics.GenericAPIView):
    serializer_class = QueuePageSerializer
    pagination_class = None
    query_parameters = (*PAGING, "kind", "priority", "status", "team", "owner", "request_type",
                        "client", "blocking_reason")  # fmt: skip
    repeatable_parameters = ("priority", "status")

    @extend_schema(
        operation_id="timers_queue",
        summary="The at-risk queue: open timers, most urgent first",
        parameters=[
            OpenApiParameter("state", OpenApiTypes.STR, enum=list(BAND_FILTER)),
            OpenApiParameter("page", {"type": "integer", "minimum": 1}, description="From 1."),
            OpenApiParameter("page_size", {"type": "integer", "minimum": 1,
                                           "maximum": MAX_PAGE_SIZE}),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=["response", "resolution"]),
            OpenApiParameter("priority", OpenApiTypes.STR, many=True,
                             enum=["critical", "high", "normal", "low"]),
            OpenApiParameter("status", OpenApiTypes.STR, many=True,
                             enum=["new", "assigned", "in_progress", "waiting", "on_approval"]),
            *CARD_FILTER_PARAMETERS,
        ],
        responses={
            200: QueuePageSerializer,
            400: OpenApiResponse(description="A filter or page that is not understood."),
            403: OpenApiResponse(description="You may not see SLA timers."),
        },
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        user = request.user
        if not user.has_perm("sla.view_slatimer"):
            raise PermissionDenied("You may not see SLA timers.")
        page = _positive(request, "page", 1)
        size = _positive(request, "page_size", QUEUE_PAGE, most=MAX_PAGE_SIZE)
        now = timezone.now()
        timers = with_band(visible_timers(user, everything=sees_all(user)), now)
        filterset = AtRiskFilter(_filters(request) or None, queryset=timers)
        if filterset.is_bound and not filterset.is_valid():
            raise ValidationError(filterset.errors)
        counts = risk_counts(filterset.qs)
        start = (page - 1) * size
        stop = min(start + size, counts.total)
        whole = None if filterset.picks_cards else RANK_ALL_UP_TO
        found = risk_page(filterset.qs, counts, now, start, stop, rank_all_up_to=whole,
                          related=ROW_RELATED)  # fmt: skip
        rows = [QueueRow(t, t.progress(now), STATE_OF_BAND[t.band]) for t in found]
        bands = counts.bands
        url = request.build_absolute_uri()
        body = {
            "count": counts.total,
            "counts": {STATE_OF_BAND[b]: bands[name] for b, name in BAND_NAMES.items()},
            "next": replace_query_param(url, "page", page + 1) if stop < counts.total else None,
            "previous": None if page == 1 else (
                remove_query_param(url, "page") if page == 2
                else replace_query_param(url, "page", page - 1)
            ),
            "results": rows,
        }  # fmt: skip
        return Response(QueuePageSerializer(body).data)
