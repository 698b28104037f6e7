"""sla.policies: the one writer of SLA targets, and the recompute it queues.

The policy admin and the calibration report's "apply" both write targets through
`set_targets`, so a running timer follows a new target the same way whichever sets it.

Office calendar Mon-Fri 09:00-17:00 (Berlin); policy "Standard": normal cards respond in
1 h and resolve in 4 h.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction

from reports.calibration import apply_proposal
from sla import policies
from sla.models import MAX_TARGET, SlaTarget, TimerKind
from sla.policies import KEEP, delete_target, set_targets
from tasks import actions
from tasks.models import Priority, Status
from tests.factories import UserFactory, make_task
from tests.sla.test_admin import berlin, change_policy, policy, policy_data, standard_data

__all__ = ["policy"]  # the admin tests' policy, as a fixture here (office: tests/sla/conftest.py)

pytestmark = pytest.mark.django_db

H, M = timedelta(hours=1), timedelta(minutes=1)
OPENED, CHANGED = berlin(2026, 3, 2, 10), berlin(2026, 3, 2, 11)  # a Monday


class _Undo(Exception):
    pass


@pytest.fixture
def card(policy, performer):
    with time_machine.travel(OPENED, tick=False):
        return make_task(actor=performer, owner=performer)


def timers_after(card, change, django_capture_on_commit_callbacks) -> dict:
    """The card's timers after `change` at CHANGED (and the jobs it queued), rolled back."""
    result = {}
    try:
        with transaction.atomic(), time_machine.travel(CHANGED, tick=False):
            with django_capture_on_commit_callbacks(execute=True):
                change()
            for timer in card.timers.all():
                retargets = [(r.at, r.old_target, r.new_target, r.consumed)
                             for r in timer.retargets.all()]  # fmt: skip
                result[timer.kind] = (timer.target, timer.due_at, timer.consumed, retargets)
            raise _Undo
    except _Undo:
        pass
    return result


