"""Reference data as the API shows it: what a card names by id (request types, teams,
blocking reasons, people, related objects)."""

from __future__ import annotations

from rest_framework import serializers

from tasks.actions.related import NAME_MAX_LENGTH, REF_MAX_LENGTH, URL_MAX_LENGTH
from tasks.api.strict import (
    LINE,
    NONBLANK_LINE,
    StrictCharField,
    StrictPrimaryKeyRelatedField,
    StrictURLField,
)
from tasks.models import BlockingReason, RelatedObject, RequestType, Team


class RequestTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = RequestType
        fields = ["id", "name", "description", "default_team", "active", "approved_status"]
        read_only_fields = fields


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "manager"]
        read_only_fields = fields


class BlockingReasonSerializer(serializers.ModelSerializer):
    class Meta:
        model = BlockingReason
        fields = ["id", "name", "pauses_sla", "active"]
        read_only_fields = fields


class RelatedObjectSerializer(serializers.ModelSerializer):
    url = serializers.CharField(read_only=True, help_text="Its address elsewhere; may be empty.")

    class Meta:
        model = RelatedObject
        fields = ["id", "kind", "name", "external_ref", "url", "parent", "root"]
        read_only_fields = fields


class TrackRelatedObjectSerializer(serializers.Serializer):
    """Find a related object by kind + external reference, or make it (then `name` is
    needed)."""

    kind = serializers.ChoiceField(choices=RelatedObject.Kind.choices)
    external_ref = StrictCharField(max_length=REF_MAX_LENGTH, pattern=NONBLANK_LINE)
    name = StrictCharField(
        max_length=NAME_MAX_LENGTH,
        pattern=LINE,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when the object is new; an existing one keeps its name.",
    )
    url = StrictURLField(max_length=URL_MAX_LENGTH, required=False, allow_blank=True,
                               default="")  # fmt: skip
    parent = StrictPrimaryKeyRelatedField(
        queryset=RelatedObject.objects.all(), required=False, allow_null=True, default=None
    )
