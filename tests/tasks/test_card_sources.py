"""A card made from elsewhere (a CRM, a Slack message, a mail) is made once per source and
reference: `create_task` hands back the existing card as `AlreadyTracked`."""

import threading

import pytest
from django.db import connection

from tasks import actions
from tasks.actions import AlreadyTracked, WorkflowError
from tasks.models import Priority, Task

pytestmark = pytest.mark.django_db


def make(request_type, actor, ref="CRM-1", source="crm", title="Call ACME back"):
    return actions.create_task(
        title=title,
        request_type=request_type,
        priority=Priority.NORMAL,
        actor=actor,
        source=source,
        external_ref=ref,
    )


def test_the_same_source_and_reference_give_back_the_first_card(request_type, dispatcher):
    first = make(request_type, dispatcher)
    with pytest.raises(AlreadyTracked) as tracked:
        make(request_type, dispatcher, title="Another title")
    assert tracked.value.task == first
    assert str(tracked.value) == f"Already tracked as #{first.pk}."
    assert Task.objects.count() == 1
    assert (first.source, first.external_ref) == ("crm", "CRM-1")


def test_the_same_reference_from_another_source_is_another_card(request_type, dispatcher):
    make(request_type, dispatcher, source="crm")
    make(request_type, dispatcher, source="slack")
    assert Task.objects.count() == 2


def test_cards_without_reference_are_never_taken_for_one_another(request_type, dispatcher):
    make(request_type, dispatcher, ref="", source="")
    make(request_type, dispatcher, ref="", source="crm")
    make(request_type, dispatcher, ref="", source="crm")
    assert Task.objects.count() == 3


@pytest.mark.parametrize(
    ("source", "ref", "message"),
    [
        ("", "CRM-1", "An external reference needs its source"),
        ("crm", "x" * 201, "External reference"),
        ("c" * 51, "CRM-1", "Source"),
        ("crm", "two\nlines", "External reference"),
    ],
)
def test_bad_references_are_refused_with_a_message(request_type, dispatcher, source, ref, message):
    with pytest.raises(WorkflowError, match=message):
        make(request_type, dispatcher, source=source, ref=ref)
    assert not Task.objects.exists()


@pytest.mark.postgresql("two connections race on the unique index")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creations_make_one_card(request_type, dispatcher):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create():
        try:
            barrier.wait()
            make(request_type, dispatcher, ref="RACE-1")
            outcomes.append("created")
        except AlreadyTracked as tracked:
            outcomes.append(f"tracked #{tracked.task.pk}")
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    card = Task.objects.get(external_ref="RACE-1")
    assert sorted(outcomes) == sorted(["created", f"tracked #{card.pk}"])
