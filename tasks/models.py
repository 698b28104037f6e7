"""The work model: teams, request types, related objects and cards with their typed history.

Cards change only through `tasks.actions`; this module holds data and one-row logic.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from tasks.queries import TaskManager
from tasks.search_vector import refresh as refresh_search_vectors
from tasks.states import (  # noqa: F401 (re-exported: callers import the states from here)
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Priority,
    Status,
)
from tasks.validators import validate_timezone_name

_open_cards = ~Q(status__in=CLOSED_STATUSES)


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_teams",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")
    slack_webhook_url = models.URLField(
        blank=True, help_text="Slack incoming webhook for this team's escalations."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# Where an approved card goes when its last approval step says yes.
APPROVED_STATUS_CHOICES = [
    (Status.IN_PROGRESS.value, "In progress (the work goes on)"),
    (Status.DONE.value, "Done (the decision was the work)"),
]


class RequestType(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    default_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    active = models.BooleanField(default=True)
    approved_status = models.CharField(
        "after approval",
        max_length=15,
        choices=APPROVED_STATUS_CHOICES,
        default=Status.IN_PROGRESS,
        help_text="Where a card goes once its last approval step approves it.",
    )
    mail_alias = models.SlugField(
        "mail alias",
        max_length=40,
        blank=True,
        help_text="Mail to cards+ALIAS@… (or ALIAS@…) at the intake address makes a card of "
        "this type, e.g. hiring. Blank: the name, lower-cased with dashes, still works.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["mail_alias"], condition=~Q(mail_alias=""), name="one_type_per_mail_alias"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ApprovalStep(models.Model):
    """One decision a card of this request type needs, in the order of `position`: approving
    one step asks the next; approving the last moves the card to the type's
    `approved_status`; rejecting any sends it back to work. A type without steps has one
    implicit step whose approver the sender names. Adding a step is adding a row."""

    request_type = models.ForeignKey(
        RequestType, on_delete=models.CASCADE, related_name="approval_steps"
    )
    position = models.PositiveSmallIntegerField(default=1)
    name = models.CharField(max_length=100, help_text="What is decided, e.g. Budget or Legal.")
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who decides by default (the sender may name someone else for the first "
        "step; blank: the sender, or the previous approver, names one).",
    )

    class Meta:
        ordering = ["request_type", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["request_type", "position"], name="one_approval_step_per_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.request_type}: step {self.position} ({self.name})"


class RelatedObject(models.Model):
    """What a card is about: a client, an order of that client, a document, a candidate…"""

    class Kind(models.TextChoices):
        CLIENT = "client", "Client"
        DEAL = "deal", "Deal"
        ORDER = "order", "Order"
        DOCUMENT = "document", "Document"
        APPLICATION = "application", "Application"
        SITE = "site", "Site / object"
        CANDIDATE = "candidate", "Candidate"
        OTHER = "other", "Other"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200)
    external_ref = models.CharField("external reference", max_length=100, blank=True)
    url = models.URLField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # The top-level ancestor (itself when it has no parent), kept on save so reports can
    # group by client in one GROUP BY instead of walking the tree.
    root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="descendants"
    )

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["kind", "name"])]
        constraints = [
            # A CRM that retries finds its client again instead of creating a second one.
            models.UniqueConstraint(
                fields=["kind", "external_ref"],
                condition=~Q(external_ref=""),
                name="one_related_object_per_ref",
            )
        ]

    def __str__(self) -> str:
        # As get_kind_display(), which rebuilds the choices on every call: the queue's client
        # filter labels 500 clients per page.
        return f"{self.Kind(self.kind).label if self.kind in self.Kind else self.kind}: {self.name}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        root_id = self.parent.root_id or self.parent_id if self.parent_id else self.pk
        if self.root_id != root_id:
            self.root_id = root_id
            RelatedObject.objects.filter(pk=self.pk).update(root_id=root_id)
        # Its cards are found by its name and reference (a rename reaches them here).
        refresh_search_vectors(related_object_id=self.pk)


class BlockingReason(models.Model):
    name = models.CharField(max_length=100, unique=True)
    pauses_sla = models.BooleanField(
        "pauses SLA",
        default=True,
        help_text="External waits pause SLA clocks; internal decisions usually don't.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    """A card: one piece of work with one accountable owner."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    request_type = models.ForeignKey(RequestType, on_delete=models.PROTECT)
    related_object = models.ForeignKey(
        RelatedObject, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.NEW)
    blocking_reason = models.ForeignKey(
        BlockingReason, null=True, blank=True, on_delete=models.PROTECT
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_tasks",
    )
    performers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="performing_tasks"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="approving_tasks",
    )
    observers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="observed_tasks"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT)
    # While on approval: the position (1-based) of the request type's approval step being
    # decided; 0 otherwise. `approval_round` counts every decision asked (each step of each
    # sending): the time-to-decision timer's cycle.
    approval_step = models.PositiveSmallIntegerField(default=0)
    approval_round = models.PositiveIntegerField(default=0)
    next_step = models.CharField(max_length=300, blank=True)
    next_step_due = models.DateTimeField(null=True, blank=True)
    source_url = models.URLField("source link", blank=True, max_length=500)
    # Where the card came from and its id there (a CRM, a chat, a mail, a script): a client
    # that sends the same pair again gets this card back instead of a second one (upsert by
    # reference, tasks.api). Empty for cards made on the pages.
    source = models.CharField(max_length=50, blank=True)
    external_ref = models.CharField("external reference", max_length=200, blank=True)
    created_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    # Set when the card needs a dispatcher's look (not taken in time, or escalated there);
    # cleared when someone takes it into work or reassigns it.
    dispatch_flag = models.CharField(max_length=200, blank=True)
    # Bumped by every action; forms carry it so a stale form cannot silently overwrite.
    version = models.PositiveIntegerField(default=1)
    # What the search finds a card by (tasks.search_vector, which alone writes it); its GIN
    # index `task_search` exists on PostgreSQL only (migration 0002), so it is not declared
    # below. Empty elsewhere.
    search_vector = SearchVectorField(null=True, editable=False)

    objects = TaskManager()

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("assign_task", "Can assign owners, performers and approvers"),
            ("work_task", "Can work on cards (status, next step, comments)"),
            ("approve_task", "Can decide approvals of cards"),
        ]
        indexes = [
            # My work: open cards of an owner.
            models.Index(fields=["owner", "status"], name="task_owner_open", condition=_open_cards),
            # At-risk queue with card filters (tasks.filters.AtRiskFilter.CARD_FILTERS): the
            # open cards that match, read from this index alone (PostgreSQL INCLUDE), then
            # their timers by card. By owner first: keyed by card alone, it also drew My
            # work's "open cards of an owner" into reading every entry.
            models.Index(
                fields=["owner", "id"],
                name="task_open_filters",
                condition=_open_cards,
                include=[
                    *("team", "request_type", "priority", "status"),
                    *("blocking_reason", "related_object"),
                ],
            ),
            # Team queues and workload.
            models.Index(fields=["team", "status"], name="task_team_status"),
            # Dispatch board: new / ownerless cards, oldest first.
            models.Index(
                fields=["created_at"],
                name="task_unowned_open",
                condition=_open_cards & Q(owner__isnull=True),
            ),
            # Dispatch board: open cards flagged as not taken in time, and open owned cards
            # without a next step, oldest first.
            models.Index(
                fields=["created_at", "id"],
                name="task_flagged_open",
                condition=_open_cards & ~Q(dispatch_flag=""),
            ),
            models.Index(
                fields=["created_at", "id"],
                name="task_nextless_open",
                condition=_open_cards & Q(owner__isnull=False, next_step="", dispatch_flag=""),
            ),
            models.Index(fields=["status", "created_at"], name="task_status_created"),
            # The approvals queue and the nav's count: cards on approval by approver
            # (tasks.boards.approvals); the approver's FK index holds every card she ever
            # approved and would read them all.
            models.Index(
                fields=["approver", "id"],
                name="task_approval_queue",
                condition=Q(status=Status.ON_APPROVAL),
            ),
            models.Index(fields=["request_type", "priority"], name="task_type_priority"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_ref"],
                condition=~Q(external_ref=""),
                name="one_card_per_source_ref",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("task_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    @property
    def next_step_overdue(self) -> bool:
        return bool(self.next_step_due and self.is_open and self.next_step_due < timezone.now())


class Comment(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Comment by {self.author} on #{self.task_id}"


class TaskEvent(models.Model):
    """Append-only, typed history of a card. Values are data (ids, codes), never labels."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        STATUS_CHANGED = "status_changed", "Status changed"
        BLOCKING_REASON_SET = "blocking_reason_set", "Blocking reason set"
        BLOCKING_REASON_CLEARED = "blocking_reason_cleared", "Blocking reason cleared"
        OWNER_CHANGED = "owner_changed", "Owner changed"
        PERFORMERS_CHANGED = "performers_changed", "Performers changed"
        APPROVER_CHANGED = "approver_changed", "Approver changed"
        PRIORITY_CHANGED = "priority_changed", "Priority changed"
        REQUEST_TYPE_CHANGED = "request_type_changed", "Request type changed"
        TEAM_CHANGED = "team_changed", "Team changed"
        NEXT_STEP_SET = "next_step_set", "Next step set"
        DETAILS_CHANGED = "details_changed", "Details changed"  # title, description, link
        DISPATCH_FLAGGED = "dispatch_flagged", "Flagged for dispatch"
        COMMENTED = "commented", "Commented"
        # Decisions of an approval step: new_value {"step": n, "of": steps, "as": role}
        # (role: "approver" or "team_manager"), note: the reason.
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    field = models.CharField(max_length=30, blank=True)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.CASCADE)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]
        indexes = [
            models.Index(fields=["task", "at"], name="event_task_at"),
            models.Index(fields=["kind", "at"], name="event_kind_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on #{self.task_id} at {self.at:%Y-%m-%d %H:%M}"


class Watch(models.Model):
    """Someone following a card: which of its events reach them (in-app and by email).
    A card's observers follow it with every kind on unless they have a row of their own."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="watches")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches"
    )
    status_changes = models.BooleanField(default=True)
    breaches = models.BooleanField(default=True)
    decisions = models.BooleanField("approval decisions", default=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "user"], name="one_watch_per_person")
        ]
        indexes = [models.Index(fields=["user", "task"], name="watch_user_task")]

    def __str__(self) -> str:
        return f"{self.user} watches #{self.task_id}"


class SavedView(models.Model):
    """A named filter set of the at-risk queue or the card list: personal, or shared read-only
    with one team. The query is stored normalized (see `tasks.saved_views.normalize_query`)."""

    class Page(models.TextChoices):
        QUEUE = "queue", "At-risk queue"
        CARDS = "cards", "Card list"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=80)
    page = models.CharField(max_length=5, choices=Page.choices)
    query = models.CharField(max_length=1000, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="saved_views"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["page", "name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "page", "name"], name="saved_view_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A personal token of the JSON API (Authorization: Bearer …) or of the calendar feed:
    it acts as its user with her permissions, within its scope. Only a hash is stored; the
    secret is shown once, when made (tasks.api.tokens)."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"
        CALENDAR = "calendar", "Calendar feed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=80)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    # sha256 hex of the secret; the first characters are kept to tell tokens apart.
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.user})"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class IdempotencyKey(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key`: the same key and body get it
    again instead of a second write; the same key with another body is refused. Kept for a
    day (tasks.api)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    # The method and path the key was first used on, and a sha256 of the body.
    request_path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="one_idempotency_key_per_user")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_age")]

    def __str__(self) -> str:
        return f"{self.key} ({self.user})"