def test_admin_and_calibration_retarget_running_timers_alike(
    card, policy, office, admin_client, admin_user, django_capture_on_commit_callbacks
):
    def admin_replacing_the_row():
        data = standard_data(policy, office, resolution="8:00:00")
        assert admin_client.post(change_policy(policy), data).status_code == 302

    def admin_editing_the_row():
        row = SlaTarget.objects.get(policy=policy)
        data = policy_data(policy, calendar=office.pk, is_default="on", targets=[])
        data.update({"targets-0-priority": "normal", "targets-0-response_target": "1:00:00",
                     "targets-0-resolution_target": "8:00:00"})  # fmt: skip
        data.pop("targets-0-DELETE")
        assert data["targets-0-id"] == row.pk
        assert admin_client.post(change_policy(policy), data).status_code == 302

    def calibration():
        apply_proposal(policy=policy, priority=Priority.NORMAL, response=None,
                       resolution=8 * H, actor=admin_user)  # fmt: skip

    def directly():
        set_targets(policy=policy, priority=Priority.NORMAL, resolution=8 * H, actor=admin_user)

    outcomes = [
        timers_after(card, change, django_capture_on_commit_callbacks)
        for change in (admin_replacing_the_row, admin_editing_the_row, calibration, directly)
    ]

    # 1 h used by 11:00, 7 h left: 6 h on Monday, 1 h on Tuesday. The response timer keeps
    # its target (1 h used, due at 11:00): it is not re-targeted.
    expected = {
        TimerKind.RESPONSE: (H, berlin(2026, 3, 2, 11), H, []),
        TimerKind.RESOLUTION: (8 * H, berlin(2026, 3, 3, 10), H, [(CHANGED, 4 * H, 8 * H, H)]),
    }
    assert outcomes == [expected] * 4


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"resolution": timedelta(0)}, "A target must be a positive duration."),
        ({"response": -H}, "A target must be a positive duration."),
        ({"resolution": MAX_TARGET + H}, "A target may be at most 366 days of business time."),
        ({"response": 5 * H}, "The resolution target must not be shorter than the response"),
        ({"response": None, "resolution": None}, "Set a response target, a resolution target"),
        ({"warn_pct": 100}, "Warn at a percentage between 1 and 99."),
        ({"response": timedelta(seconds=59)}, "A target must be at least 1 minute"),
        ({"response": timedelta.max}, "A target may be at most 366 days of business time."),
        ({"resolution": timedelta(days=365 * 3170)}, "A target may be at most 366 days"),
        ({"warn_lead": MAX_TARGET + H}, "The warning would come at or after the deadline"),
    ],
)
def test_bad_targets_are_refused_with_the_reason(
    policy, admin_user, values, error, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued, pytest.raises(ValidationError) as raised:
        set_targets(policy=policy, priority=Priority.NORMAL, actor=admin_user, **values)
    assert any(message.startswith(error) for message in raised.value.messages), raised.value
    stored = SlaTarget.objects.get(policy=policy)
    assert (stored.response_target, stored.resolution_target) == (H, 4 * H)
    assert queued == []


def test_calibration_refuses_a_response_target_past_the_resolution_target(policy, admin_user):
    with pytest.raises(ValidationError, match="must not be shorter than the response"):
        apply_proposal(policy=policy, priority=Priority.NORMAL, response=6 * H,
                       resolution=None, actor=admin_user)  # fmt: skip


def test_an_unknown_priority_or_a_missing_permission_is_refused(policy, admin_user):
    with pytest.raises(ValidationError, match="Unknown priority 'urgentest'"):
        set_targets(policy=policy, priority="urgentest", resolution=H, actor=admin_user)
    with pytest.raises(PermissionError, match="You may not change SLA targets"):
        set_targets(policy=policy, priority=Priority.NORMAL, resolution=H, actor=UserFactory())
    with pytest.raises(PermissionError):
        delete_target(policy=policy, priority=Priority.NORMAL, actor=UserFactory())


def test_kept_cleared_and_unchanged_values(policy, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        same = set_targets(policy=policy, priority=Priority.NORMAL, response=H, actor=admin_user)
    assert queued == []  # nothing changed: no recompute
    assert (same.response_target, same.resolution_target) == (H, 4 * H)

    with django_capture_on_commit_callbacks() as queued:
        target = set_targets(policy=policy, priority=Priority.NORMAL, response=None,
                             resolution=KEEP, warn_lead=H / 2, actor=admin_user)  # fmt: skip
    target.refresh_from_db()
    assert (target.response_target, target.resolution_target, target.warn_lead) == (
        None, 4 * H, H / 2
    )  # fmt: skip
    assert len(queued) == 1


def test_one_recompute_per_policy_and_transaction(
    policy, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued, transaction.atomic():
        set_targets(policy=policy, priority=Priority.HIGH, resolution=2 * H, actor=admin_user)
        set_targets(policy=policy, priority=Priority.NORMAL, resolution=3 * H, actor=admin_user)
        policies.queue_policy_recompute(policy=policy, rematch=True)
        assert delete_target(policy=policy, priority=Priority.HIGH, actor=admin_user)
        assert not delete_target(policy=policy, priority=Priority.HIGH, actor=admin_user)
    assert [(c.policy_id, c.rematch) for c in queued] == [(policy.pk, True)]


def test_a_recompute_rolled_back_with_its_savepoint_is_queued_again(
    policy, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued, transaction.atomic():
        try:
            with transaction.atomic():
                set_targets(policy=policy, priority=Priority.HIGH, resolution=H, actor=admin_user)
                raise _Undo
        except _Undo:
            pass
        set_targets(policy=policy, priority=Priority.NORMAL, resolution=3 * H, actor=admin_user)
    assert [(c.policy_id, c.rematch) for c in queued] == [(policy.pk, False)]
    assert not SlaTarget.objects.filter(priority=Priority.HIGH).exists()


def test_a_time_to_decision_set_in_the_admin_or_directly_times_a_card_already_waiting(
    card, policy, office, admin_client, admin_user, manager, performer,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    with time_machine.travel(OPENED, tick=False):
        actions.change_status(task=card, to=Status.ON_APPROVAL, actor=performer, approver=manager)
    assert not card.timers.filter(kind=TimerKind.APPROVAL).exists()  # no target yet

    def admin():
        row = {"priority": "normal", "response_target": "1h", "resolution_target": "4h",
               "approval_target": "1h 30m"}  # fmt: skip
        data = policy_data(policy, calendar=office.pk, is_default="on", targets=[row])
        assert admin_client.post(change_policy(policy), data).status_code == 302

    def directly():
        set_targets(policy=policy, priority=Priority.NORMAL, approval=90 * M, actor=admin_user)

    outcomes = [
        timers_after(card, change, django_capture_on_commit_callbacks)
        for change in (admin, directly)
    ]
    # Timed from the change (11:00) on: the wait before it had no target to be measured by.
    assert outcomes[0][TimerKind.APPROVAL] == (90 * M, berlin(2026, 3, 2, 12, 30), 0 * M, [])
    assert outcomes[0] == outcomes[1]
    assert SlaTarget.objects.get(policy=policy).approval_target is None  # both rolled back
