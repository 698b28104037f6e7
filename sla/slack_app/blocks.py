"""Block Kit: the card modal, the alerts people act on, and what a click leaves behind.

Every piece of user text goes through `slack_escape` (Slack reads `<…>` as links and
mentions) or into a `plain_text` object (never parsed); only links the product makes are
mrkdwn. Every message carries its card: `block_id` "card:<id>" on its blocks and the card
id in its metadata, so a re-delivery or a click is recognised.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.contrib.auth.models import User

from sla.notify import one_line, slack_escape, slack_link
from sla.slack_app import web
from tasks.models import BlockingReason, Priority, RequestType, Task

MAKE_CARD = "make_card"  # message shortcut and modal callback id
REJECT_CARD = "reject_card"  # the reason modal of a Reject click
CARD_BLOCK = "card:"

# Buttons of an alert (action ids); Open card is a link button Slack also reports.
TAKE, WAIT, APPROVE, REJECT, OPEN = (
    "card_take",
    "card_wait",
    "card_approve",
    "card_reject",
    "card_open",
)

# Modal inputs: block id = action id.
TITLE, REQUEST_TYPE, PRIORITY, OWNER, RELATED, DESCRIPTION, REASON = (
    "title",
    "request_type",
    "priority",
    "owner",
    "related",
    "description",
    "reason",
)

MAX_OPTIONS = 100  # Slack's limit per static select
PLAIN_MAX = 150  # Slack's limit on an option's text
NOBODY = "none"


def name_of(user: User | None) -> str:
    if user is None:
        return "unassigned"
    return user.get_full_name() or user.get_username()


def plain(text: str, limit: int = 3000) -> dict:
    return {"type": "plain_text", "text": (text or " ")[:limit], "emoji": False}


def _option(text: str, value: str) -> dict:
    return {"text": plain(text, 75), "value": value}


def _select(action_id: str, options: list[dict], initial: str | None) -> dict:
    element: dict = {"type": "static_select", "action_id": action_id, "options": options}
    chosen = next((o for o in options if o["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return element


def _input(block_id: str, label: str, element: dict, *, optional: bool = False) -> dict:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }


def card_modal(
    *,
    title: str,
    description: str,
    request_types: Iterable[RequestType],
    owners: Iterable[User],
    owner: User | None,
    metadata: dict,
    request_type: RequestType | None = None,
) -> dict:
    """The "Make a card" modal, pre-filled (title and description from the message)."""
    types = [_option(t.name, str(t.pk)) for t in request_types][:MAX_OPTIONS]
    people = [_option("Nobody yet (dispatch)", NOBODY)]
    people += [_option(name_of(u), str(u.pk)) for u in owners][: MAX_OPTIONS - 1]
    priorities = [_option(label, value) for value, label in Priority.choices]
    return {
        "type": "modal",
        "callback_id": MAKE_CARD,
        "title": plain("Make a card", 24),
        "submit": plain("Create card", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(metadata)[:3000],
        "blocks": [
            _input(
                TITLE,
                "Title",
                {
                    "type": "plain_text_input",
                    "action_id": TITLE,
                    "max_length": 200,
                    "initial_value": title[:200],
                },
            ),
            _input(
                REQUEST_TYPE,
                "Request type",
                _select(REQUEST_TYPE, types, str(request_type.pk) if request_type else None),
            ),
            _input(PRIORITY, "Priority", _select(PRIORITY, priorities, Priority.NORMAL)),
            _input(OWNER, "Owner", _select(OWNER, people, str(owner.pk) if owner else NOBODY)),
            _input(
                RELATED,
                "Related client or project",
                {
                    "type": "plain_text_input",
                    "action_id": RELATED,
                    "max_length": 200,
                },
                optional=True,
            ),
            _input(
                DESCRIPTION,
                "Description",
                {
                    "type": "plain_text_input",
                    "action_id": DESCRIPTION,
                    "multiline": True,
                    "max_length": 3000,
                    "initial_value": description[:3000],
                },
                optional=True,
            ),
        ],
    }


def reject_modal(task: Task, metadata: dict) -> dict:
    return {
        "type": "modal",
        "callback_id": REJECT_CARD,
        "title": plain("Reject", 24),
        "submit": plain("Reject", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(metadata)[:3000],
        "blocks": [
            {"type": "section", "text": plain(f"#{task.pk} {one_line(task.title)}")},
            _input(
                REASON,
                "Why? (the owner reads this)",
                {
                    "type": "plain_text_input",
                    "action_id": REASON,
                    "multiline": True,
                    "max_length": 2000,
                },
            ),
        ],
    }


def submitted(view: dict) -> dict[str, str]:
    """The values of a submitted modal, by block id (empty string: left empty)."""
    values: dict[str, str] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        for value in actions.values():
            if not isinstance(value, dict):
                continue
            option = value.get("selected_option") or {}
            values[block_id] = (value.get("value") or option.get("value") or "").strip()
    return values


def metadata_of(view: dict) -> dict:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def card_line(task: Task) -> str:
    """'#12 Title' as mrkdwn: the title escaped, the number linking to the card."""
    return f"{slack_link(web.card_url(task), f'#{task.pk}')} {slack_escape(one_line(task.title))}"


def tracked_text(task: Task, due: str) -> str:
    """The reply in the thread a card was made from."""
    owner = slack_escape(name_of(task.owner))
    return f"Tracked as {card_line(task)} · {owner} · due {due}"


def metadata(task: Task, key: str = "") -> dict:
    payload: dict = {"card_id": task.pk}
    if key:
        payload["idempotency_key"] = key
    return {"event_type": "turnaround_card", "event_payload": payload}


def alert_blocks(
    task: Task,
    headline: str,
    detail: str,
    *,
    reasons: Iterable[BlockingReason],
    decide: bool,
) -> list[dict]:
    """An alert someone can act on: what happened, the card, and its buttons (Take into
    work, Waiting for… with its reasons, Approve / Reject for the approver, Open card)."""
    block = f"{CARD_BLOCK}{task.pk}"
    buttons: list[dict] = []
    if decide:
        buttons += [
            _button("Approve", APPROVE, task, style="primary"),
            _button("Reject", REJECT, task, style="danger"),
        ]
    else:
        buttons.append(_button("Take into work", TAKE, task, style="primary"))
        options = [_option(r.name, f"{task.pk}:{r.pk}") for r in reasons][:MAX_OPTIONS]
        if options:
            buttons.append(
                {
                    "type": "static_select",
                    "action_id": WAIT,
                    "placeholder": plain("Waiting for…"),
                    "options": options,
                }
            )
    buttons.append(
        {"type": "button", "action_id": OPEN, "text": plain("Open card"), "url": web.card_url(task)}
    )
    return [
        {
            "type": "section",
            "block_id": f"{block}:head",
            "text": _mrkdwn(f"*{slack_escape(one_line(headline))}*\n{card_line(task)}\n{detail}"),
        },
        {"type": "actions", "block_id": block, "elements": buttons},
    ]


def card_blocks(task: Task) -> list[dict]:
    """A card's line and its Open card link, for a message rebuilt after a decision."""
    block = f"{CARD_BLOCK}{task.pk}"
    return [
        {"type": "section", "block_id": f"{block}:head", "text": _mrkdwn(card_line(task))},
        {
            "type": "actions",
            "block_id": block,
            "elements": [
                {
                    "type": "button",
                    "action_id": OPEN,
                    "text": plain("Open card"),
                    "url": web.card_url(task),
                }
            ],
        },
    ]


def acted_blocks(blocks: list[dict], line: str) -> list[dict]:
    """The message after a click: its text kept, the buttons replaced by who did what (and
    the Open card link)."""
    kept = [b for b in blocks if b.get("type") != "actions"]
    card = next((b.get("block_id", "") for b in blocks if b.get("type") == "actions"), "")
    url = next(
        (
            e.get("url")
            for b in blocks
            if b.get("type") == "actions"
            for e in b.get("elements", [])
            if e.get("action_id") == OPEN
        ),
        None,
    )
    kept.append({"type": "context", "elements": [_mrkdwn(line)]})
    if url:
        kept.append(
            {
                "type": "actions",
                "block_id": card or "card",
                "elements": [
                    {"type": "button", "action_id": OPEN, "text": plain("Open card"), "url": url}
                ],
            }
        )
    return kept


def _button(text: str, action_id: str, task: Task, *, style: str = "") -> dict:
    button = {"type": "button", "action_id": action_id, "text": plain(text), "value": str(task.pk)}
    if style:
        button["style"] = style
    return button


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text[:3000]}


def ephemeral(text: str) -> dict:
    return {"response_type": "ephemeral", "replace_original": False, "text": text}
