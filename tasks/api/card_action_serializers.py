"""What the card's moves, comments and history read and answer. They parse and validate
only: the change is made by `tasks.actions` (tasks.api.card_actions)."""

from __future__ import annotations

from rest_framework import serializers

from tasks.actions import NOTE_MAX_LENGTH
from tasks.api.strict import NONBLANK_TEXT, StrictCharField, StrictPrimaryKeyRelatedField
from tasks.api.summaries import PersonSerializer
from tasks.models import BlockingReason, Comment, Status, TaskEvent
from tasks.move_forms import NOT_AN_APPROVER, approvers
from tasks.validators import TEXT_MAX_LENGTH

WAITING_NEEDS_A_REASON = "Say what the card is waiting for: choose a blocking reason."


class TransitionSerializer(serializers.Serializer):
    """A status move: `to`, with a blocking reason when moving to waiting and, when sending
    for approval, who decides (else the request type's first step's approver, else the
    card's)."""

    to = serializers.ChoiceField(
        choices=Status.choices,
        error_messages={"invalid_choice": "“{input}” is not a status a card can move to."},
    )
    blocking_reason = StrictPrimaryKeyRelatedField(
        queryset=BlockingReason.objects.filter(active=True),
        required=False,
        allow_null=True,
        help_text="Required when moving to waiting: the id of an active blocking reason.",
        error_messages={"does_not_exist": "Choose a blocking reason that is in use."},
    )
    note = StrictCharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default="")
    approver = StrictPrimaryKeyRelatedField(
        queryset=approvers(),
        required=False,
        allow_null=True,
        help_text="Only when moving to on_approval: who decides (someone who may approve).",
        error_messages={"does_not_exist": NOT_AN_APPROVER},
    )

    def validate(self, data):
        to = data["to"]
        errors = {}
        if to == Status.WAITING and not data.get("blocking_reason"):
            errors["blocking_reason"] = WAITING_NEEDS_A_REASON
        if to != Status.WAITING and data.get("blocking_reason"):
            errors["blocking_reason"] = "A blocking reason applies only when moving to waiting."
        if to != Status.ON_APPROVAL and data.get("approver"):
            errors["approver"] = "An approver is named only when sending for approval."
        if errors:
            raise serializers.ValidationError(errors)
        return data


class CommentSerializer(serializers.ModelSerializer):
    author = PersonSerializer(read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = fields


class NewCommentSerializer(serializers.Serializer):
    text = StrictCharField(max_length=TEXT_MAX_LENGTH, pattern=NONBLANK_TEXT)


class EventSerializer(serializers.ModelSerializer):
    """One entry of the card's typed history: codes and ids, never labels (a status change
    has `field` "status" and the old and new status codes; a comment names its comment)."""

    actor = PersonSerializer(read_only=True, allow_null=True)
    kind = serializers.ChoiceField(choices=TaskEvent.Kind.choices, read_only=True)
    old_value = serializers.JSONField(read_only=True, allow_null=True)
    new_value = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = TaskEvent
        fields = ["id", "kind", "field", "old_value", "new_value", "note", "comment", "actor",
                  "at"]  # fmt: skip
        read_only_fields = fields
