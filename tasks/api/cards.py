"""`/api/v1/cards/`: list, create (upsert by reference), read and change cards. Like the
pages: a card the user may not see is 404, one she sees but may not change is 403, and
every change is one of `tasks.actions` (the one writer), refused by its rules as on the
pages. Each card answer carries its version as `ETag`; a PATCH with `If-Match` is refused
(412) when the card changed meanwhile, and applied as it is without one."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from tasks import actions, permissions
from tasks.api.card_serializers import (
    CardChangeSerializer,
    CardSerializer,
    NewCardSerializer,
    card_etag,
)
from tasks.api.exceptions import Conflict, PreconditionFailed
from tasks.filters import MAX_ID, CardApiFilter
from tasks.models import Task

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag of the card as last read: refused (412) if the card changed since. "
    "Without it the change is applied to the card as it is now.",
)
MAY_NOT_ASSIGN = (
    "Only dispatchers and managers of the card's team may change its priority, request "
    "type, team or owner."
)
MAY_NOT_WORK = (
    "Only the card's owner, performers, approver or team lead may change what it says or "
    "its next step."
)


def _card_response(task: Task, status_code: int = status.HTTP_200_OK, **headers: str) -> Response:
    return Response(
        CardSerializer(task).data, status=status_code, headers={"ETag": card_etag(task), **headers}
    )


def _workflow_error(error: actions.WorkflowError) -> exceptions.APIException:
    if isinstance(error, actions.StaleCard):
        return PreconditionFailed(str(error))
    if isinstance(error, actions.NotAllowed):
        return exceptions.PermissionDenied(str(error))
    return exceptions.ValidationError({"non_field_errors": [str(error)]}, code="workflow")


def _matches(if_match: str, version: int) -> bool:
    """Whether an If-Match header names this version ("3", W/"3", 3 or *)."""
    for tag in if_match.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        if tag == "*" or tag == str(version):
            return True
    return False


class CardList(generics.ListCreateAPIView):
    """The cards the token's user may see, newest first, filtered as on the card list."""

    serializer_class = CardSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CardApiFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema reads the model only
            return Task.objects.none()
        return Task.objects.visible_to(self.request.user).select_related("related_object")

    @extend_schema(operation_id="cards_list", summary="List cards")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request)

    @extend_schema(
        operation_id="cards_create",
        summary="Create a card (upsert by source + external_ref)",
        description="Creates a card (201). With `source` + `external_ref` the card is made "
        "once: when a card with this reference exists, it is answered as it is (200) and "
        "nothing is written.",
        request=NewCardSerializer,
        responses={
            201: OpenApiResponse(CardSerializer, description="Created."),
            200: OpenApiResponse(
                CardSerializer, description="A card with this source and reference exists."
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request.user
        if not permissions.can_create(user):
            raise exceptions.PermissionDenied("You may not create cards.")
        given = NewCardSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(given.validated_data)
        self._check_routing(data)
        try:
            task = actions.create_task(actor=user, **data)
        except actions.AlreadyTracked as tracked:
            existing = Task.objects.select_related("related_object").get(pk=tracked.task.pk)
            if not permissions.can_view(user, existing):
                raise Conflict(
                    "A card with this source and reference exists, on a team you are not part of."
                ) from None
            return _card_response(existing)
        except actions.WorkflowError as error:
            raise _workflow_error(error) from None
        return _card_response(task, status.HTTP_201_CREATED, Location=f"{request.path}{task.pk}/")

    def _check_routing(self, data: dict[str, Any]) -> None:
        """Team and owner as on the New card page (tasks.forms.TaskCreateForm): dispatchers
        and managers choose freely; a worker may only make herself the owner of a card of
        her teams; anyone else leaves both to the dispatchers."""
        user = self.request.user
        if user.has_perm("tasks.assign_task"):
            return
        if data["team"] is not None:
            raise exceptions.PermissionDenied(
                "Only dispatchers and managers choose a card's team; leave it out for the "
                "request type's team."
            )
        owner = data["owner"]
        if owner is None:
            return
        if owner.pk != user.pk:
            raise exceptions.PermissionDenied(
                "Only dispatchers and managers give a card to someone else."
            )
        if not permissions.may_own_cards_of(user, data["request_type"].default_team):
            raise exceptions.PermissionDenied(
                f"Cards of {data['request_type'].default_team} are owned by its people: leave "
                "the owner out and the dispatchers will find the card an owner."
            )


class CardDetail(generics.GenericAPIView):
    serializer_class = CardSerializer

    def card(self, pk: int) -> Task:
        task = (
            Task.objects.select_related("related_object", "team").filter(pk=pk).first()
            if pk <= MAX_ID
            else None
        )
        if task is None or not permissions.can_view(self.request.user, task):
            raise exceptions.NotFound("No card with this id, or not one you may see.")
        return task

    @extend_schema(
        operation_id="cards_retrieve",
        summary="Read a card",
        responses={200: OpenApiResponse(CardSerializer)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return _card_response(self.card(pk))

    @extend_schema(
        operation_id="cards_partial_update",
        summary="Change a card",
        description="Changes the fields sent, each through its action (one version check "
        "for all): title, description, source link and next step for whoever works the "
        "card; priority, request type, team and owner for dispatchers and managers of its "
        "team. Send `If-Match` with the ETag last read to be refused (412) instead of "
        "overwriting a change made meanwhile.",
        request=CardChangeSerializer,
        parameters=[IF_MATCH],
        responses={200: CardSerializer},
    )
    def patch(self, request: Request, pk: int) -> Response:
        user = request.user
        task = self.card(pk)
        given = CardChangeSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        sends = lambda fields: any(f in data for f in fields)  # noqa: E731
        assigns = sends(CardChangeSerializer.CLASSIFICATION) or "owner" in data
        works = sends(CardChangeSerializer.DETAILS) or sends(CardChangeSerializer.NEXT_STEP)
        if assigns and not permissions.can_assign(user, task):
            raise exceptions.PermissionDenied(MAY_NOT_ASSIGN)
        if works and not permissions.can_work(user, task):
            raise exceptions.PermissionDenied(MAY_NOT_WORK)
        if_match = request.headers.get("If-Match")
        expected = task.version
        if if_match is not None and not _matches(if_match, task.version):
            raise PreconditionFailed()
        try:
            with transaction.atomic():
                self._change(task, data, expected_version=expected)
        except actions.WorkflowError as error:
            raise _workflow_error(error) from None
        return _card_response(self.card(pk))

    def _change(self, task: Task, data: dict[str, Any], *, expected_version: int) -> None:
        """The actions for the fields sent, in one transaction: the first checks the version
        read (the card is locked from then on), the rest act on the locked card."""
        user = self.request.user
        version: int | None = expected_version
        if any(f in data for f in CardChangeSerializer.DETAILS):
            actions.update_details(
                task=task, actor=user, expected_version=version,
                **{f: data[f] for f in CardChangeSerializer.DETAILS if f in data},
            )  # fmt: skip
            version = None
        if any(f in data for f in CardChangeSerializer.CLASSIFICATION):
            actions.reclassify(
                task=task, actor=user, expected_version=version,
                request_type=data.get("request_type", task.request_type),
                priority=data.get("priority", task.priority),
                team=data.get("team", task.team),
            )  # fmt: skip
            version = None
        if "owner" in data:
            actions.assign_owner(
                task=task, owner=data["owner"], actor=user, expected_version=version
            )
            version = None
        if any(f in data for f in CardChangeSerializer.NEXT_STEP):
            actions.set_next_step(
                task=task, actor=user, expected_version=version,
                text=data.get("next_step", task.next_step),
                due=data.get("next_step_due", task.next_step_due),
            )  # fmt: skip
