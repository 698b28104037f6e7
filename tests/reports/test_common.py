"""What the report figures share (reports.queries.common): labels and the period's rows."""

from __future__ import annotations

import pytest

from reports.queries import common
from tests.reports.conftest import week


@pytest.mark.parametrize(
    ("value", "fallback", "shown"),
    [(None, "no team", "no team"), ("", "no team", "no team"), ("Sales", "no team", "Sales"),
     (0, "—", "0"), (None, "—", "—")],
)  # fmt: skip
def test_a_missing_name_is_shown_as_its_fallback(value, fallback, shown):
    assert common.label_of(value, fallback) == shown


@pytest.mark.parametrize(
    ("first", "last", "username", "shown"),
    [("Maria", "Manager", "maria", "Maria Manager"), ("", None, "maria", "maria"),
     ("Maria", "", "maria", "Maria"), (None, None, None, None)],
)  # fmt: skip
def test_a_person_is_named_by_full_name_else_username(first, last, username, shown):
    assert common.person_name(first, last, username) == shown


@pytest.mark.django_db
def test_the_period_rows_of_each_source_are_the_cards_created_in_it(history):
    created = {task.pk for task in history.cards.values()}
    assert set(common.cards_in(week()).values_list("pk", flat=True)) == created
    assert set(common.card_facts(week()).values_list("task_id", flat=True)) == created
    assert sum(common.daily_volume(week()).values_list("created", flat=True)) == len(created)
