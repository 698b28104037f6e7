"""What the Slack app does, after the endpoint has answered (django-q jobs: `async_task`).

Slack wants an answer within 3 seconds; the endpoint (sla.slack_app.views) verifies, records
and acknowledges, and these run after it: map the Slack user to a person, act through
`tasks.actions` as that person with the permissions `tasks.moves` gives them, and answer —
ephemerally through the request's `response_url`, in the card's thread, or by updating the
message that was clicked.

Every job is idempotent under retries (django-q delivers at least once; Slack retries a
delivery it thinks was lost): cards are made once per reference (`source` + `external_ref`:
the message permalink, or the slash command's trigger id), and a move already made is
explained, not repeated.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from sla.models import CardThread, SlaTimer, TimerKind
from sla.notify import one_line, slack_escape
from sla.slack_app import blocks, people, signing, web
from tasks import actions, moves, permissions
from tasks.models import BlockingReason, Priority, RelatedObject, RequestType, Status, Task

log = logging.getLogger(__name__)

SOURCE = "slack"
MINE_LIMIT = 10

HELP = (
    "*/turnaround* keeps promises made in Slack:\n"
    "• `/turnaround new <title>`: make a card now (default request type; you own it where "
    "you may), answered with its link and deadline\n"
    "• `/turnaround mine`: your open cards, most urgent first\n"
    "• `/turnaround`: the full form (request type, priority, owner, client)\n"
    "• On any message: *More actions → Make a card* tracks it and replies in its thread.\n"
    "Alerts about your cards come as direct messages with buttons to act on them."
)


# --------------------------------------------------------------------------- shared


def respond(response_url: str, text: str) -> None:
    """An ephemeral answer to the person who typed or clicked (only they see it)."""
    if not response_url:
        return
    WebhookClient(response_url, timeout=web.TIMEOUT).send_dict(blocks.ephemeral(text))


def due_of(task: Task) -> datetime | None:
    """The deadline of the card's running resolution cycle (None: no SLA, or paused)."""
    timer = (
        SlaTimer.objects.filter(task=task, kind=TimerKind.RESOLUTION, stopped_at=None)
        .order_by("-cycle")
        .first()
    )
    return timer.due_at if timer is not None else None


def due_text(task: Task, reader: User | None) -> str:
    due = due_of(task)
    if due is None:
        return "no deadline yet"
    return f"{web.slack_time(due, reader)} (business hours)"


def default_request_type() -> RequestType | None:
    """The request type of `/turnaround new` cards: SLACK_DEFAULT_REQUEST_TYPE by name, or
    else the first active one by name."""
    active = RequestType.objects.filter(active=True)
    if settings.SLACK_DEFAULT_REQUEST_TYPE:
        return active.filter(name=settings.SLACK_DEFAULT_REQUEST_TYPE).first()
    return active.order_by("name").first()


def _who(payload: dict) -> tuple[str, str]:
    """(team id, user id) of the person behind an interaction or a slash command."""
    user = payload.get("user")
    if isinstance(user, dict):
        team = (payload.get("team") or {}).get("id") or user.get("team_id", "")
        return team, user.get("id", "")
    return payload.get("team_id", ""), payload.get("user_id", "")


def _person(payload: dict) -> tuple[User | None, str]:
    team, slack_id = _who(payload)
    return people.person(team, slack_id)


def _owner_for(user: User, request_type: RequestType | None) -> User | None:
    """The sender owns what they make when they may own cards of the request type's team
    (`tasks.permissions.people_who_may_own`, the rule `tasks.actions` holds the owner to);
    otherwise it goes to dispatch."""
    team = request_type.default_team if request_type is not None else None
    return user if permissions.people_who_may_own(team).filter(pk=user.pk).exists() else None


# --------------------------------------------------------------------------- /turnaround


def command(payload: dict) -> None:
    """`/turnaround new <title>` and `/turnaround mine` (help and the bare command are
    answered by the endpoint itself)."""
    response_url = payload.get("response_url", "")
    verb, _, rest = (payload.get("text") or "").strip().partition(" ")
    user, email = _person(payload)
    if user is None:
        return respond(response_url, people.unknown_text(email))
    if verb.lower() == "mine":
        return respond(response_url, mine_text(user))
    respond(response_url, new_card(payload, user, rest.strip()))


