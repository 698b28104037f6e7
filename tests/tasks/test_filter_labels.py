"""The filters of the card list and the at-risk queue read as words: "Any" for no filter,
never Django's "---------" or a raw "Owner is null: Unknown"."""

import re

import pytest
from django.urls import reverse

from tests.tasks.bad_input import client_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", ["task_list", "at_risk"])
def test_the_filters_offer_readable_empty_choices(page, manager, default_policy):
    html = client_for(manager).get(reverse(page)).content.decode()
    form = html[
        html.index('class="filters"') : html.index("</form>", html.index('class="filters"'))
    ]
    assert "---------" not in form
    assert "Unknown" not in form and "is null" not in form
    empties = re.findall(r'<option value=""[^>]*>([^<]*)</option>', form)
    assert empties and set(empties) <= {"Any", "With or without"}
