"""What the bad-input modules share: the rows a refused request must leave as they were, and
the error messages a page shows (issue 12: a clear 4xx, the message on the page, nothing
written)."""

from __future__ import annotations

import re
from html import unescape

from django.test import Client

from sla.models import SlaTimer
from tasks.models import Comment, Task, TaskEvent

# Elements that carry an error: role="alert" (form errors), or a flash of the error level
# (the messages framework's, in base.html).
_ERROR_ELEMENT = re.compile(
    r'<(p|small|div|li)\b([^>]*(?:role="alert"|class="flash error")[^>]*)>(.*?)</\1>', re.S
)
_TAG = re.compile(r"<[^>]+>")


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def shown_errors(response) -> str:
    """The text of every error element of the page or partial, unescaped, one per line."""
    html = response.content.decode()
    return "\n".join(
        unescape(_TAG.sub("", match.group(3))).strip() for match in _ERROR_ELEMENT.finditer(html)
    )


def rows(task: Task) -> dict:
    """Everything a card change writes: the card's columns (version included), its people,
    its history, comments and SLA timers."""
    return {
        "card": Task.objects.filter(pk=task.pk).values().get(),
        "performers": sorted(task.performers.values_list("pk", flat=True)),
        "events": TaskEvent.objects.filter(task=task).count(),
        "comments": Comment.objects.filter(task=task).count(),
        "timers": list(SlaTimer.objects.filter(task=task).order_by("pk").values()),
    }


def assert_refused(response, *, status: int, message: str) -> None:
    """A 4xx (never a 5xx) whose message is shown as an error on what it returns."""
    assert response.status_code == status, (response.status_code, shown_errors(response))
    errors = shown_errors(response)
    assert message in errors, f"{message!r} not among the errors shown: {errors!r}"


# The card page's forms, each case (form, what is posted over the form's good data, status,
# the message shown). "@name" values are people and things of the `world` fixture;
# "@version" is the card's version, "@stale" a version it does not have.
STALE_FORM = "This form is out of date or incomplete; reload the card and try again."
CHANGED = "This card was changed by someone else meanwhile"
NOT_A_WORKER = "Choose someone who may work on cards (a performer, dispatcher or manager)."
DATE_RANGE = "Enter a date between 2000-01-01 and 2099-12-31."
NO_NUL = "Null characters are not allowed."

GOOD = {
    "task_status": {"to": "in_progress", "version": "@version"},
    "task_next_step": {"text": "Call back", "due": "2030-01-07T10:00", "version": "@version"},
    "task_assign": {"owner": "@performer", "approver": "", "version": "@version"},
    "task_classify": {"priority": "high", "request_type": "@request_type", "team": "@team",
                      "version": "@version"},
    "task_comment": {"text": "A comment"},
}  # fmt: skip


def _case(form, data, status, message, id):
    return (form, data, status, message, id)