def new_card(payload: dict, user: User, title: str) -> str:
    if not permissions.can_create(user):
        return "You may not create cards in Turnaround: ask a dispatcher to make this one."
    request_type = default_request_type()
    if request_type is None:
        return "No request type is set up for cards from Slack: ask a Turnaround admin."
    ref = f"command:{payload.get('team_id', '')}:{payload.get('trigger_id', '')}"
    try:
        task = actions.create_task(
            title=title,
            request_type=request_type,
            priority=Priority.NORMAL,
            actor=user,
            owner=_owner_for(user, request_type),
            source=SOURCE,
            external_ref=ref,
        )
    except actions.AlreadyTracked as tracked:
        task = tracked.task  # a retried delivery: the card made the first time
    except actions.WorkflowError as error:
        return f"No card made: {slack_escape(str(error))}"
    owner = slack_escape(blocks.name_of(task.owner))
    return f"Created {blocks.card_line(task)} · {owner} · due {due_text(task, user)}"


def mine_text(user: User) -> str:
    """The person's open cards, most urgent first: the nearest deadline of a running timer
    (a breached one is the nearest of all); cards without one last."""
    cards = list(
        Task.objects.open()
        .filter(owner=user)
        .annotate(due=Min("timers__due_at", filter=Q(timers__stopped_at=None)))
        .order_by(F("due").asc(nulls_last=True), "pk")[: MINE_LIMIT + 1]
    )
    if not cards:
        return "You have no open cards. :tada:"
    lines = ["*Your open cards*, most urgent first:"]
    for task in cards[:MINE_LIMIT]:
        due = web.slack_time(task.due, user) if task.due else "no deadline"
        lines.append(f"• {blocks.card_line(task)} · {task.get_status_display()} · due {due}")
    if len(cards) > MINE_LIMIT:
        lines.append(f"…and more on <{web.my_work_url()}|My work>.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the modal


def modal_for(
    user: User | None, *, text: str = "", metadata: dict, request_type: RequestType | None = None
) -> dict:
    """The "Make a card" modal, pre-filled from a message's text: its first line is the
    title, the whole text the description. `user` (if already known) is the owner offered."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    title = one_line(lines[0]) if lines else ""
    request_type = request_type or default_request_type()
    owner = _owner_for(user, request_type) if user is not None else None
    # Those who assign pick anyone who may own cards; others themselves or nobody (as on the
    # web form; the submission checks it again).
    if user is None or user.has_perm("tasks.assign_task"):
        owners = list(permissions.people_who_may_work_cards().order_by("first_name", "username"))
    else:
        # Herself, chosen at first only for a card of her team (she may pick another type).
        owners = [user] if permissions.may_work_cards(user) else []
    return blocks.card_modal(
        title=title,
        description=text,
        request_types=RequestType.objects.filter(active=True).order_by("name"),
        owners=owners,
        owner=owner,
        metadata=metadata,
        request_type=request_type,
    )


def card_form_errors(values: dict[str, str]) -> dict[str, str]:
    """What is wrong with a submitted modal, by block id (answered at once, in the modal)."""
    errors = {}
    try:
        actions.clean_title(values.get(blocks.TITLE, ""))
    except actions.WorkflowError as error:
        errors[blocks.TITLE] = str(error)
    active_types = RequestType.objects.filter(active=True)
    if not active_types.filter(pk=_pk(values.get(blocks.REQUEST_TYPE))).exists():
        errors[blocks.REQUEST_TYPE] = "Pick an active request type."
    if values.get(blocks.PRIORITY) not in Priority.values:
        errors[blocks.PRIORITY] = "Pick a priority."
    related = values.get(blocks.RELATED, "")
    if related and _related(related) is None:
        errors[blocks.RELATED] = f"No client or project is named “{related}” in Turnaround."
    return errors


def _pk(value: str | None) -> int:
    """An id from Slack's strings; 0 (no row has it) for anything else."""
    return int(value) if value and value.isdigit() and len(value) < 12 else 0


def _related(name: str) -> RelatedObject | None:
    return RelatedObject.objects.filter(name__iexact=name).order_by("pk").first()


def make_card(payload: dict) -> None:
    """A submitted "Make a card" modal: the card, made once per message (its permalink is
    the card's reference), and the reply in the message's thread."""
    view = payload.get("view") or {}
    meta = blocks.metadata_of(view)
    team, slack_id = _who(payload)
    channel = meta.get("channel", "")
    user, email = _person(payload)
    if user is None:
        return _tell(channel, slack_id, people.unknown_text(email))
    refusal = _may_make(user, blocks.submitted(view))
    if refusal:
        return _tell(channel, slack_id, refusal)
    values = blocks.submitted(view)
    permalink = _permalink(channel, meta.get("message_ts", ""))
    ref = permalink or f"modal:{team}:{view.get('id', '')}"
    owner_pk = _pk(values.get(blocks.OWNER))
    try:
        with transaction.atomic():
            task = actions.create_task(
                title=values.get(blocks.TITLE, ""),
                request_type=RequestType.objects.get(pk=_pk(values.get(blocks.REQUEST_TYPE))),
                priority=values.get(blocks.PRIORITY) or Priority.NORMAL,
                actor=user,
                owner=User.objects.filter(pk=owner_pk).first() if owner_pk else None,
                related_object=_related(values.get(blocks.RELATED, "")),
                description=values.get(blocks.DESCRIPTION, ""),
                source_url=permalink,
                source=SOURCE,
                external_ref=ref,
            )
            thread_ts = meta.get("thread_ts") or meta.get("message_ts") or ""
            if channel and thread_ts:
                CardThread.objects.create(
                    task=task, team_id=team, channel=channel, thread_ts=thread_ts,
                    permalink=permalink, created_at=timezone.now(),
                )  # fmt: skip
    except actions.AlreadyTracked as tracked:
        return _tell(channel, slack_id, f"Already tracked as {blocks.card_line(tracked.task)}.")
    except (actions.WorkflowError, RequestType.DoesNotExist) as error:
        return _tell(channel, slack_id, f"No card made: {slack_escape(str(error))}")
    created = f"Created {blocks.card_line(task)} · due {due_text(task, user)}"
    if not (channel and thread_ts):
        return _tell(channel, slack_id, created)
    try:
        web.client().chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=blocks.tracked_text(task, due_text(task, None)),
            metadata=blocks.metadata(task),
            unfurl_links=False,
        )
    except SlackApiError as error:  # a private channel the app is not in: say so, once
        log.info("thread reply for #%s failed: %s", task.pk, error.response.get("error"))
        _tell("", slack_id, f"{created}. I could not reply in the thread: invite me there.")


