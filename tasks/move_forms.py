"""Forms of the card page's named moves (tasks.moves) and of following a card. Like
`tasks.forms`, they only parse input: the changes happen in `tasks.actions`."""

from __future__ import annotations

from django import forms

from tasks.actions import DECISIONS, NOTE_MAX_LENGTH
from tasks.forms import StatusForm, UserChoiceField, VersionedForm
from tasks.permissions import people_who_may_approve

NOT_AN_APPROVER = "Choose someone who may decide approvals (a manager)."


def approvers():
    """The people a card may be sent to for a decision (`people_who_may_approve`)."""
    return people_who_may_approve().order_by("first_name", "last_name", "username")


class ApproverChoiceField(UserChoiceField):
    default_error_messages = {"invalid_choice": NOT_AN_APPROVER}


class MoveForm(StatusForm):
    """A named move of the card page: a status, with what the move asks for (a blocking
    reason and a note for Waiting for…, an approver for Send for approval)."""

    approver = ApproverChoiceField(
        queryset=approvers(), required=False, label="Approver", empty_label="Choose who decides"
    )

    def __init__(self, *args, **kwargs) -> None:
        # Its own ids: the page's people form has an approver field too.
        kwargs.setdefault("auto_id", "move_%s")
        super().__init__(*args, **kwargs)


class DecideForm(VersionedForm):
    """Approve or Reject the approval step the card waits for."""

    decision = forms.ChoiceField(
        choices=[(d, d) for d in DECISIONS],
        error_messages={
            "required": "Choose approve or reject.",
            "invalid_choice": "“%(value)s” is not a decision: approve or reject.",
        },
    )
    reason = forms.CharField(
        label="Reason", max_length=NOTE_MAX_LENGTH, required=False, widget=forms.Textarea
    )
    next_approver = ApproverChoiceField(
        queryset=approvers(),
        required=False,
        label="Who decides the next step",
        empty_label="Choose who decides",
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("reason") or "").strip():
            self.add_error(
                "reason", "Say why the card is rejected: the performer needs the reason."
            )
        return data


class WatchForm(forms.Form):
    """Follow a card (with the kinds of its events that should reach you) or stop."""

    follow = forms.ChoiceField(
        choices=[("follow", "Follow"), ("unfollow", "Unfollow")],
        error_messages={
            "required": "Choose to follow or unfollow.",
            "invalid_choice": "“%(value)s” is neither follow nor unfollow.",
        },
    )
    status_changes = forms.BooleanField(required=False, label="Status changes")
    breaches = forms.BooleanField(required=False, label="Breaches")
    decisions = forms.BooleanField(required=False, label="Approval decisions")

    KINDS = ("status_changes", "breaches", "decisions")
