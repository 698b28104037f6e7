"""Every change to a card goes through one of these functions.

Each is keyword-only and atomic, locks the card row, writes TaskEvents (typed values, never
labels) and saves at exactly one point (`_save`). Views, the API, admin actions, imports and
jobs all call these; none of them writes a card directly.

`at` lets imports and the demo seeder replay real past timestamps; it defaults to now.
Callers import them from here (`from tasks import actions`); the package groups them by what
they change: `lifecycle` (create, status, details, next step, comments), `people`,
`classification`, `approval` (deciding an approval step), `watching` (who follows a card),
`dispatch`, `related` (what cards are about: related objects found by reference), `past`
(old cards written in bulk with their history, for imports), and `core` (errors, the hooks,
the row lock, `_save`).

The card-change hook
--------------------
The card domain imports nothing from the apps above it (`sla`, `reports`). Whoever must
follow a card registers a listener once, from its `AppConfig.ready()`:

    listen_to_card_changes(follow_card_change)   # sla/apps.py: timers follow the card

`_save` calls every listener as `listener(task=task, at=at, events=events)` after it saved
the card and its events (the change's `TaskEvent` rows), inside the same transaction and
in registration order: a listener sees the card as saved, and an error in a listener rolls
the whole change back. Every action that changes a card calls the listeners exactly once
per change (a composite action such as `assign_people` too), except the set-based
`flag_many_for_dispatch`, which writes only the dispatch flag and leaves the listeners alone
by design (the scan calls it, and no listener follows that flag).

`record_past_cards` (imports) writes a batch of old cards with their whole history in bulk;
instead of calling the listeners once per change it calls those registered with
`listen_to_past_cards` once per batch, with each card's steps (what the per-change
listeners would have seen, and when): sla replays the timers of the batch set-based.
"""

from tasks.actions.approval import APPROVE, DECISIONS, REJECT, approval_steps, decide
from tasks.actions.classification import (
    change_priority,
    change_request_type,
    change_team,
    reclassify,
)
from tasks.actions.core import (
    NOT_OF_THE_TEAM,
    AlreadyTracked,
    CardListener,
    NotAllowed,
    PastCard,
    PastCardsListener,
    StaleCard,
    Step,
    WorkflowError,
    clean_title,
    listen_to_card_changes,
    listen_to_past_cards,
    lock_task,
    person_name,
)
from tasks.actions.dispatch import flag_for_dispatch, flag_many_for_dispatch
from tasks.actions.lifecycle import (
    NEXT_STEP_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    SOURCE_URL_MAX_LENGTH,
    TRANSITIONS,
    add_comment,
    allowed_transitions,
    change_status,
    clean_description,
    clean_source_url,
    create_task,
    set_next_step,
    update_details,
)
from tasks.actions.past import Move, PastCardSpec, check_past_card, record_past_cards
from tasks.actions.people import assign_owner, assign_people, set_approver, set_performers
from tasks.actions.related import track_related_object
from tasks.actions.watching import follow, unfollow

__all__ = [
    "APPROVE",
    "DECISIONS",
    "NEXT_STEP_MAX_LENGTH",
    "NOTE_MAX_LENGTH",
    "NOT_OF_THE_TEAM",
    "REJECT",
    "SOURCE_URL_MAX_LENGTH",
    "TRANSITIONS",
    "AlreadyTracked",
    "CardListener",
    "Move",
    "NotAllowed",
    "PastCard",
    "PastCardSpec",
    "PastCardsListener",
    "StaleCard",
    "Step",
    "WorkflowError",
    "add_comment",
    "allowed_transitions",
    "approval_steps",
    "assign_owner",
    "assign_people",
    "change_priority",
    "change_request_type",
    "change_status",
    "change_team",
    "check_past_card",
    "clean_description",
    "clean_source_url",
    "clean_title",
    "create_task",
    "decide",
    "flag_for_dispatch",
    "flag_many_for_dispatch",
    "follow",
    "listen_to_card_changes",
    "listen_to_past_cards",
    "lock_task",
    "person_name",
    "reclassify",
    "record_past_cards",
    "set_approver",
    "set_next_step",
    "set_performers",
    "track_related_object",
    "unfollow",
    "update_details",
]
