"""Forms for the card pages. They only parse input; the changes happen in tasks.actions.

Fields a user may not set are simply not on their form, so extra POST keys (a hidden
`owner` or `status` smuggled in) are ignored rather than applied.

Every field is bounded as `tasks.validators` says (sane dates, one-line titles, text caps, no
NUL) and the people fields offer only `people_who_may_work_cards`; `tasks.actions` applies the
same rules again for callers without a form. Each error has a message that names what is
wrong; `form_errors` reads them all (field and non-field) for the answers that are one line.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from tasks.actions import (
    NEXT_STEP_MAX_LENGTH,
    NOT_OF_THE_TEAM,
    NOTE_MAX_LENGTH,
    SOURCE_URL_MAX_LENGTH,
    person_name,
)
from tasks.models import (
    BlockingReason,
    Priority,
    RelatedObject,
    RequestType,
    Status,
    Task,
    Team,
)
from tasks.permissions import may_own_cards_of, people_who_may_own, people_who_may_work_cards
from tasks.validators import (
    TEXT_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    validate_no_nul,
    validate_sane_date,
    validate_single_line,
)

User = get_user_model()

NOT_A_WORKER = "Choose someone who may work on cards (a performer, dispatcher or manager)."
NOT_YOURS_TO_GIVE = (
    "You may make only yourself the owner of a new card, or leave it to the dispatchers "
    "(nobody); choosing another owner is for dispatchers and managers."
)


class UserChoiceField(forms.ModelChoiceField):
    default_error_messages = {"invalid_choice": NOT_A_WORKER}

    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class UsersChoiceField(forms.ModelMultipleChoiceField):
    default_error_messages = {
        "invalid_choice": f"{NOT_A_WORKER} “%(value)s” is not one.",
        "invalid_pk_value": "“%(pk)s” is not a person.",
    }

    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


def workers():
    """The people a card's people fields offer (tasks.permissions.people_who_may_work_cards)."""
    return people_who_may_work_cards().order_by("first_name", "last_name", "username")


def owners(team: Team | None):
    """The people a card of `team` may be given to as its owner
    (tasks.permissions.people_who_may_own), in the order the people fields list them."""
    return people_who_may_own(team).order_by("first_name", "last_name", "username")


class OwnerChoiceField(UserChoiceField):
    """A card's owner: one of its team's people who may work cards (`for_team` sets the
    team; until then anyone who may work cards). A posted non-worker is refused with
    NOT_A_WORKER, a worker of another team with NOT_OF_THE_TEAM (read only then: one query),
    the words `tasks.actions` refuses her with too."""

    team: Team | None = None

    def for_team(self, team: Team | None, keeps: int | None = None) -> None:
        """`keeps`: the card's present owner, offered and accepted though she is not of the
        team (the card was handed to another team with its owner; tasks.actions accepts an
        owner left as she is)."""
        self.team = team
        self.queryset = owners(team)
        if team is not None and keeps is not None:
            self.queryset = workers().filter(Q(pk__in=self.queryset.values("pk")) | Q(pk=keeps))

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as error:
            if error.code != "invalid_choice" or self.team is None:
                raise
            person = workers().filter(pk=value).first() if str(value).isdigit() else None
            if person is None:
                raise
            raise ValidationError(
                NOT_OF_THE_TEAM.format(name=self.label_from_instance(person), team=self.team),
                code="not_of_the_team",
            ) from error


def related_object_label(obj: RelatedObject) -> str:
    """A related object as its field and its picker (tasks.pickers) name it: kind, name and
    reference."""
    return f"{obj} ({obj.external_ref})" if obj.external_ref else str(obj)


class RelatedObjectChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return related_object_label(obj)


def choice(model: str) -> dict:
    """Error messages of a model choice field that name what was not found."""
    return {"invalid_choice": f"Choose a {model} from the list."}


STALE_FORM = "This form is out of date or incomplete; reload the card and try again."


class VersionedForm(forms.Form):
    """Carries the card version the form was rendered for (see actions.lock_task). A form
    without it, or with anything but a version number, is refused: the change could not be
    checked against changes made meanwhile."""

    version = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=0,
        max_value=2**31 - 1,
        error_messages={
            "required": STALE_FORM,
            "invalid": STALE_FORM,
            "min_value": STALE_FORM,
            "max_value": STALE_FORM,
        },
    )


def form_errors(form: forms.Form) -> str:
    """Every error of a bound form in one line: non-field errors first, then each field's,
    prefixed with its label (hidden fields such as `version` speak for themselves)."""
    parts = list(form.non_field_errors())
    for field in form:
        for error in field.errors:
            parts.append(error if field.is_hidden else f"{field.label}: {error}")
    return " ".join(parts)


class TaskCreateForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX_LENGTH, validators=[validate_single_line])
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=TEXT_MAX_LENGTH,
        validators=[validate_no_nul],
    )
    request_type = forms.ModelChoiceField(
        queryset=RequestType.objects.filter(active=True),
        error_messages=choice("request type"),
        widget=forms.Select(attrs={"data-picker": "request-types"}),
    )
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    related_object = RelatedObjectChoiceField(
        queryset=RelatedObject.objects.select_related("parent"),
        required=False,
        error_messages=choice("related object"),
        empty_label="None",
        widget=forms.Select(attrs={"data-picker": "related-objects"}),
    )
    source_url = forms.URLField(
        label="Source link",
        required=False,
        max_length=SOURCE_URL_MAX_LENGTH,
        assume_scheme="https",
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(),
        required=False,
        help_text="Defaults to the type's team.",
        error_messages=choice("team"),
    )
    owner = UserChoiceField(queryset=workers(), required=False)

    def __init__(self, *args, can_assign: bool, creator=None, **kwargs) -> None:
        """`can_assign`: the full owner and team fields (dispatchers, managers). Otherwise
        `creator`, when she may work cards, may make herself the owner (the default) or leave
        the card to the dispatchers; anyone else creates cards for dispatch only."""
        super().__init__(*args, **kwargs)
        self.creator = None if can_assign else creator
        if can_assign:
            owner = self.fields["owner"]
            assert isinstance(owner, UserChoiceField)
            owner.empty_label = "Nobody (to dispatch)"
            # Who may own cards; clean() keeps the card's team's people (people_who_may_own).
            owner.widget.attrs.update({"data-picker": "people", "data-role": "owner"})
            return
        del self.fields["team"]  # the type's team: a performer does not route cards
        if self.creator is None:
            # Without the right to assign or to work cards, a new card goes to dispatch.
            del self.fields["owner"]
            return
        owner = self.fields["owner"]
        owner.queryset = workers().filter(pk=self.creator.pk)
        owner.empty_label = "nobody (to dispatch)"
        owner.initial = self.creator.pk
        owner.help_text = (
            "You may own the cards of your teams; for another team's request, choose nobody."
        )
        owner.error_messages["invalid_choice"] = NOT_YOURS_TO_GIVE

    def clean(self):
        data = super().clean()
        owner, request_type = data.get("owner"), data.get("request_type")
        team = data.get("team") or (request_type.default_team if request_type else None)
        assigned = self.creator is None and owner is not None and team is not None
        if assigned and not people_who_may_own(team).filter(pk=owner.pk).exists():
            self.add_error("owner", NOT_OF_THE_TEAM.format(name=person_name(owner), team=team))
        mine = self.creator is not None and owner is not None and request_type is not None
        if mine and not may_own_cards_of(owner, request_type.default_team):
            self.add_error(
                "owner",
                f"Cards of {request_type.default_team} are owned by its people: choose "
                "nobody and the dispatchers will find the card an owner.",
            )
        return data


class StatusForm(VersionedForm):
    to = forms.ChoiceField(
        label="Move to",
        choices=Status.choices,
        error_messages={
            "required": "Choose the status to move the card to.",
            "invalid_choice": "“%(value)s” is not a status a card can move to.",
        },
    )
    blocking_reason = forms.ModelChoiceField(
        queryset=BlockingReason.objects.filter(active=True),
        required=False,
        help_text="Required when the card is waiting.",
        error_messages=choice("blocking reason that is in use"),
    )
    note = forms.CharField(max_length=NOTE_MAX_LENGTH, required=False)

    def clean(self):
        data = super().clean()
        if data.get("to") == Status.WAITING and not data.get("blocking_reason"):
            self.add_error("blocking_reason", "Say what the card is waiting for.")
        return data


class CommentForm(forms.Form):
    text = forms.CharField(
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=TEXT_MAX_LENGTH,
        validators=[validate_no_nul],
    )


class CardOwnerForm(VersionedForm):
    """A form with a card's owner: `task` (required) limits the owner to its team's people
    who may work cards (`OwnerChoiceField`)."""

    owner: OwnerChoiceField

    def __init__(self, *args, task: Task, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.task = task
        owner = self.fields["owner"]
        assert isinstance(owner, OwnerChoiceField)
        owner.for_team(task.team if task.team_id is not None else None, keeps=task.owner_id)
        # static/app.js makes it a type-ahead picker (tasks.pickers: ?card=…&role=owner).
        owner.widget.attrs.update(
            {"data-picker": "people", "data-card": task.pk, "data-role": "owner"}
        )


class AssignForm(CardOwnerForm):
    owner = OwnerChoiceField(queryset=workers(), required=False, empty_label="Nobody")
    performers = UsersChoiceField(queryset=workers(), required=False)
    approver = UserChoiceField(queryset=workers(), required=False)

    def __init__(self, *args, task: Task, **kwargs) -> None:
        super().__init__(*args, task=task, **kwargs)
        self.fields["performers"].widget.attrs.update(
            {"data-picker": "people", "data-card": task.pk, "data-role": "performer"}
        )


class DispatchAssignForm(CardOwnerForm):
    """The dispatch board's row: an owner, checked against the card's version."""

    owner = OwnerChoiceField(
        queryset=workers(),
        error_messages={"required": "Choose who should own this card."},
    )


class ClassifyForm(VersionedForm):
    priority = forms.ChoiceField(
        choices=Priority.choices,
        error_messages={"invalid_choice": "“%(value)s” is not a priority."},
    )
    request_type = forms.ModelChoiceField(
        queryset=RequestType.objects.filter(active=True),
        error_messages=choice("request type"),
        widget=forms.Select(attrs={"data-picker": "request-types"}),
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, error_messages=choice("team")
    )


class NextStepForm(VersionedForm):
    text = forms.CharField(
        label="Next step",
        max_length=NEXT_STEP_MAX_LENGTH,
        required=False,
        validators=[validate_single_line],
    )
    due = forms.DateTimeField(
        label="Due",
        required=False,
        validators=[validate_sane_date],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In your timezone.",
    )

    def clean_due(self):
        due = self.cleaned_data.get("due")
        if due is not None and timezone.is_naive(due):
            due = timezone.make_aware(due)
        return due
