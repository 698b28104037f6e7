"""Django admin for the work model.

Configuration (teams, request types, related objects, blocking reasons) is edited here
freely. Cards are not: every field the workflow owns is read-only, cards are created in the
app, and the admin actions on cards call `tasks.actions` like every other entry point, so
history and SLA timers stay right. Comments and events are append-only history. The card's
timers are added to this admin by the SLA side (`sla.admin.cards`). API and calendar-feed
tokens are listed for admins to revoke (their owners make them on their tokens page).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from tasks import actions
from tasks.api import tokens
from tasks.models import (
    ApiToken,
    ApprovalStep,
    BlockingReason,
    Comment,
    InboundMail,
    Priority,
    RelatedObject,
    RequestType,
    Status,
    Task,
    TaskEvent,
    Team,
)
from tasks.permissions import people_who_may_approve

# Links typed without a scheme are https (Django 6's default; silences the 5.x warning).
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


class ReadOnlyMixin:
    """History and derived rows: visible to staff, never written through the admin."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager", "member_count"]
    list_select_related = ["manager"]
    search_fields = ["name"]
    autocomplete_fields = ["manager"]
    filter_horizontal = ["members"]
    formfield_overrides = URL_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description="members", ordering="member_count")
    def member_count(self, team: Team) -> int:
        return team.member_count


class ApprovalStepForm(forms.ModelForm):
    class Meta:
        model = ApprovalStep
        fields = ["position", "name", "approver"]

    def clean_approver(self):
        approver = self.cleaned_data.get("approver")
        if approver is not None and not people_who_may_approve().filter(pk=approver.pk).exists():
            raise forms.ValidationError(
                f"{approver} may not decide approvals: give them the manager role (or the "
                "“Can decide approvals of cards” permission) first."
            )
        return approver


class ApprovalStepInline(admin.TabularInline):
    """The request type's approval chain: one row per decision, in order of position."""

    model = ApprovalStep
    form = ApprovalStepForm
    extra = 0
    autocomplete_fields = ["approver"]


@admin.register(RequestType)
class RequestTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "default_team", "approved_status", "mail_alias", "active"]
    list_filter = ["active", "default_team"]
    list_select_related = ["default_team"]
    search_fields = ["name", "description", "mail_alias"]
    autocomplete_fields = ["default_team"]
    fields = ["name", "description", "default_team", "active", "approved_status", "mail_alias"]
    inlines = [ApprovalStepInline]


@admin.register(RelatedObject)
class RelatedObjectAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "external_ref", "parent", "root"]
    list_filter = ["kind"]
    list_select_related = ["parent", "root"]
    search_fields = ["name", "external_ref"]
    autocomplete_fields = ["parent"]
    # Kept by RelatedObject.save from the parent chain.
    readonly_fields = ["root"]
    formfield_overrides = URL_FIELDS


@admin.register(BlockingReason)
class BlockingReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "pauses_sla", "active"]
    list_editable = ["pauses_sla", "active"]
    list_filter = ["pauses_sla", "active"]
    search_fields = ["name"]


class CommentInline(ReadOnlyMixin, admin.TabularInline):
    model = Comment
    fields = ["created_at", "author", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Comment]:
        return super().get_queryset(request).select_related("author")


