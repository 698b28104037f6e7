"""The Slack app's one endpoint: POST /integrations/slack/events/.

Slash commands (form-encoded), interactivity payloads (form-encoded `payload` JSON:
shortcuts, buttons, modal submissions) and Events API callbacks (JSON, including the
`url_verification` challenge) all arrive here. Each is verified (signature, timestamp,
workspace, replay: sla.slack_app.signing; refused with 401/403 and nothing written), then
answered at once — Slack gives us 3 seconds — with the work handed to a job
(`handlers.run`). Two things are done before answering because they cannot wait: opening a
modal (`views.open` needs the trigger id, which expires in 3 seconds) and checking a modal's
fields (Slack shows the errors in the modal only from the answer).
"""

from __future__ import annotations

import json
import logging

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_q.tasks import async_task
from slack_sdk.errors import SlackApiError

from sla.slack_app import blocks, handlers, people, signing, web
from tasks.models import Task

log = logging.getLogger(__name__)

COMMAND, INTERACTION, EVENT = "command", "interaction", "event"


@csrf_exempt
@login_not_required
@require_POST
def events(request: HttpRequest) -> HttpResponse:
    body = request.body  # read first: the form is then parsed from it, whatever its type
    if request.POST.get("ssl_check") == "1":  # Slack checking our certificate: nothing to do
        return HttpResponse(status=200)
    try:
        signing.verify(body, request.headers)
        kind, payload = _parse(request)
        if kind == EVENT and payload.get("type") == "url_verification":
            return JsonResponse({"challenge": str(payload.get("challenge", ""))})
        signing.check_team(_team(kind, payload))
        signing.remember(request.headers["X-Slack-Signature"])
    except signing.Refused as refused:
        log.info("Slack request refused (%s): %s", refused.status, refused)
        return JsonResponse({"error": str(refused)}, status=refused.status)
    try:
        if kind == COMMAND:
            return _command(payload)
        if kind == INTERACTION:
            return _interaction(payload)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        # Signed, so Slack's, yet not shaped as Slack documents it: a 400, not a 500.
        log.exception("Malformed Slack %s payload", kind)
        return JsonResponse({"error": "Malformed Slack payload."}, status=400)
    return HttpResponse(status=200)  # an event we do not follow: acknowledged


def _parse(request: HttpRequest) -> tuple[str, dict]:
    if request.content_type == "application/json":
        try:
            payload = json.loads(request.body)
        except ValueError:
            raise signing.Refused(400, "The body is not JSON.") from None
        if not isinstance(payload, dict):
            raise signing.Refused(400, "The body is not a JSON object.")
        return EVENT, payload
    if "payload" in request.POST:
        try:
            payload = json.loads(request.POST["payload"])
        except ValueError:
            raise signing.Refused(400, "The payload is not JSON.") from None
        if not isinstance(payload, dict):
            raise signing.Refused(400, "The payload is not a JSON object.")
        return INTERACTION, payload
    if "command" in request.POST:
        return COMMAND, request.POST.dict()
    raise signing.Refused(400, "Neither a command, an interaction nor an event.")


def _team(kind: str, payload: dict) -> str:
    if kind == INTERACTION:
        team = payload.get("team") or {}
        return str(team.get("id", "")) if isinstance(team, dict) else ""
    return str(payload.get("team_id", ""))


def enqueue(job: str, payload: dict) -> None:
    async_task("sla.slack_app.handlers.run", job, payload, task_name=f"slack {job}")


def _ephemeral(text: str) -> JsonResponse:
    return JsonResponse(blocks.ephemeral(text))


# --------------------------------------------------------------------------- /turnaround


def _command(payload: dict) -> HttpResponse:
    verb, _, rest = (payload.get("text") or "").strip().partition(" ")
    verb = verb.lower()
    if verb == "help":
        return _ephemeral(handlers.HELP)
    if not verb:
        _open(payload, handlers.modal_for(_known(payload), metadata={}))
        return HttpResponse(status=200)
    if verb == "new" and not rest.strip():
        return _ephemeral("Give the card a title: `/turnaround new Follow up with ACME`.")
    if verb in ("new", "mine"):
        enqueue("command", payload)
        return HttpResponse(status=200)
    return _ephemeral(f"I did not understand that.\n{handlers.HELP}")


def _known(payload: dict):
    team, slack_id = handlers._who(payload)
    return people.known(team, slack_id)


def _open(payload: dict, view: dict) -> None:
    """Open a modal now: its trigger id expires 3 seconds after the click."""
    try:
        web.client().views_open(trigger_id=payload.get("trigger_id", ""), view=view)
    except SlackApiError as error:
        log.warning("views.open failed: %s", error.response.get("error"))


# --------------------------------------------------------------------------- interactions


def _interaction(payload: dict) -> HttpResponse:
    kind = payload.get("type")
    if kind in ("message_action", "shortcut") and payload.get("callback_id") == blocks.MAKE_CARD:
        message = payload.get("message") or {}
        metadata = {
            "channel": (payload.get("channel") or {}).get("id", ""),
            "message_ts": message.get("ts", ""),
            "thread_ts": message.get("thread_ts", ""),
        }
        view = handlers.modal_for(_known(payload), text=message.get("text", ""), metadata=metadata)
        _open(payload, view)
        return HttpResponse(status=200)
    if kind == "block_actions":
        return _block_action(payload)
    if kind == "view_submission":
        return _submission(payload)
    return HttpResponse(status=200)


def _block_action(payload: dict) -> HttpResponse:
    action = (payload.get("actions") or [{}])[0]
    action_id = action.get("action_id", "")
    if action_id == blocks.REJECT:  # asks for a reason first: a modal, opened now
        task = Task.objects.filter(pk=handlers._pk(action.get("value"))).first()
        if task is not None:
            container = payload.get("container") or {}
            metadata = {
                "card_id": task.pk,
                "channel": container.get("channel_id", ""),
                "message_ts": container.get("message_ts", ""),
            }
            _open(payload, blocks.reject_modal(task, metadata))
        return HttpResponse(status=200)
    if action_id in (blocks.TAKE, blocks.WAIT, blocks.APPROVE):
        enqueue("click", payload)
    return HttpResponse(status=200)  # Open card (a link) and anything else: acknowledged


def _submission(payload: dict) -> HttpResponse:
    view = payload.get("view") or {}
    callback = view.get("callback_id")
    values = blocks.submitted(view)
    if callback == blocks.MAKE_CARD:
        errors = handlers.card_form_errors(values)
        if errors:
            return JsonResponse({"response_action": "errors", "errors": errors})
        enqueue("make_card", payload)
    elif callback == blocks.REJECT_CARD:
        if not values.get(blocks.REASON):
            return JsonResponse(
                {"response_action": "errors", "errors": {blocks.REASON: "Say why."}}
            )
        enqueue("reject", payload)
    return HttpResponse(status=200)
