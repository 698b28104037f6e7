"""Card list filters (django-filter), reflected in the URL."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Case, CharField, Exists, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Lower
from django.forms.renderers import BaseRenderer
from django.http import QueryDict
from django.template import engines
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from sla.models import SlaTimer
from sla.queries import InArray
from tasks.models import (
    BlockingReason,
    Priority,
    RelatedObject,
    RequestType,
    Status,
    Task,
    Team,
)

User = get_user_model()
SEARCH_MAX_LENGTH = 200
MAX_ID = 2**63 - 1  # the largest key a column holds; a bigger "id" names nothing


def _rank(field: str, choices: type[models.TextChoices]) -> Case:
    """A choice column in its meaning's order (critical before high; new before done), not
    alphabetically."""
    return Case(
        *(When(**{field: choice}, then=Value(i)) for i, choice in enumerate(choices)),
        default=Value(len(choices)),
        output_field=models.IntegerField(),
    )


# The card list's sortable columns (`?sort=priority`, `?sort=-created`): what each orders by,
# for a queryset of cards (prefix "") or of rows with a card (the at-risk queue's timers:
# "task__"). The card's id follows in the same direction, so pages never repeat or skip one.
def sort_columns(prefix: str = "") -> dict[str, tuple[str, tuple]]:
    return {
        "created": ("Created", (F(f"{prefix}created_at"),)),
        "updated": ("Last change", (F(f"{prefix}updated_at"),)),
        "title": ("Card", (Lower(f"{prefix}title"),)),
        "type": ("Type", (Lower(f"{prefix}request_type__name"),)),
        "owner": (
            "Owner",
            (Lower(f"{prefix}owner__first_name"), Lower(f"{prefix}owner__last_name")),
        ),
        "priority": ("Priority", (_rank(f"{prefix}priority", Priority),)),
        "status": ("Status", (_rank(f"{prefix}status", Status),)),
        "next_step_due": ("Next step due", (F(f"{prefix}next_step_due"),)),
    }


SORT_COLUMNS = sort_columns()
SORT_CHOICES = [
    choice
    for key, (label, _) in SORT_COLUMNS.items()
    for choice in ((key, f"{label} ↑"), (f"-{key}", f"{label} ↓"))
]


def sort_order(column: str, descending: bool, prefix: str = "") -> list:
    """The ORDER BY of a sortable column; empty values (no owner, no due time) last.
    `prefix`: the path to the card ("task__" from a timer); its own id breaks ties, and a
    card's timers follow in the order they were started whichever way the cards go: First
    response before Resolution."""
    columns = SORT_COLUMNS if not prefix else sort_columns(prefix)
    exprs = [*columns[column][1], F(f"{prefix}pk")]
    order = [e.desc(nulls_last=True) if descending else e.asc(nulls_last=True) for e in exprs]
    return order + ([F("pk").asc()] if prefix else [])


@dataclass(frozen=True)
class SortHeader:
    """A column heading of the card list: the query string that sorts by it (ascending
    first, then the other way when it is the current sort) and its `aria-sort`."""

    query: str
    aria_sort: str  # "ascending", "descending" or "none"


def sort_headers(params: QueryDict, current: str | None) -> dict[str, SortHeader]:
    headers = {}
    for column in SORT_COLUMNS:
        query = params.copy()
        query.pop("page", None)
        query["sort"] = f"-{column}" if current == column else column
        state = {column: "ascending", f"-{column}": "descending"}.get(current or "", "none")
        headers[column] = SortHeader(query.urlencode(), state)
    return headers


ANY = "Any"  # the empty choice of every filter (not Django's "---------")


def readable_empty_choices(form: forms.Form) -> None:
    """Every select of a filter form offers "Any" for "do not filter on this"."""
    for field in form.fields.values():
        if getattr(field, "empty_label", None) is None:
            continue
        if isinstance(field, forms.ModelChoiceField):
            field.empty_label = ANY  # read while the widget renders
        elif isinstance(field, forms.ChoiceField):
            # django-filter's choices were listed with the label already: list them anew.
            choices = [(value, label) for value, label in field.choices if value != ""]
            field.empty_label = None
            field.choices = [("", ANY), *choices]


class TaskFilter(django_filters.FilterSet):
    # A search longer than any title is not a search: flagged and ignored, not run.
    q = django_filters.CharFilter(method="search", label="Search", max_length=SEARCH_MAX_LENGTH)
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    open = django_filters.BooleanFilter(
        method="only_open",
        label="Open only",
        widget=forms.Select(choices=[("", ANY), ("true", "Yes"), ("false", "No")]),
    )
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.filter(is_active=True))
    request_type = django_filters.ModelChoiceFilter(queryset=RequestType.objects.all())
    client = django_filters.ModelChoiceFilter(
        queryset=RelatedObject.objects.filter(parent__isnull=True),
        field_name="related_object__root",
        label="Client / related object",
    )
    blocking_reason = django_filters.ModelChoiceFilter(queryset=BlockingReason.objects.all())
    no_owner = django_filters.BooleanFilter(
        field_name="owner",
        lookup_expr="isnull",
        label="Owner",
        widget=forms.Select(
            choices=[("", "With or without"), ("true", "Without owner"), ("false", "With owner")]
        ),
    )
    # Last: it orders what the filters above selected.
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES,
        method="sort_by",
        label="Sort",
        error_messages={"invalid_choice": "“%(value)s” is not a column the list sorts by."},
    )

    class Meta:
        model = Task
        fields: list[str] = []

    @property
    def form(self):
        if not hasattr(self, "_form"):
            readable_empty_choices(super().form)
        return self._form

    def sort_by(self, queryset, name, value):
        column, descending = value.removeprefix("-"), value.startswith("-")
        return queryset.order_by(*sort_order(column, descending))

    def search(self, queryset, name, value):
        value = value.strip()
        if value.startswith("#") and value[1:].isdigit():
            return queryset.filter(pk=int(value[1:]))
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))

    def only_open(self, queryset, name, value):
        return queryset.open() if value else queryset


BOOLEANS = ("true", "false")


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """A row by its id, not looked up (as the queue's `_IdChoiceFilter`): an id that names
    nothing selects nothing, and no query is spent checking it."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class CardApiFilter(TaskFilter):
    """The card list's filters for the API (`GET /api/v1/cards/`): the list page's, and the
    related object itself, breached cards and changes since a time. No `sort`: the API's
    pages follow one stable order (newest first, tasks.api.limits.CursorPage)."""

    sort = None  # type: ignore[assignment]
    # distinct=False: the card's own columns, no join can repeat a card; a DISTINCT would
    # make PostgreSQL read every match before the first page.
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, distinct=False)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    team = IdFilter(field_name="team")
    owner = IdFilter(field_name="owner")
    request_type = IdFilter(field_name="request_type")
    client = IdFilter(field_name="related_object__root", label="Client and what is under it")
    blocking_reason = IdFilter(field_name="blocking_reason")
    related_object = IdFilter(field_name="related_object", label="Related object")
    breached = django_filters.BooleanFilter(
        method="only_breached", label="Breached: a running deadline has passed"
    )
    updated_since = django_filters.IsoDateTimeFilter(
        method="changed_since", label="Changed at or after"
    )

    def changed_since(self, queryset, name, value):
        # In UTC: PostgreSQL takes offsets up to ±15:59 only, ISO 8601 up to ±23:59.
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            return queryset.none() if value.year > 2000 else queryset
        return queryset.filter(updated_at__gte=value)

    def is_valid(self) -> bool:
        """Valid filters, and none given empty (`?team=`): an empty value is no id, date or
        choice; the page's forms skip it, the API says so), a filter of one value given once,
        a yes/no given as true or false."""
        valid = super().is_valid()
        for name, spec in self.filters.items():
            given = self.data.getlist(name) if hasattr(self.data, "getlist") else []
            if not given:
                continue
            if name != "q" and "" in given:
                problem = "Give a value or leave it out."
            elif len(given) > 1 and not isinstance(spec, django_filters.MultipleChoiceFilter):
                problem = "Give one value."
            elif isinstance(spec, django_filters.BooleanFilter) and given[0] not in BOOLEANS:
                problem = "Give true or false."
            else:
                continue
            if name not in self.form.errors:
                self.form.add_error(name, ValidationError(problem, code="invalid"))
            valid = False
        return valid

    def only_breached(self, queryset, name, value):
        if value is None:
            return queryset
        breached = Exists(
            SlaTimer.objects.breached(timezone.now()).filter(task=OuterRef("pk")).values("pk")
        )
        return queryset.filter(breached if value else ~breached)