class TaskEventInline(ReadOnlyMixin, admin.TabularInline):
    model = TaskEvent
    fk_name = "task"
    fields = ["at", "kind", "field", "old_value", "new_value", "actor", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "history"

    def get_queryset(self, request: HttpRequest) -> QuerySet[TaskEvent]:
        return super().get_queryset(request).select_related("actor")


# Fields the workflow owns: they change only through tasks.actions (which writes the history
# and moves the SLA timers). related_object decides which policy matches and has no action
# yet, so it is read-only too.
WORKFLOW_FIELDS = [
    "status",
    "blocking_reason",
    "priority",
    "request_type",
    "related_object",
    "team",
    "owner",
    "performers",
    "approver",
    "next_step",
    "next_step_due",
    "created_at",
    "first_response_at",
    "resolved_at",
    "updated_at",
    "version",
]
# What is left: descriptive fields that neither the workflow nor the SLA reads. The card's
# details change through tasks.actions.update_details (history, version, listeners); the
# observers are a list beside the card, saved by the form.
DETAIL_FIELDS = ["title", "description", "source_url"]
EDITABLE_FIELDS = [*DETAIL_FIELDS, "observers"]


class TaskAdminForm(forms.ModelForm):
    """The card's details, held to the rules `tasks.actions.update_details` applies, so the
    form refuses what the action would (a refusal at save time would be a 500)."""

    def _cleaned(self, field: str, rule) -> str:
        try:
            return rule(self.cleaned_data[field])
        except actions.WorkflowError as error:
            raise forms.ValidationError(str(error)) from None

    def clean_title(self) -> str:
        return self._cleaned("title", actions.clean_title)

    def clean_description(self) -> str:
        return self._cleaned("description", actions.clean_description)

    def clean_source_url(self) -> str:
        return self._cleaned("source_url", actions.clean_source_url)


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "title",
        "status",
        "priority",
        "owner",
        "team",
        "request_type",
        "created_at",
    ]
    list_display_links = ["id", "title"]
    list_filter = ["status", "priority", "team", "request_type", "blocking_reason"]
    list_select_related = ["owner", "team", "request_type"]
    search_fields = ["=id", "title", "related_object__name", "related_object__external_ref"]
    date_hierarchy = "created_at"
    form = TaskAdminForm
    autocomplete_fields = ["observers"]
    readonly_fields = WORKFLOW_FIELDS
    formfield_overrides = URL_FIELDS
    fieldsets = [
        (None, {"fields": ["title", "description", "source_url"]}),
        (
            "Workflow (changed only through the app or the actions above)",
            {
                "fields": [
                    ("status", "blocking_reason"),
                    ("priority", "request_type"),
                    "related_object",
                    ("team", "owner"),
                    "performers",
                    "approver",
                    "observers",
                    ("next_step", "next_step_due"),
                ]
            },
        ),
        (
            "Timestamps",
            {
                "fields": [
                    ("created_at", "updated_at"),
                    ("first_response_at", "resolved_at"),
                    "version",
                ]
            },
        ),
    ]
    # sla.admin.cards adds the card's timers (an inline and a "next due" column).
    inlines = [CommentInline, TaskEventInline]
    actions = ["cancel_cards", "raise_priority"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # cards are created in the app, through tasks.actions.create_task

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # history is never rewritten: cancel a card instead

    def save_model(self, request: HttpRequest, obj: Task, form, change: bool) -> None:
        # Pass on only the details the form changed, so a change made meanwhile is never
        # overwritten by this form's stale copy; the action reloads the card under its lock.
        details = {f: form.cleaned_data[f] for f in DETAIL_FIELDS if f in form.changed_data}
        if details:
            actions.update_details(task=obj, actor=request.user, **details)

    @admin.action(description="Cancel selected cards", permissions=["change"])
    def cancel_cards(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        done = 0
        for task in queryset.order_by("pk"):
            try:
                actions.change_status(task=task, to=Status.CANCELLED, actor=request.user)
            except actions.WorkflowError as exc:
                self.message_user(request, f"{task}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"Cancelled {done} card(s).", messages.SUCCESS)

    @admin.action(description="Raise priority one step", permissions=["change"])
    def raise_priority(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        done = 0
        for task in queryset.order_by("pk"):
            current = Priority(task.priority)
            raised = Priority.raised(current)
            if raised == current:
                self.message_user(
                    request, f"{task}: already {current.label.lower()}.", messages.WARNING
                )
                continue
            try:
                actions.change_priority(task=task, priority=raised, actor=request.user)
            except actions.WorkflowError as exc:
                self.message_user(request, f"{task}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"Raised the priority of {done} card(s).", messages.SUCCESS)


@admin.register(Comment)
class CommentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "task", "author", "excerpt"]
    list_select_related = ["task", "author"]
    search_fields = ["text", "task__title", "=task__id"]
    date_hierarchy = "created_at"

    @admin.display(description="text")
    def excerpt(self, comment: Comment) -> str:
        return comment.text if len(comment.text) <= 80 else comment.text[:79] + "…"


@admin.register(TaskEvent)
class TaskEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "task", "kind", "field", "old_value", "new_value", "actor"]
    list_filter = ["kind"]
    list_select_related = ["task", "actor"]
    search_fields = ["=task__id", "task__title", "note"]
    date_hierarchy = "at"


@admin.register(InboundMail)
class InboundMailAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """What the mail intake did with each email (tasks.mail_intake): read-only."""

    list_display = ["received_at", "sender", "recipient", "subject", "outcome", "reason", "task"]
    list_filter = ["outcome", "reason"]
    list_select_related = ["task"]
    search_fields = ["sender", "recipient", "subject", "=message_id", "=task__id"]
    date_hierarchy = "received_at"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Everyone's API and calendar-feed tokens: read, and revoked (`tasks.api.tokens.revoke`).
    Made only by their owners (the secret is shown once, to them) or by the command."""

    list_display = ["name", "user", "scope", "prefix", "created_at", "last_used_at",
                    "expires_at", "revoked_at"]  # fmt: skip
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "name", "scope", "prefix", "created_at", "expires_at",
                       "last_used_at", "revoked_at"]  # fmt: skip
    fields = readonly_fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # revoked, not deleted: the list keeps who had access and until when

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        done = sum(tokens.revoke(token=token) for token in queryset)
        self.message_user(request, f"Revoked {done} token(s).", messages.SUCCESS)
