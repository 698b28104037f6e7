"""Forms for the card pages. They only parse input; the changes happen in tasks.actions.

Fields a user may not set are simply not on their form, so extra POST keys (a hidden
`owner` or `status` smuggled in) are ignored rather than applied.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from tasks.models import BlockingReason, Priority, RelatedObject, RequestType, Status, Team

User = get_user_model()


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class UsersChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


def active_users():
    return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")


class VersionedForm(forms.Form):
    """Carries the card version the form was rendered for (see actions.lock_task)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class TaskCreateForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    request_type = forms.ModelChoiceField(queryset=RequestType.objects.filter(active=True))
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    related_object = forms.ModelChoiceField(
        queryset=RelatedObject.objects.select_related("parent"), required=False
    )
    source_url = forms.URLField(
        label="Source link", required=False, max_length=500, assume_scheme="https"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, help_text="Defaults to the type's team."
    )
    owner = UserChoiceField(queryset=active_users(), required=False)

    def __init__(self, *args, can_assign: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not can_assign:
            # Without the right to assign, a new card goes to the dispatch queue.
            del self.fields["owner"]
            del self.fields["team"]


class StatusForm(VersionedForm):
    to = forms.ChoiceField(label="Move to", choices=Status.choices)
    blocking_reason = forms.ModelChoiceField(
        queryset=BlockingReason.objects.filter(active=True),
        required=False,
        help_text="Required when the card is waiting.",
    )
    note = forms.CharField(max_length=500, required=False)

    def clean(self):
        data = super().clean()
        if data.get("to") == Status.WAITING and not data.get("blocking_reason"):
            self.add_error("blocking_reason", "Say what the card is waiting for.")
        return data


class CommentForm(forms.Form):
    text = forms.CharField(label="Comment", widget=forms.Textarea(attrs={"rows": 3}))


class AssignForm(VersionedForm):
    owner = UserChoiceField(queryset=active_users(), required=False)
    performers = UsersChoiceField(queryset=active_users(), required=False)
    approver = UserChoiceField(queryset=active_users(), required=False)


class ClassifyForm(VersionedForm):
    priority = forms.ChoiceField(choices=Priority.choices)
    request_type = forms.ModelChoiceField(queryset=RequestType.objects.filter(active=True))
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False)


class NextStepForm(VersionedForm):
    text = forms.CharField(label="Next step", max_length=300, required=False)
    due = forms.DateTimeField(
        label="Due",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In your timezone.",
    )

    def clean_due(self):
        due = self.cleaned_data.get("due")
        if due is not None and timezone.is_naive(due):
            due = timezone.make_aware(due)
        return due
