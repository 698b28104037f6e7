"""The nav's search box in a real browser: a word of a title finds the card on the results
page, `#id` opens the card, and another team's card is neither listed nor opened."""

import pytest
from playwright.sync_api import expect

from tests.factories import RequestTypeFactory, make_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_nav_search_finds_by_a_title_word_and_jumps_by_number_never_to_a_hidden_card(
    live_server, log_in, sla_config, performer, dispatcher, outsider, request_type
):
    card = make_task(
        actor=dispatcher, owner=performer, request_type=request_type, title="Forklift lease"
    )
    hidden_type = RequestTypeFactory(name="Stock check", default_team=outsider.teams.get())
    hidden = make_task(
        actor=outsider, owner=outsider, request_type=hidden_type, title="Forklift recount"
    )
    page = log_in("paula")
    box = page.get_by_label("Search cards")

    box.fill("forklift")
    box.press("Enter")
    page.wait_for_url("**/search/?q=forklift")
    results = page.locator("#results")
    expect(results).to_contain_text(f"#{card.pk} Forklift lease")
    expect(results).to_contain_text("1 card matches")
    expect(results).not_to_contain_text("recount")

    page.get_by_label("Search cards").fill(f"#{hidden.pk}")
    page.get_by_label("Search cards").press("Enter")
    expect(page.locator("#results")).to_contain_text("among the cards you can see")
    expect(page.locator("#results")).not_to_contain_text("recount")

    page.get_by_label("Search cards").fill(f"#{card.pk}")
    page.get_by_label("Search cards").press("Enter")
    page.wait_for_url(f"**/cards/{card.pk}/")
    expect(page.get_by_role("heading", name=f"#{card.pk} Forklift lease")).to_be_visible()