CARD_CASES = [
    # Status: the version, the move, the blocking reason, the note.
    _case("task_status", {"version": None}, 400, STALE_FORM, "status-no-version"),
    _case("task_status", {"version": "abc"}, 400, STALE_FORM, "status-version-abc"),
    _case("task_status", {"version": "-1"}, 400, STALE_FORM, "status-version-negative"),
    _case("task_status", {"version": "1.5"}, 400, STALE_FORM, "status-version-fraction"),
    _case("task_status", {"version": "9" * 30}, 400, STALE_FORM, "status-version-huge"),
    _case("task_status", {"version": "@stale"}, 409, CHANGED, "status-stale"),
    _case("task_status", {"to": None}, 400, "Choose the status to move the card to.",
          "status-no-to"),
    _case("task_status", {"to": "bogus"}, 400,
          "Move to: “bogus” is not a status a card can move to.", "status-to-bogus"),
    _case("task_status", {"to": "assigned"}, 400, "The card is already assigned.",
          "status-same"),
    _case("task_status", {"to": "new"}, 400, "A card cannot move from assigned to new.",
          "status-not-allowed"),
    _case("task_status", {"to": "on_approval"}, 400,
          "Name an approver to send the card for approval.", "status-no-approver"),
    _case("task_status", {"to": "waiting"}, 400,
          "Blocking reason: Say what the card is waiting for.", "status-waiting-no-reason"),
    _case("task_status", {"to": "waiting", "blocking_reason": "abc"}, 400,
          "Blocking reason: Choose a blocking reason that is in use from the list.",
          "status-reason-garbage"),
    _case("task_status", {"to": "waiting", "blocking_reason": "@retired_reason"}, 400,
          "Blocking reason: Choose a blocking reason that is in use from the list.",
          "status-reason-retired"),
    _case("task_status", {"blocking_reason": "@reason"}, 400,
          "A blocking reason applies only when the card is waiting.", "status-reason-not-waiting"),
    _case("task_status", {"note": "n" * 501}, 400,
          "Note: Ensure this value has at most 500 characters (it has 501).", "status-note-long"),
    _case("task_status", {"note": "a\x00b"}, 400, f"Note: {NO_NUL}", "status-note-nul"),
    # Next step: the due date's range, the text.
    _case("task_next_step", {"due": "0001-01-01T00:00"}, 400, f"Due: {DATE_RANGE}",
          "next-due-year-1"),
    _case("task_next_step", {"due": "9999-12-31T23:59"}, 400, f"Due: {DATE_RANGE}",
          "next-due-year-9999"),
    _case("task_next_step", {"due": "1999-12-31T23:59"}, 400, f"Due: {DATE_RANGE}",
          "next-due-last-century"),
    _case("task_next_step", {"due": "2100-01-01T00:00"}, 400, f"Due: {DATE_RANGE}",
          "next-due-next-century"),
    _case("task_next_step", {"due": "tomorrow"}, 400, "Due: Enter a valid date/time.",
          "next-due-garbage"),
    _case("task_next_step", {"due": "2030-02-30T10:00"}, 400, "Due: Enter a valid date/time.",
          "next-due-no-such-day"),
    _case("task_next_step", {"text": "x" * 301}, 400,
          "Next step: Ensure this value has at most 300 characters (it has 301).",
          "next-text-long"),
    _case("task_next_step", {"text": "Call\nback"}, 400,
          "Next step: Use a single line of text", "next-text-two-lines"),
    _case("task_next_step", {"text": "Call\x00back"}, 400, f"Next step: {NO_NUL}",
          "next-text-nul"),
    _case("task_next_step", {"text": ""}, 400,
          "Describe the next step before giving it a due time.", "next-due-without-text"),
    _case("task_next_step", {"version": None}, 400, STALE_FORM, "next-no-version"),
    _case("task_next_step", {"version": "v2"}, 400, STALE_FORM, "next-version-garbage"),
    _case("task_next_step", {"version": "@stale"}, 409, CHANGED, "next-stale"),
    # People: only people who may work cards; ids that are no one.
    _case("task_assign", {"owner": "@observer"}, 400, f"Owner: {NOT_A_WORKER}",
          "assign-owner-observer"),
    _case("task_assign", {"owner": "@nobody"}, 400, f"Owner: {NOT_A_WORKER}",
          "assign-owner-without-role"),
    _case("task_assign", {"owner": "@retired"}, 400, f"Owner: {NOT_A_WORKER}",
          "assign-owner-inactive"),
    _case("task_assign", {"owner": "abc"}, 400, f"Owner: {NOT_A_WORKER}",
          "assign-owner-garbage"),
    _case("task_assign", {"owner": "999999"}, 400, f"Owner: {NOT_A_WORKER}",
          "assign-owner-unknown"),
    _case("task_assign", {"owner": "9" * 25}, 400, f"Owner: {NOT_A_WORKER}",
          "assign-owner-huge-id"),
    _case("task_assign", {"owner": ""}, 400, "Only a new card may be left without an owner.",
          "assign-owner-removed"),
    _case("task_assign", {"performers": ["@observer"]}, 400, f"Performers: {NOT_A_WORKER}",
          "assign-performer-observer"),
    _case("task_assign", {"performers": ["@other_performer", "@nobody"]}, 400,
          f"Performers: {NOT_A_WORKER}", "assign-performer-without-role"),
    _case("task_assign", {"performers": ["abc"]}, 400, "Performers: “abc” is not a person.",
          "assign-performer-garbage"),
    _case("task_assign", {"approver": "@observer"}, 400, f"Approver: {NOT_A_WORKER}",
          "assign-approver-observer"),
    _case("task_assign", {"approver": "999999"}, 400, f"Approver: {NOT_A_WORKER}",
          "assign-approver-unknown"),
    _case("task_assign", {"version": None}, 400, STALE_FORM, "assign-no-version"),
    _case("task_assign", {"version": "@stale"}, 409, CHANGED, "assign-stale"),
    # Classification: choices that are not among the choices.
    _case("task_classify", {"priority": "bogus"}, 400, "Priority: “bogus” is not a priority.",
          "classify-priority-bogus"),
    _case("task_classify", {"priority": None}, 400, "Priority: This field is required.",
          "classify-priority-missing"),
    _case("task_classify", {"request_type": "999999"}, 400,
          "Request type: Choose a request type from the list.", "classify-type-unknown"),
    _case("task_classify", {"request_type": "abc"}, 400,
          "Request type: Choose a request type from the list.", "classify-type-garbage"),
    _case("task_classify", {"request_type": "@retired_type"}, 400,
          "Request type: Choose a request type from the list.", "classify-type-inactive"),
    _case("task_classify", {"team": "999999"}, 400, "Team: Choose a team from the list.",
          "classify-team-unknown"),
    _case("task_classify", {"version": "@version@"}, 400, STALE_FORM, "classify-version-garbage"),
    _case("task_classify", {"version": "@stale"}, 409, CHANGED, "classify-stale"),
    # Comments: empty, too long, NUL.
    _case("task_comment", {"text": ""}, 400, "Comment: This field is required.",
          "comment-empty"),
    _case("task_comment", {"text": "   \n "}, 400, "Comment: This field is required.",
          "comment-blank"),
    _case("task_comment", {"text": "c" * 20_001}, 400,
          "Comment: Ensure this value has at most 20000 characters (it has 20001).",
          "comment-long"),
    _case("task_comment", {"text": "a\x00b"}, 400, f"Comment: {NO_NUL}", "comment-nul"),
]  # fmt: skip


def card_case_params():
    import pytest

    return [pytest.param(*case[:4], id=case[4]) for case in CARD_CASES]


def resolve(value, world: dict, task: Task):
    """A posted value with its "@name" placeholders replaced (see CARD_CASES)."""
    if isinstance(value, list):
        return [resolve(v, world, task) for v in value]
    if value == "@version":
        return str(task.version)
    if value == "@stale":
        return str(task.version + 3)
    if isinstance(value, str) and value.startswith("@") and value[1:] in world:
        return str(world[value[1:]].pk)
    return value


def post_data(form: str, overrides: dict, world: dict, task: Task) -> dict:
    data = {**GOOD[form], **overrides}
    return {k: resolve(v, world, task) for k, v in data.items() if v is not None}