def _may_make(user: User, values: dict[str, str]) -> str:
    """Why this person may not make this card ('' if they may): creating at all, and naming
    an owner other than themselves is for those who assign (as on the web form)."""
    if not permissions.can_create(user):
        return "You may not create cards in Turnaround: ask a dispatcher to make this one."
    owner_pk = _pk(values.get(blocks.OWNER))
    if not owner_pk or owner_pk == user.pk or user.has_perm("tasks.assign_task"):
        if owner_pk and not permissions.people_who_may_work_cards().filter(pk=owner_pk).exists():
            return "That person may not own cards: pick someone else, or nobody."
        return ""
    return (
        "No card made: only dispatchers and managers assign cards to others. Make yourself "
        "the owner, or leave it to dispatch."
    )


def _permalink(channel: str, message_ts: str) -> str:
    if not channel or not message_ts:
        return ""
    try:
        answer = web.client().chat_getPermalink(channel=channel, message_ts=message_ts)
    except SlackApiError as error:
        log.warning("chat.getPermalink failed: %s", error.response.get("error"))
        return ""
    return str(answer.get("permalink") or "")[:200]


def _tell(channel: str, slack_id: str, text: str) -> None:
    """An answer only this person sees: ephemeral in the channel, or else a direct message."""
    client = web.client()
    if channel:
        try:
            client.chat_postEphemeral(channel=channel, user=slack_id, text=text)
            return
        except SlackApiError as error:  # the app is not in that channel
            log.info("chat.postEphemeral failed: %s", error.response.get("error"))
    client.chat_postMessage(channel=slack_id, text=text)


# --------------------------------------------------------------------------- buttons


def click(payload: dict) -> None:
    """A button (or the reason picker) of an alert: the move made as the person who clicked,
    the message updated to say who did what; a refusal explained to them alone."""
    action = (payload.get("actions") or [{}])[0]
    action_id = action.get("action_id", "")
    response_url = payload.get("response_url", "")
    value = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
    card_id, _, reason_id = value.partition(":")
    user, email = _person(payload)
    if user is None:
        return respond(response_url, people.unknown_text(email))
    task = Task.objects.select_related("team", "owner").filter(pk=_pk(card_id)).first()
    if task is None:
        return respond(response_url, "That card no longer exists.")
    try:
        done = _act(action_id, task, user, reason_id)
    except actions.WorkflowError as error:
        return respond(response_url, f"Nothing changed on #{task.pk}: {slack_escape(str(error))}")
    if done.startswith("!"):
        return respond(response_url, done[1:])
    _show_done(payload, f"{done} by {slack_escape(blocks.name_of(user))}, {_now(user)}")


