"""The "History" page of the SLA settings in admin: who changed what, when, before → after.

`SettingsHistoryAdmin` is simple-history's admin with three changes: the page also lists the
history of the rows edited inline on the same page (a calendar's hours and holidays, a
policy's targets and escalation rules); a created or deleted row shows its values, not only
changed rows their differences; and nothing is reverted from history (a revert would skip
what saving the page sets off, such as re-targeting the running timers). Saves through the
admin are recorded with the reason "admin" (`sla.history.settings_change`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib.admin.utils import unquote
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection, models
from django.http import Http404, HttpRequest, HttpResponseNotAllowed
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject, ModelChange
from simple_history.template_utils import HistoricalRecordContextHelper

from sla.history import settings_change

ADMIN_REASON = "admin"
# Rows of each inline part listed on the history page (newest first).
PART_ROWS = 200
EMPTY = "—"


class SettingsRecordHelper(HistoricalRecordContextHelper):
    """Values as a person reads them: choices by label, yes/no, "—" for nothing."""

    def prepare_delta_change_value(self, change: ModelChange, value: Any) -> Any:
        value = super().prepare_delta_change_value(change, value)
        field = self.model._meta.get_field(change.field)
        if value is None or value == "" or value == []:
            return EMPTY
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, timedelta):
            return _duration(value)
        if getattr(field, "flatchoices", None) and not isinstance(value, list):
            return dict(field.flatchoices).get(value, value)
        if isinstance(value, list) and field.name == "pausing_statuses":
            return ", ".join(map(str, value))
        return value


def _duration(value: timedelta) -> str:
    days, seconds = value.days, int(value.seconds)
    clock = f"{seconds // 3600}:{seconds % 3600 // 60:02d}"
    return f"{days} d {clock} h" if days else f"{clock} h"


def snapshot(model: type[models.Model], record) -> list[dict[str, Any]]:
    """Every tracked value of a history row: what a created row started with, or what a
    deleted row held."""
    changes = []
    for field in record.tracked_fields:
        if not field.editable or field.primary_key:
            continue
        value = getattr(record, field.attname)
        if isinstance(field, models.ForeignKey) and value is not None:
            try:
                value = getattr(record, field.name)
            except ObjectDoesNotExist:
                value = DeletedObject(field.related_model, value)
        changes.append(ModelChange(field.name, None, value))
    for field in record._history_m2m_fields:
        through = getattr(record, field.name).select_related()
        rows = [{f.name: getattr(row, f.name) for f in row._meta.fields} for row in through]
        changes.append(ModelChange(field.name, [], rows))
    helper = SettingsRecordHelper(model, record)
    shown = []
    for change in changes:
        formatted = helper.format_delta_change(change)
        if formatted.new != EMPTY:
            shown.append(
                {"field": formatted.field, "old": EMPTY, "new": formatted.new}
                if record.history_type == "+"
                else {"field": formatted.field, "old": formatted.new, "new": EMPTY}
            )
    return shown


def describe(model: type[models.Model], records) -> None:
    """Set `history_delta_changes` on each record (newest first, any mix of objects): the
    values of a created or deleted row, the differences of a changed row from the one
    before it of the same object."""
    by_object: dict[Any, list] = defaultdict(list)
    pk_name = model._meta.pk.attname
    for record in records:
        by_object[getattr(record, pk_name)].append(record)
    for versions in by_object.values():
        for newer, older in zip(versions, [*versions[1:], None], strict=True):
            if newer.history_type != "~" or older is None:
                newer.history_delta_changes = snapshot(model, newer)
                continue
            delta = newer.diff_against(older, foreign_keys_are_objs=True)
            helper = SettingsRecordHelper(model, newer)
            newer.history_delta_changes = helper.context_for_delta_changes(delta)


def _key(field, value: str) -> None:
    """A key in the URL that is no key of this table is a 404, not a 500."""
    try:
        key = field.to_python(value)
    except ValidationError:
        raise Http404 from None
    if isinstance(key, int):
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        if not low <= key <= high:
            raise Http404


def as_row(record) -> str:
    """A history row labelled as its object was then."""
    return str(record.history_object)


class SettingsHistoryAdmin(SimpleHistoryAdmin):
    """Admin of a settings model with its history page (see the module)."""

    object_history_template = "admin/sla/settings_history.html"
    object_history_list_template = "admin/sla/settings_history_list.html"
    # (title, model edited inline, its foreign key to this page's object, the label of one
    # of its history rows)
    history_parts: tuple[tuple[str, type[models.Model], str, Callable[[Any], str]], ...] = ()

    def changeform_view(self, request, *args, **kwargs):
        with settings_change(reason=ADMIN_REASON):
            return super().changeform_view(request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        with settings_change(reason=ADMIN_REASON):
            return super().delete_view(request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        with settings_change(reason=ADMIN_REASON):
            return super().changelist_view(request, *args, **kwargs)

    def history_form_view(self, request: HttpRequest, object_id, version_id, extra_context=None):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        _key(self.model._meta.pk, unquote(object_id))
        _key(models.AutoField(), version_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        # The oldest row of a page is compared with the newest of the next one.
        records = list(historical_records)
        if records:
            oldest, pk_name = records[-1], self.model._meta.pk.attname
            older = (
                type(oldest)
                .objects.filter(**{pk_name: getattr(oldest, pk_name)})
                .filter(history_date__lte=oldest.history_date, history_id__lt=oldest.history_id)
                .order_by("-history_date", "-history_id")
                .first()
            )
            describe(self.model, [*records, *([older] if older else [])])

    def history_view(self, request, object_id, extra_context=None):
        _key(self.model._meta.pk, unquote(object_id))
        parts = []
        for title, model, link, label in self.history_parts:
            history = model.history.filter(**{f"{link}_id": object_id}).select_related(
                "history_user"
            )
            records = list(history.order_by("-history_date", "-history_id")[:PART_ROWS])
            describe(model, records)
            for record in records:
                record.row_label = label(record)
            parts.append({"title": title, "records": records, "limit": PART_ROWS})
        return super().history_view(
            request, object_id, {"history_parts": parts, **(extra_context or {})}
        )
