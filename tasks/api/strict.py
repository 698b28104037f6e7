"""Input is what the schema says, or a 400: the OpenAPI document is a contract (schemathesis
checks it), so a value of the wrong JSON type, an unknown query parameter or one given twice
is refused with a message instead of being coerced or silently ignored.

- `Strings`/`StrictCharField`/`StrictURLField`: a JSON string, not a number, of valid Unicode
  (a lone surrogate cannot be stored); `StrictCharField(pattern=…)` puts the rule for its
  characters in the schema too (TEXT: no NUL; LINE: one line, as `tasks.validators`);
- `StrictPrimaryKeyRelatedField`: a JSON integer id, not "5";
- `StrictQuery`: a view mixin refusing query parameters the endpoint does not take (its
  filters' and its paginator's, plus `query_parameters`), and a parameter given more than
  once unless it is in `repeatable_parameters`;
- `StrictBooleanFilter`: true or false, not "maybe" (django-filter ignores those);
- `IdFilter`: an id as a whole number; an id that names nothing filters everything out (an
  empty page, not an error: whether it exists is data, not the request's shape).
"""

from __future__ import annotations

import django_filters
from django import forms
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

NOT_A_STRING = "Send a string (in quotes)."
NOT_AN_ID = "Send the id as a whole number."

# What the characters of a text may be, as patterns the schema carries (the server's own
# checks say the same: DRF refuses NUL, `tasks.validators.validate_single_line` control
# characters but TAB). Lone surrogates are refused by `Strings`, not by a pattern: schema
# tools drop a pattern with a surrogate range (and generate no lone surrogates anyway).
_NUL = "\\x00"
_CONTROL = "\\x00-\\x08\\x0a-\\x1f\\x7f"
TEXT = f"^[^{_NUL}]*$"
NONBLANK_TEXT = f"^[^{_NUL}]*[^\\s{_NUL}][^{_NUL}]*$"
LINE = f"^[^{_CONTROL}]*$"
NONBLANK_LINE = f"^[^{_CONTROL}]*[^\\s{_CONTROL}][^{_CONTROL}]*$"


class Strings:
    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise ValidationError(NOT_A_STRING, code="invalid")
        try:
            data.encode()
        except UnicodeEncodeError:
            raise ValidationError("Send text in valid Unicode.", code="invalid") from None
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictCharField(Strings, serializers.CharField):
    def __init__(self, *, pattern: str = TEXT, **kwargs) -> None:
        message = {
            TEXT: "Text cannot contain NUL characters.",
            NONBLANK_TEXT: "Give some text (not blank), without NUL characters.",
            LINE: "Use a single line of text, without line breaks or control characters.",
            NONBLANK_LINE: "Give a single line of text (not blank), without line breaks or "
            "control characters.",
        }[pattern]
        kwargs.setdefault("validators", []).append(RegexValidator(pattern, message))
        # As sent: the pattern judges the text as the schema does; the actions strip it.
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class StrictURLField(Strings, serializers.URLField):
    pass


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            raise ValidationError(NOT_AN_ID, code="incorrect_type")
        return super().to_internal_value(data)


class _Boolean(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in ("true", "True", "1"):
            return True
        if value in ("false", "False", "0"):
            return False
        raise forms.ValidationError("Say true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = _Boolean


MAX_ID = 2**63 - 1  # the largest key a column holds


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "string", "maxLength": 100, "pattern": TEXT})
class TextFilter(django_filters.CharFilter):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("max_length", 100)
        super().__init__(*args, **kwargs)


class StrictQuery:
    """Refuse query parameters the endpoint does not take (400, naming them)."""

    query_parameters: tuple[str, ...] = ()
    repeatable_parameters: tuple[str, ...] = ()
    # Parameters whose value is text, so may be empty; any other given empty is a 400 (the
    # schema says a number, a choice, true or false).
    text_parameters: tuple[str, ...] = ("cursor", "q", "external_ref")

    def known_query_parameters(self) -> set[str]:
        known = set(self.query_parameters)
        if self.request.method not in ("GET", "HEAD"):  # type: ignore[attr-defined]
            return known
        filterset = getattr(self, "filterset_class", None)
        if filterset is not None:
            known |= set(filterset.base_filters)
        paginator = getattr(self, "paginator", None)
        if paginator is not None:
            for name in ("cursor_query_param", "page_size_query_param"):
                if getattr(paginator, name, None):
                    known.add(getattr(paginator, name))
        return known

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):  # type: ignore[attr-defined]
            return  # a method the endpoint does not have: 405, whatever the query says
        known = self.known_query_parameters()
        errors = {}
        for name in request.query_params:
            if name not in known:
                errors[name] = ["Not a parameter of this endpoint."]
            elif (
                name not in self.repeatable_parameters
                and len(request.query_params.getlist(name)) > 1
            ):
                errors[name] = ["Give this parameter once."]
            elif name not in self.text_parameters and "" in request.query_params.getlist(name):
                errors[name] = ["Give a value, or leave the parameter out."]
        if errors:
            raise ValidationError(errors)