class InboundMail(models.Model):
    """One decision of the mail intake (`tasks.mail_intake`) about one recipient of one
    incoming email: the card it made, the comment it added, or why it refused. Written only
    by `tasks.mail_intake`; shown read-only in admin. A reply becomes a comment once: the
    constraint refuses a second `comment` row for the same Message-ID."""

    class Outcome(models.TextChoices):
        CARD = "card", "Card created"
        COMMENT = "comment", "Comment added"
        DUPLICATE = "duplicate", "Already received"
        DISCARDED = "discarded", "Discarded (automatic mail)"
        REFUSED = "refused", "Refused"

    class Reason(models.TextChoices):
        NONE = "", "—"
        UNKNOWN_SENDER = "unknown_sender", "Unknown sender"
        NOT_ALLOWED = "not_allowed", "Sender may not do this"
        AUTOMATIC = "automatic", "Auto-reply or bulk mail"
        LOOP = "loop", "One of our own emails"
        TOO_BIG = "too_big", "Too big"
        UNKNOWN_MAILBOX = "unknown_mailbox", "Unknown address"
        UNKNOWN_CARD = "unknown_card", "Reply to an unknown card"
        INVALID = "invalid", "Unusable content"

    received_at = models.DateTimeField(default=timezone.now)
    message_id = models.CharField("Message-ID", max_length=255, blank=True)
    sender = models.CharField(max_length=254, blank=True)
    recipient = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    size = models.PositiveIntegerField(default=0, help_text="Bytes received.")
    attachments = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_mails"
    )
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = "inbound mail"
        constraints = [
            models.UniqueConstraint(
                fields=["message_id"],
                condition=Q(outcome="comment"),
                name="one_comment_per_mail",
            )
        ]
        indexes = [models.Index(fields=["message_id"], name="inbound_mail_message_id")]

    def __str__(self) -> str:
        return f"{self.message_id or '(no id)'} from {self.sender or '?'}: {self.outcome}"


class Profile(models.Model):
    """A person's own settings that the card domain needs: the timezone her pages, emails and
    Slack messages show times in (empty: the browser's zone on pages, the server's in
    messages). Written by `tasks.profiles.set_timezone`; notification preferences live in
    sla (`sla.models.NotificationPreference`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone_name])

    def __str__(self) -> str:
        return f"{self.user}: {self.timezone or 'no timezone chosen'}"
