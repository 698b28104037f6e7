"""Admin of SLA policies: criteria, targets (written through `sla.policies`), escalation
rules, and the deadline preview page."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from sla.admin.history import ADMIN_REASON, SettingsHistoryAdmin
from sla.admin.preview import deadline_preview, targets_preview
from sla.admin_forms import (
    CheckedAutocompleteMixin,
    DeadlinePreviewForm,
    SlaPolicyForm,
    SlaTargetForm,
    SlaTargetFormSet,
)
from sla.history import SettingsHistory
from sla.models import (
    BusinessCalendar,
    EscalationRule,
    SlaPolicy,
    SlaTarget,
)
from sla.policies import (
    Shadow,
    delete_target,
    queue_policy_recompute,
    set_targets,
    shadowed_cards,
)
from tasks.admin import URL_FIELDS
from tasks.models import Priority


class SlaTargetInline(admin.TabularInline):
    model = SlaTarget
    form = SlaTargetForm
    formset = SlaTargetFormSet
    extra = 0
    max_num = len(Priority)
    verbose_name_plural = (
        "targets (business time, e.g. 2h, 1h 30m or 3d; 1d = 24 working hours, not a calendar day)"
    )

    def get_extra(self, request: HttpRequest, obj=None, **kwargs) -> int:
        return len(Priority) if obj is None else 1


class EscalationRuleInline(CheckedAutocompleteMixin, admin.StackedInline):
    model = EscalationRule
    extra = 0
    autocomplete_fields = ["notify_user", "notify_group"]
    formfield_overrides = URL_FIELDS
    fieldsets = [
        (
            None,
            {"fields": [("active", "timer_kind"), ("trigger", "minutes_after_breach", "clock")]},
        ),
        (
            "Who",
            {
                "fields": [
                    ("notify_owner", "notify_performers", "notify_approver"),
                    ("notify_team_manager", "notify_dispatchers"),
                    ("notify_user", "notify_group"),
                ]
            },
        ),
        ("How", {"fields": [("in_app", "email", "slack"), "slack_webhook_url", "action"]}),
    ]


# The calendar named by the unsaved policy form, for its deadline preview.
PREVIEW_CALENDAR = forms.ModelChoiceField(
    queryset=BusinessCalendar.objects.all(),
    error_messages={"required": "choose the policy's calendar first."},
)

# Fields of a policy that decide which cards it times.
POLICY_CRITERIA = frozenset(
    {"active", "is_default", "order", "request_type", "priority", "team", "related_object_kind"}
)


def _target_row(record) -> str:
    return record.get_priority_display()


def _rule_row(record) -> str:
    when = record.get_trigger_display()
    if record.trigger == EscalationRule.Trigger.AFTER_BREACH:
        when = f"{record.minutes_after_breach} min ({record.clock}) after breach"
    return f"#{record.id}: {when}"


@admin.register(SlaPolicy)
class SlaPolicyAdmin(CheckedAutocompleteMixin, SettingsHistoryAdmin):
    form = SlaPolicyForm
    list_display = [
        "name",
        "order",
        "is_default",
        "active",
        "mode",
        "calendar",
        "request_type",
        "priority",
        "team",
        "related_object_kind",
    ]
    list_display_links = ["name"]
    list_filter = ["active", "mode", "is_default", "calendar"]
    list_select_related = ["calendar", "request_type", "team"]
    search_fields = ["name"]
    autocomplete_fields = ["request_type", "team", "calendar"]
    filter_horizontal = ["pausing_reasons"]
    inlines = [SlaTargetInline, EscalationRuleInline]
    history_parts = (
        ("targets", SlaTarget, "policy", _target_row),
        ("escalation rules", EscalationRule, "policy", _rule_row),
    )
    fieldsets = [
        (None, {"fields": ["name", ("order", "is_default", "active"), "mode", "calendar"]}),
        (
            "Applies to cards matching every criterion set (empty = any)",
            {"fields": ["request_type", "priority", "team", "related_object_kind"]},
        ),
        (
            "Pauses",
            {"fields": ["pausing_statuses", "pause_on_flagged_reasons", "pausing_reasons"]},
        ),
    ]

    def get_formset_kwargs(self, request: HttpRequest, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, SlaTargetInline) and obj.pk is None:
            # One row per priority to fill in; rows left untouched are not saved.
            kwargs["initial"] = [{"priority": p.value} for p in Priority]
        return kwargs

    def save_model(self, request: HttpRequest, obj: SlaPolicy, form, change: bool) -> None:
        previous = getattr(form, "replaces_default", None)
        if previous is not None:
            previous.is_default = False
            previous._change_reason = f"{ADMIN_REASON}: {obj} became the default policy"
            previous.save(update_fields=["is_default"])
            self.message_user(
                request, f"{obj} is now the default policy instead of {previous}.", messages.INFO
            )
        # Its history row waits for the pausing reasons (save_related): one save, one row.
        obj.skip_history_when_saving = True
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        del form.instance.skip_history_when_saving
        if not change or form.has_changed():
            SettingsHistory.record(form.instance, "~" if change else "+")
        if not change or form.has_changed() or any(f.has_changed() for f in formsets):
            self._recompute_open_cards(
                request,
                form.instance,
                rematch=not change or bool(POLICY_CRITERIA.intersection(form.changed_data)),
            )
        if not SlaPolicy.objects.filter(is_default=True, active=True).exists():
            self.message_user(
                request,
                "There is no active default policy: cards that match no other policy get no "
                "SLA timers.",
                messages.WARNING,
            )

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is SlaTarget:
            save_targets(formset, policy=form.instance, actor=request.user)
        else:
            super().save_formset(request, form, formset, change)

    def _recompute_open_cards(self, request, policy: SlaPolicy, *, rematch: bool) -> None:
        """Running timers follow the edited policy: a background job re-syncs the cards
        (one per policy and save, also when `set_targets` queued it already). Says which
        open cards the policy matches but an earlier policy keeps (the first match wins)."""
        queue_policy_recompute(policy=policy, rematch=rematch)
        scope = (
            "the open cards are matched to the policies again (each card gets the first "
            "active policy, in order, that matches it)"
            if rematch
            else "the open cards it times are brought in line with it"
        )
        self.message_user(
            request,
            f"{policy}: {scope} in the background; time already used stays used, the new "
            "targets and pauses apply from now on.",
            messages.INFO,
        )
        for shadow in shadowed_cards(policy):
            self.message_user(request, _shadow_message(policy, shadow), messages.WARNING)

    def get_urls(self):
        return [
            path(
                "preview-form/",
                self.admin_site.admin_view(self.form_preview_view),
                name="sla_slapolicy_form_preview",
            ),
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="sla_slapolicy_preview",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The preview fields under the form (read by form_preview_view, ignored on save).
        context["preview_form"] = DeadlinePreviewForm(prefix="preview")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def form_preview_view(self, request: HttpRequest) -> HttpResponse:
        """POST of the policy form as it is (unsaved): the deadlines its calendar and its
        target row for the chosen priority would give. Writes nothing."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        preview, problems = None, []
        try:
            calendar = PREVIEW_CALENDAR.clean(request.POST.get("calendar", ""))
        except ValidationError as error:
            calendar, problems = None, [f"Calendar: {' '.join(error.messages)}"]
        # A start without an offset is read as the calendar's local time.
        with timezone.override(ZoneInfo(calendar.timezone) if calendar else UTC):
            form = DeadlinePreviewForm(request.POST, prefix="preview")
            valid = form.is_valid()
        if valid and calendar is not None:
            priority = Priority(form.cleaned_data["priority"])
            row, problems = _unsaved_target(request.POST, priority)
            if not problems:
                try:
                    preview = targets_preview(calendar, row, form.cleaned_data["start"], priority)
                except ValueError as exc:
                    problems.append(f"No deadline can be computed: {exc}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Preview deadlines of the unsaved policy",
            "form": form,
            "problems": problems,
            "preview": preview,
            "calendar": calendar,
            "name": request.POST.get("name", ""),
        }
        status = 200 if preview is not None else 400
        return TemplateResponse(
            request, "admin/sla/slapolicy/form_preview.html", context, status=status
        )

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        policy = self.get_object(request, unquote(object_id))
        if policy is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, policy):
            raise PermissionDenied
        zone = ZoneInfo(policy.calendar.timezone)
        form = DeadlinePreviewForm(request.GET if "start" in request.GET else None)
        preview = None
        if form.is_bound:
            # A start without an offset is read as the calendar's local time.
            with timezone.override(zone):
                valid = form.is_valid()
            if valid:
                try:
                    preview = deadline_preview(
                        policy, form.cleaned_data["start"], Priority(form.cleaned_data["priority"])
                    )
                except ValueError as exc:
                    form.add_error(None, f"No deadline can be computed: {exc}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": policy,
            "title": f"Preview deadlines of {policy}",
            "form": form,
            "preview": preview,
            "calendar": policy.calendar,
        }
        return TemplateResponse(request, "admin/sla/slapolicy/preview.html", context)


