"""A card's moves, comments and history over the API: the card page's rules and actions.

- `POST /cards/{id}/transitions/`: a status move (`tasks.actions.change_status`), allowed to
  whoever may move the card on its page (`tasks.permissions.can_move`: 403 otherwise). A
  move the workflow forbids is a 409 with the workflow's message; with `If-Match` naming
  an older version of the card, a 412 and nothing changes.
- `GET/POST /cards/{id}/comments/`: read them (whoever sees the card), add one
  (`can_comment`, as on the page).
- `GET /cards/{id}/events/`: the typed history, oldest first.

A card the caller may not see is a 404 everywhere."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from tasks import actions, permissions
from tasks.api.card_access import IF_MATCH_PATTERN, etag, if_match_version, visible_card
from tasks.api.card_action_serializers import (
    CommentSerializer,
    EventSerializer,
    NewCommentSerializer,
    TransitionSerializer,
)
from tasks.api.cursors import EventsOldestFirst, OldestFirst
from tasks.api.exceptions import Conflict, PreconditionFailed
from tasks.api.strict import StrictQuery
from tasks.api.summaries import CardSummarySerializer
from tasks.models import Comment, TaskEvent
from tasks.views import MAY_NOT_MOVE

IF_MATCH = OpenApiParameter(
    "If-Match",
    {"type": "string", "pattern": IF_MATCH_PATTERN},
    OpenApiParameter.HEADER,
    description='The card\'s ETag (its version, e.g. "3"): the move is refused with 412 if '
    "the card changed since.",
)
NOT_FOUND = OpenApiResponse(description="No such card, or not yours to see.")
BAD_QUERY = OpenApiResponse(description="A query parameter, cursor or page size not understood.")
FORBIDDEN = OpenApiResponse(description="You may see the card but not do this to it.")


class CardTransitions(StrictQuery, generics.GenericAPIView):
    serializer_class = TransitionSerializer

    @extend_schema(
        operation_id="cards_transition",
        summary="Move a card along the workflow",
        parameters=[IF_MATCH],
        responses={
            200: CardSummarySerializer,
            400: OpenApiResponse(description="Bad input (field errors)."),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: OpenApiResponse(description="The workflow does not allow this move."),
            412: OpenApiResponse(description="The card changed since the If-Match version."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        task = visible_card(request, pk)
        if not permissions.can_move(request.user, task):
            raise PermissionDenied(MAY_NOT_MOVE)
        move = self.get_serializer(data=request.data)
        move.is_valid(raise_exception=True)
        data = move.validated_data
        expected_version = if_match_version(request)
        try:
            actions.change_status(
                task=task,
                to=data["to"],
                actor=request.user,
                blocking_reason=data.get("blocking_reason"),
                note=data["note"],
                approver=data.get("approver"),
                expected_version=expected_version,
            )
        except actions.StaleCard as error:
            raise PreconditionFailed(str(error)) from None
        except actions.NotAllowed as error:
            raise PermissionDenied(str(error)) from None
        except actions.WorkflowError as error:
            raise Conflict(str(error)) from None
        return Response(CardSummarySerializer(task).data, headers={"ETag": etag(task)})


class CardComments(StrictQuery, generics.GenericAPIView):
    pagination_class = OldestFirst

    def get_serializer_class(self):
        return NewCommentSerializer if self.request.method == "POST" else CommentSerializer

    @extend_schema(
        operation_id="cards_comments_list",
        summary="A card's comments, oldest first",
        responses={200: CommentSerializer(many=True), 400: BAD_QUERY, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        task = visible_card(request, pk)
        comments = Comment.objects.filter(task=task).select_related("author")
        page = self.paginate_queryset(comments)
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(
        operation_id="cards_comments_create",
        summary="Comment on a card",
        request=NewCommentSerializer,
        responses={201: CommentSerializer, 400: OpenApiResponse(description="Bad input."),
                   403: FORBIDDEN, 404: NOT_FOUND},
    )  # fmt: skip
    def post(self, request: Request, pk: int) -> Response:
        task = visible_card(request, pk)
        if not permissions.can_comment(request.user, task):
            raise PermissionDenied("You may not comment on this card.")
        new = NewCommentSerializer(data=request.data)
        new.is_valid(raise_exception=True)
        try:
            comment = actions.add_comment(
                task=task, text=new.validated_data["text"], actor=request.user
            )
        except actions.WorkflowError as error:
            raise ValidationError({"text": [str(error)]}) from None
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class CardEvents(StrictQuery, generics.GenericAPIView):
    serializer_class = EventSerializer
    pagination_class = EventsOldestFirst

    @extend_schema(
        operation_id="cards_events_list",
        summary="A card's typed history, oldest first",
        responses={200: EventSerializer(many=True), 400: BAD_QUERY, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        task = visible_card(request, pk)
        events = TaskEvent.objects.filter(task=task).select_related("actor")
        page = self.paginate_queryset(events)
        return self.get_paginated_response(EventSerializer(page, many=True).data)