class _PartialsRenderer(BaseRenderer):
    """Renders widgets with the Jinja2 engine of TEMPLATES (templates/jinja2/)."""

    def get_template(self, template_name: str):
        return engines["jinja2"].get_template(template_name)


_PARTIALS = _PartialsRenderer()


class Select(forms.Select):
    """Django's select, its templates inlined in one Jinja2 template
    (templates/jinja2/tasks/_select.html): the queue's filter form has some 600 options
    (clients, people), and Django's own templates include two templates per option.
    Everything else (choices, value, attributes) is Django's widget."""

    template_name = "tasks/_select.html"

    def render(self, name, value, attrs=None, renderer=None):
        return super().render(name, value, attrs, renderer=_PARTIALS)


class SelectMultiple(Select, forms.SelectMultiple):
    pass


class _IdChoiceField(forms.ModelChoiceField):
    """A model choice checked by form only (a whole number), not looked up: the queue filters
    by the id, so an id that matches nothing shows an empty queue. Saves one query per model
    filter on each refresh of the queue (polled every 30 s); the choices still render."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, str) and value.strip().isdigit() and int(value) <= MAX_ID:
            return int(value)
        raise ValidationError(
            self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
        )


class _IdChoiceFilter(django_filters.ModelChoiceFilter):
    """`label_fields`: the columns the model's `__str__` reads (one or two), so the choices
    can be read with the other filters' in one query (`_one_query_choices`)."""

    field_class = _IdChoiceField

    def __init__(self, *args, label_fields: tuple[str, ...] = ("name",), **kwargs):
        self.label_fields = label_fields
        super().__init__(*args, **kwargs)


