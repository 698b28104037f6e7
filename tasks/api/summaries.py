"""Small shapes several endpoints share: a card in brief and a person."""

from __future__ import annotations

from rest_framework import serializers

from tasks.models import Task


class CardSummarySerializer(serializers.ModelSerializer):
    """A card in brief: what a move or a timer row answers with (the full card is
    `GET /api/v1/cards/{id}/`). `version` is the card's ETag."""

    class Meta:
        model = Task
        fields = ["id", "title", "status", "version"]
        read_only_fields = fields


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return user.get_full_name() or user.get_username()