def _unsaved_target(data, priority: Priority) -> tuple[SlaTarget | None, list[str]]:
    """The policy form's target row for `priority` as typed (not saved), or None when it has
    none; with the row's errors, if any."""
    try:
        rows = int(data.get("targets-TOTAL_FORMS", 0))
    except ValueError:
        return None, ["The target rows of the form cannot be read."]
    for index in range(min(rows, 100)):
        row = SlaTargetForm(data, prefix=f"targets-{index}")
        if row.data.get(row.add_prefix("priority")) != priority or row.data.get(
            row.add_prefix("DELETE")
        ):
            continue
        if not row.is_valid():
            errors = [f"{row.fields[name].label if name in row.fields else ''}: {' '.join(e)}"
                      for name, e in row.errors.items()]  # fmt: skip
            return None, [f"The {priority.label.lower()} target row: " + "; ".join(errors)]
        return row.instance, []
    return None, []


def _shadow_message(policy: SlaPolicy, shadow: Shadow) -> str:
    cards = ", ".join(f"#{pk}" for pk in shadow.card_ids)
    more = shadow.count - len(shadow.card_ids)
    if more:
        cards += f" and {more} more"
    if shadow.winner.order == policy.order:
        why = f"both have order {policy.order}, and on equal order the name decides"
    else:
        why = f"order {shadow.winner.order}, this policy {policy.order}"
    return (
        f"{shadow.count} open card(s) that {policy} matches stay with {shadow.winner}: {cards}. "
        f"{shadow.winner} is tried first ({why}; the first policy that matches a card times "
        "it). To take these "
        f"cards, give {policy} a lower order than {shadow.winner}, or narrow {shadow.winner}."
    )


def save_targets(formset, *, policy: SlaPolicy, actor) -> None:
    """Save the policy page's target rows through `sla.policies` (the one writer of
    targets), recording what changed for the admin's history as `formset.save()` would.
    Removals first (deleted rows, and the old priority of a row moved to another), so rows
    may trade priorities."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    edited = [f for f in formset.forms if f not in formset.deleted_forms and f.has_changed()]
    for row in formset.deleted_forms:
        if row.instance.pk is not None:
            delete_target(policy=policy, priority=row.initial["priority"], actor=actor)
            formset.deleted_objects.append(row.instance)
    for row in edited:
        if row.instance.pk is not None and "priority" in row.changed_data:
            delete_target(policy=policy, priority=row.initial["priority"], actor=actor)
    for row in edited:
        data = row.cleaned_data
        target = set_targets(
            policy=policy,
            priority=data["priority"],
            response=data["response_target"],
            resolution=data["resolution_target"],
            approval=data["approval_target"],
            warn_pct=data["warn_pct"],
            warn_lead=data["warn_lead"],
            actor=actor,
        )
        if row.instance.pk is None:
            formset.new_objects.append(target)
        else:
            formset.changed_objects.append((target, row.changed_data))
