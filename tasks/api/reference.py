"""Reference data, read only: request types, teams, blocking reasons, people and related
objects, each with the filters a client needs to find an id by name. Related objects are
also found-or-made by kind + external reference (`POST`, `tasks.actions.track_related_object`:
200 with the existing one, 201 when made)."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from tasks import actions, permissions
from tasks.api.cursors import ByName, ByUsername
from tasks.api.reference_serializers import (
    BlockingReasonSerializer,
    RelatedObjectSerializer,
    RequestTypeSerializer,
    TeamSerializer,
    TrackRelatedObjectSerializer,
)
from tasks.api.strict import IdFilter, StrictBooleanFilter, StrictQuery, TextFilter
from tasks.api.summaries import PersonSerializer
from tasks.models import BlockingReason, RelatedObject, RequestType, Team

User = get_user_model()


class _NameFilter(django_filters.FilterSet):
    q = TextFilter(field_name="name", lookup_expr="icontains", label="Name contains")


class RequestTypeFilter(_NameFilter):
    active = StrictBooleanFilter()
    default_team = IdFilter()

    class Meta:
        model = RequestType
        fields = ["active", "default_team"]


class TeamFilter(_NameFilter):
    class Meta:
        model = Team
        fields: list[str] = []


class BlockingReasonFilter(_NameFilter):
    active = StrictBooleanFilter()
    pauses_sla = StrictBooleanFilter()

    class Meta:
        model = BlockingReason
        fields = ["active", "pauses_sla"]


class RelatedObjectFilter(_NameFilter):
    parent = IdFilter()
    external_ref = TextFilter()

    class Meta:
        model = RelatedObject
        fields = ["kind", "external_ref", "parent"]


class PersonFilter(django_filters.FilterSet):
    q = TextFilter(method="search", label="Username or name contains")
    team = IdFilter(method="of_team", label="Member or manager of the team (id)")
    may_work = StrictBooleanFilter(method="working", label="May own, perform or approve cards")

    class Meta:
        model = User
        fields: list[str] = []

    def search(self, people, name, value):
        return people.filter(
            Q(username__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
        )

    def of_team(self, people, name, team):
        return people.filter(Q(teams=team) | Q(managed_teams=team)).distinct()

    def working(self, people, name, value):
        workers = permissions.people_who_may_work_cards().values("pk")
        return people.filter(pk__in=workers) if value else people.exclude(pk__in=workers)


BAD_FILTER = OpenApiResponse(description="A filter, cursor or page size not understood.")


def listed(serializer):
    """The schema of a reference list: a page of `serializer`, or 400 for a bad filter."""
    return extend_schema_view(
        get=extend_schema(responses={200: serializer(many=True), 400: BAD_FILTER})
    )


class _Reference(StrictQuery, generics.ListAPIView):
    filter_backends = [DjangoFilterBackend]
    pagination_class = ByName


@listed(RequestTypeSerializer)
class RequestTypes(_Reference):
    queryset = RequestType.objects.all()
    serializer_class = RequestTypeSerializer
    filterset_class = RequestTypeFilter


@listed(TeamSerializer)
class Teams(_Reference):
    queryset = Team.objects.all()
    serializer_class = TeamSerializer
    filterset_class = TeamFilter


@listed(BlockingReasonSerializer)
class BlockingReasons(_Reference):
    queryset = BlockingReason.objects.all()
    serializer_class = BlockingReasonSerializer
    filterset_class = BlockingReasonFilter


@listed(PersonSerializer)
class People(_Reference):
    """Active people (whom a card may name as owner, performer or approver: `may_work`)."""

    queryset = User.objects.filter(is_active=True)
    serializer_class = PersonSerializer
    filterset_class = PersonFilter
    pagination_class = ByUsername


@extend_schema_view(
    get=extend_schema(responses={200: RelatedObjectSerializer(many=True), 400: BAD_FILTER}),
    post=extend_schema(
        operation_id="related_objects_track",
        summary="Find a related object by kind + external reference, or make it",
        request=TrackRelatedObjectSerializer,
        responses={
            200: RelatedObjectSerializer,
            201: RelatedObjectSerializer,
            400: OpenApiResponse(description="Bad input."),
            403: OpenApiResponse(description="You may not create cards."),
        },
    ),
)
class RelatedObjects(_Reference, generics.CreateAPIView):
    queryset = RelatedObject.objects.all()
    serializer_class = RelatedObjectSerializer
    filterset_class = RelatedObjectFilter

    def get_serializer_class(self):
        if self.request.method == "POST":
            return TrackRelatedObjectSerializer
        return RelatedObjectSerializer

    def create(self, request: Request, *args, **kwargs) -> Response:
        # Whoever may create cards may name what they are about.
        if not permissions.can_create(request.user):
            raise PermissionDenied("You may not create cards, nor what they are about.")
        wanted = TrackRelatedObjectSerializer(data=request.data)
        wanted.is_valid(raise_exception=True)
        try:
            found, made = actions.track_related_object(**wanted.validated_data)
        except actions.WorkflowError as error:
            # well-formed, refused by the rules (a new one needs a name): 422
            raise ValidationError([str(error)], code="refused") from None
        answer = status.HTTP_201_CREATED if made else status.HTTP_200_OK
        return Response(RelatedObjectSerializer(found).data, status=answer)
