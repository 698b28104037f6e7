"""The JSON of a card: what the API answers (`CardSerializer`) and what it takes to create
(`NewCardSerializer`) or change (`CardChangeSerializer`) one, with the lengths, dates and
choices of the pages' forms (tasks.forms, tasks.validators). The rules of the workflow stay
in `tasks.actions`, which the views call."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from tasks.actions.lifecycle import (
    EXTERNAL_REF_MAX_LENGTH,
    NEXT_STEP_MAX_LENGTH,
    SOURCE_MAX_LENGTH,
    SOURCE_URL_MAX_LENGTH,
)
from tasks.models import Priority, RelatedObject, RequestType, Status, Task, Team
from tasks.permissions import people_who_may_work_cards
from tasks.validators import (
    TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    validate_no_nul,
    validate_sane_date,
    validate_single_line,
)

RELATED_REF_MAX_LENGTH = RelatedObject._meta.get_field("external_ref").max_length or 100


def _django(validator):
    """A tasks.validators check as a DRF validator (its message, its code)."""

    def check(value: Any) -> None:
        try:
            validator(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages, code=error.code) from None

    return check


class Text(serializers.CharField):
    """A string, and only a string (DRF's CharField would take 12 for "12")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Line(Text):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validators", []).append(_django(validate_single_line))
        super().__init__(**kwargs)


class Id(serializers.PrimaryKeyRelatedField):
    """A row named by its id, a JSON integer (not "12", not true)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 1 <= data < 2**63:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class CardRelatedObjectSerializer(serializers.Serializer):
    """The related object as a card shows it (the list of them: tasks.api.reference)."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    external_ref = serializers.CharField(read_only=True)


class RelatedObjectRef(serializers.Serializer):
    """A related object named as its source knows it: its kind and its reference there."""

    kind = serializers.ChoiceField(choices=RelatedObject.Kind.choices)
    external_ref = Line(max_length=RELATED_REF_MAX_LENGTH)


class CardSerializer(serializers.Serializer):
    """A card as the API answers it. `version` is also its `ETag`."""

    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=Status.choices, read_only=True)
    priority = serializers.ChoiceField(choices=Priority.choices, read_only=True)
    request_type = serializers.IntegerField(source="request_type_id", read_only=True)
    team = serializers.IntegerField(source="team_id", read_only=True, allow_null=True)
    owner = serializers.IntegerField(source="owner_id", read_only=True, allow_null=True)
    approver = serializers.IntegerField(source="approver_id", read_only=True, allow_null=True)
    blocking_reason = serializers.IntegerField(
        source="blocking_reason_id", read_only=True, allow_null=True
    )
    related_object = CardRelatedObjectSerializer(read_only=True, allow_null=True)
    source = serializers.CharField(read_only=True)
    external_ref = serializers.CharField(read_only=True)
    source_url = serializers.CharField(read_only=True)
    next_step = serializers.CharField(read_only=True)
    next_step_due = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    first_response_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    version = serializers.IntegerField(read_only=True)


class NewCardSerializer(serializers.Serializer):
    """A card to create. With `source` + `external_ref` it is made once: sent again, the
    existing card is answered (200) instead of a second one."""

    title = Line(max_length=TITLE_MAX_LENGTH)
    description = Text(
        required=False, allow_blank=True, max_length=TEXT_MAX_LENGTH,
        validators=[_django(validate_no_nul)], trim_whitespace=False, default="",
    )  # fmt: skip
    request_type = Id(
        queryset=RequestType.objects.filter(active=True).select_related("default_team")
    )
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    related_object = RelatedObjectRef(required=False, allow_null=True, default=None)
    source_url = serializers.URLField(
        required=False, allow_blank=True, max_length=SOURCE_URL_MAX_LENGTH, default=""
    )
    team = Id(
        queryset=Team.objects.all(), required=False, allow_null=True, default=None,
        help_text="Dispatchers and managers only; defaults to the request type's team.",
    )  # fmt: skip
    owner = Id(
        queryset=people_who_may_work_cards(), required=False, allow_null=True, default=None,
        help_text="Dispatchers and managers give any worker; others only themselves.",
    )  # fmt: skip
    source = Line(required=False, allow_blank=True, max_length=SOURCE_MAX_LENGTH, default="")
    external_ref = Line(
        required=False, allow_blank=True, max_length=EXTERNAL_REF_MAX_LENGTH, default=""
    )

    def validate_related_object(self, value: dict | None) -> RelatedObject | None:
        if value is None:
            return None
        found = RelatedObject.objects.filter(
            kind=value["kind"], external_ref=value["external_ref"]
        ).first()
        if found is None:
            raise serializers.ValidationError(
                f"No {value['kind']} with the reference {value['external_ref']!r}: "
                "create it first.",
                code="does_not_exist",
            )
        return found

    def validate(self, data: dict) -> dict:
        if data.get("external_ref") and not data.get("source"):
            raise serializers.ValidationError(
                {"source": ["An external reference needs its source (e.g. crm, slack)."]}
            )
        return data


class CardChangeSerializer(serializers.Serializer):
    """What a PATCH may change; fields left out stay as they are. Title, description and
    source link: like the next step, whoever works the card; priority, request type, team and
    owner: dispatchers and managers of the card's team (tasks.permissions)."""

    title = Line(required=False, max_length=TITLE_MAX_LENGTH)
    description = Text(
        required=False, allow_blank=True, max_length=TEXT_MAX_LENGTH,
        validators=[_django(validate_no_nul)], trim_whitespace=False,
    )  # fmt: skip
    source_url = serializers.URLField(
        required=False, allow_blank=True, max_length=SOURCE_URL_MAX_LENGTH
    )
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    request_type = Id(queryset=RequestType.objects.filter(active=True), required=False)
    team = Id(queryset=Team.objects.all(), required=False, allow_null=True)
    owner = Id(queryset=people_who_may_work_cards(), required=False, allow_null=True)
    next_step = Line(required=False, allow_blank=True, max_length=NEXT_STEP_MAX_LENGTH)
    next_step_due = serializers.DateTimeField(
        required=False, allow_null=True, validators=[_django(validate_sane_date)]
    )

    DETAILS = ("title", "description", "source_url")
    CLASSIFICATION = ("priority", "request_type", "team")
    NEXT_STEP = ("next_step", "next_step_due")


def card_etag(task: Task) -> str:
    return f'"{task.version}"'