def _act(action_id: str, task: Task, user: User, reason_id: str = "") -> str:
    """Make the clicked move as `user`; what was done, or '!' + why it was refused."""
    offered = moves.moves_for(user, task)
    if action_id == blocks.TAKE:
        move = next((m for m in offered if m.to == Status.IN_PROGRESS), None)
    else:
        slug = {blocks.WAIT: moves.WAIT.slug, blocks.APPROVE: moves.APPROVE_MOVE.slug}
        move = moves.move_named(slug.get(action_id, ""), offered)
    if move is None:
        return "!" + _refusal(action_id, task, user)
    if action_id == blocks.APPROVE:
        actions.decide(task=task, decision=actions.APPROVE, actor=user)
        return f"✓ Approved #{task.pk}"
    reason = None
    if action_id == blocks.WAIT:
        reason = BlockingReason.objects.filter(pk=_pk(reason_id), active=True).first()
        if reason is None:
            return "!That reason is no longer offered: pick another."
    assert move.to is not None
    actions.change_status(task=task, to=move.to, actor=user, blocking_reason=reason)
    if reason is not None:
        return f"⏸ Waiting for {slack_escape(reason.name)} on #{task.pk}"
    return f"▶ #{task.pk} taken into work"


def _refusal(action_id: str, task: Task, user: User) -> str:
    """Why the person may not make this move: who may, or what the card's state allows."""
    what = {
        blocks.TAKE: "take it into work",
        blocks.WAIT: "set it waiting",
        blocks.APPROVE: "approve it",
        blocks.REJECT: "reject it",
    }.get(action_id, "do that")
    status = task.get_status_display().lower()
    if action_id in (blocks.APPROVE, blocks.REJECT):
        if task.status != Status.ON_APPROVAL:
            return f"#{task.pk} is not waiting for a decision any more (it is {status})."
        return f"You may not {what}: only its approver or its team's manager decides #{task.pk}."
    if not permissions.can_move(user, task):
        return (
            f"You may not {what}: only the owner, performers, approver or team lead of "
            f"#{task.pk} move it."
        )
    return f"#{task.pk} is {status} now: you cannot {what}."


def _now(user: User) -> str:
    return web.slack_time(timezone.now(), user)


def _show_done(payload: dict, line: str) -> None:
    """Update the clicked message: its buttons give way to who did what."""
    container = payload.get("container") or {}
    channel = (payload.get("channel") or {}).get("id") or container.get("channel_id", "")
    ts = container.get("message_ts") or (payload.get("message") or {}).get("ts", "")
    if not channel or not ts:
        return
    message = payload.get("message") or {}
    try:
        web.client().chat_update(
            channel=channel,
            ts=ts,
            text=f"{message.get('text', '')}\n{line}".strip(),
            blocks=blocks.acted_blocks(message.get("blocks") or [], line),
        )
    except SlackApiError as error:  # the move is made: a stale message is no reason to retry
        log.info("chat.update after a click failed: %s", error.response.get("error"))


def reject(payload: dict) -> None:
    """The submitted reason modal of a Reject click: the decision, as the person."""
    view = payload.get("view") or {}
    meta = blocks.metadata_of(view)
    _, slack_id = _who(payload)
    user, email = _person(payload)
    if user is None:
        return _tell("", slack_id, people.unknown_text(email))
    task = Task.objects.filter(pk=meta.get("card_id")).first()
    if task is None:
        return _tell("", slack_id, "That card no longer exists.")
    if moves.move_named(moves.REJECT_MOVE.slug, moves.moves_for(user, task)) is None:
        return _tell("", slack_id, _refusal(blocks.REJECT, task, user))
    reason = blocks.submitted(view).get(blocks.REASON, "")
    try:
        actions.decide(task=task, decision=actions.REJECT, actor=user, reason=reason)
    except actions.WorkflowError as error:
        return _tell("", slack_id, f"Nothing changed on #{task.pk}: {slack_escape(str(error))}")
    line = f"✗ Rejected #{task.pk} by {slack_escape(blocks.name_of(user))}, {_now(user)}"
    if meta.get("channel") and meta.get("message_ts"):
        web.client().chat_update(
            channel=meta["channel"],
            ts=meta["message_ts"],
            text=line,
            blocks=blocks.acted_blocks(blocks.card_blocks(task), line),
        )


# --------------------------------------------------------------------------- the job

JOBS = {"command": command, "click": click, "make_card": make_card, "reject": reject}


def run(job: str, payload: dict) -> None:
    """The django-q entry point (`views.enqueue`): one of JOBS, and the replay guard's old
    signatures forgotten on the way (an indexed delete of a handful of rows)."""
    signing.forget_old()
    JOBS[job](payload)