def _loaded(model, fields: dict):
    """An instance with only these fields, as a queryset's `.only()` loads it (`from_db`
    skips the defaults of every other field, which `model(**fields)` would build for each of
    the hundreds of clients on every page of the queue)."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in fields]
    return model.from_db(None, names, [fields[name] for name in names])


def _one_query_choices(form: forms.Form, filters: dict[str, _IdChoiceFilter]) -> None:
    """Give the form's model choice fields choices read together, in one `UNION ALL` (one
    query instead of one per field), the first time one of them is rendered: validating a
    filter never reads them (`_IdChoiceField`), so the queue's partial costs nothing here.
    Each list keeps its queryset's rows and order (the model's ordering, else the key) and
    `label_from_instance` labels (the instance rebuilt from `label_fields`)."""
    parts = []
    for name, spec in filters.items():
        queryset = form.fields[name].queryset
        ordering = queryset.query.order_by or queryset.model._meta.ordering
        assert len(ordering) <= 1 and len(spec.label_fields) <= 2, name  # one sort column
        first, *rest = spec.label_fields
        parts.append(
            queryset.order_by()
            .annotate(
                choice_list=Value(name, output_field=CharField()),
                choice_sort=F(ordering[0]) if ordering else Value("", output_field=CharField()),
                choice_a=F(first),
                choice_b=F(rest[0]) if rest else Value("", output_field=CharField()),
            )
            .values_list("choice_list", "choice_sort", "pk", "choice_a", "choice_b")
        )
    loaded: dict[str, list] = {}

    def load() -> dict[str, list]:
        if not loaded:
            rows = parts[0].union(*parts[1:], all=True).order_by("choice_list", "choice_sort", "pk")
            loaded.update({name: [] for name in filters})
            for name, _, pk, a, b in rows:
                model = form.fields[name].queryset.model
                fields = {model._meta.pk.attname: pk}
                fields.update(zip(filters[name].label_fields, (a, b), strict=False))
                loaded[name].append((pk, _loaded(model, fields)))
        return loaded

    def choices_of(name: str):
        field = form.fields[name]

        labelled: list = []

        def choices() -> list:  # called at each iteration of the choices: labelled once
            if not labelled:
                if field.empty_label is not None:
                    labelled.append(("", field.empty_label))
                labelled.extend((pk, field.label_from_instance(obj)) for pk, obj in load()[name])
            return labelled

        return choices

    for name in filters:
        form.fields[name].choices = choices_of(name)


class AtRiskFilter(django_filters.FilterSet):
    """Filters of the at-risk queue, over open SLA timers and their cards. The card filters
    (CARD_FILTERS, field names of the card) pick open cards; the queue keeps their timers."""

    team = _IdChoiceFilter(
        queryset=Team.objects.all(), field_name="team", label="Team", widget=Select
    )
    owner = _IdChoiceFilter(
        queryset=User.objects.filter(is_active=True),
        field_name="owner",
        label="Owner",
        label_fields=("username",),
        widget=Select,
    )
    request_type = _IdChoiceFilter(
        queryset=RequestType.objects.all(),
        field_name="request_type",
        label="Type",
        widget=Select,
    )
    # distinct=False: these read the card's own columns, so no join can repeat a card.
    priority = django_filters.MultipleChoiceFilter(
        choices=Priority.choices,
        field_name="priority",
        label="Priority",
        distinct=False,
        widget=SelectMultiple,
    )
    client = _IdChoiceFilter(
        queryset=RelatedObject.objects.filter(parent__isnull=True),
        field_name="related_object__root",
        label="Client / related object",
        label_fields=("kind", "name"),
        widget=Select,
    )
    status = django_filters.MultipleChoiceFilter(
        choices=[(s.value, s.label) for s in Status if s not in (Status.DONE, Status.CANCELLED)],
        field_name="status",
        label="Status",
        distinct=False,
        widget=SelectMultiple,
    )
    blocking_reason = _IdChoiceFilter(
        queryset=BlockingReason.objects.all(),
        field_name="blocking_reason",
        label="Blocked by",
        widget=Select,
    )
    timer = django_filters.ChoiceFilter(
        label="Timer state",
        choices=[("breached", "Breached"), ("warned", "At risk"), ("running", "Running"),
                 ("paused", "Paused")],
        method="by_band",
        widget=Select,
    )  # fmt: skip
    kind = django_filters.ChoiceFilter(
        label="Timer",
        choices=[("response", "First response"), ("resolution", "Resolution")],
        widget=Select,
    )

    class Meta:
        model = SlaTimer
        fields: list[str] = []

    CARD_FILTERS = ("team", "owner", "request_type", "priority", "client", "status",
                    "blocking_reason")  # fmt: skip

    def __init__(self, *args, teams: Collection[int] | None = None, **kwargs):
        """`teams`: the queue's "My teams" (`tasks.boards.scope`): only the timers of cards
        of these teams and of no team, picked as the card filters pick theirs. None: every
        team."""
        super().__init__(*args, **kwargs)
        self.teams = teams

    @property
    def form(self):
        if not hasattr(self, "_form"):
            form = super().form
            models = {n: f for n, f in self.filters.items() if isinstance(f, _IdChoiceFilter)}
            _one_query_choices(form, models)
            readable_empty_choices(form)
        return self._form

    @property
    def qs(self):
        if not hasattr(self, "_qs") and not self.is_bound and self.teams is not None:
            self._qs = self.filter_queryset(self.queryset.all())  # no filters, the teams only
        return super().qs

    @property
    def picks_cards(self) -> bool:
        """Whether card filters pick the cards whose timers are shown (`InArray`)."""
        if self.teams is not None:
            return True
        if not self.is_bound:
            return False
        self.is_valid()  # validated: cleaned_data holds the valid filters, errors aside
        return any(self.form.cleaned_data.get(name) for name in self.CARD_FILTERS)

    def filter_queryset(self, queryset):
        cards = Task.objects.open()
        if self.teams is not None:
            cards = cards.of_teams(self.teams)
        for name, value in (self.form.cleaned_data if self.is_bound else {}).items():
            if name in self.CARD_FILTERS:
                cards = self.filters[name].filter(cards, value)
            else:
                queryset = self.filters[name].filter(queryset, value)
        if self.picks_cards:
            # The timers of the matching cards, read card by card (one_timer_per_cycle)
            # after the cards (index task_open_filters): joined instead, PostgreSQL read
            # every open timer from the table, a cost that grows with all open timers, not
            # with the cards picked. Open timers belong to open cards (sla.actions stops
            # them when a card closes).
            queryset = queryset.filter(InArray(F("task_id"), Subquery(cards.values("pk"))))
        return queryset

    def by_band(self, queryset, name, value):
        from sla.queries import BAND_NAMES

        band = {v: k for k, v in BAND_NAMES.items()}[value]
        return queryset.filter(band=band)
