"""`GET /api/v1/cards/{id}/timers/`: a card's SLA timers with the explanation of each
deadline, read as the card page reads them (`sla.explain.explain_timers`)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from sla.explain import explain_timers
from tasks.api.card_access import visible_card
from tasks.api.strict import StrictQuery
from tasks.api.timer_serializers import CardTimerSerializer


class CardTimers(StrictQuery, generics.GenericAPIView):
    serializer_class = CardTimerSerializer
    pagination_class = None  # a card has a few timers: all of them, by kind and cycle

    @extend_schema(
        operation_id="cards_timers_list",
        summary="A card's SLA timers and why each deadline is what it is",
        responses={
            200: CardTimerSerializer(many=True),
            400: OpenApiResponse(description="A query parameter not understood."),
            404: OpenApiResponse(description="No such card, or not yours to see."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        task = visible_card(request, pk)
        return Response(CardTimerSerializer(explain_timers(task), many=True).data)
