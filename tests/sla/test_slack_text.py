"""Slack messages carry user text as literal text: card titles and names are escaped per
Slack's rules (`&`, `<`, `>`), so a title cannot ping `<!channel>` or show a spoofed link.
The only mrkdwn in a message is the product's own link to the card.

A real HTTP server on loopback stands in for the incoming webhook; the assertions read the
JSON Slack would receive.
"""

from __future__ import annotations

import pytest

from sla.notify import slack_escape, slack_link
from tests.sla.conftest import MON, M, Trigger, berlin, deliver, scan

pytestmark = pytest.mark.django_db

T0 = berlin(*MON, 10)
BREACHED = T0 + 61 * M
SITE = "https://turnaround.example"


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<!channel> now", "&lt;!channel&gt; now"),
        ("<!everyone>", "&lt;!everyone&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<http://evil|Open card>", "&lt;http://evil|Open card&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("&lt; already", "&amp;lt; already"),  # & first: an entity in a title stays literal
        ("plain *bold* _it_", "plain *bold* _it_"),
    ],
)
def test_slack_escape(text: str, escaped: str) -> None:
    assert slack_escape(text) == escaped


def test_slack_link_escapes_its_label():
    assert slack_link("https://x.example/c/1/", "A <b> & |c|") == (
        "<https://x.example/c/1/|A &lt;b&gt; &amp; |c|>"
    )


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("<!channel> call me", "&lt;!channel&gt; call me"),
        ("<!everyone> urgent", "&lt;!everyone&gt; urgent"),
        ("<http://evil|x> quote", "&lt;http://evil|x&gt; quote"),
        ("Smith & Sons > Jones", "Smith &amp; Sons &gt; Jones"),
    ],
)
def test_posted_text_escapes_the_title_and_names(
    title, shown, round_the_clock, make_policy, make_rule, new_card, performer, slack_server
):
    performer.first_name, performer.last_name = "<@U123>", "& <!here>"
    performer.save()
    url = slack_server.url("/hook")
    make_rule(make_policy(round_the_clock), Trigger.BREACH, notify_owner=False, in_app=False,
              slack=True, slack_webhook_url=url)  # fmt: skip
    card = new_card(T0, title=title)

    assert scan(BREACHED) == 1
    deliver(BREACHED)

    (post,) = slack_server.posts_to("/hook")
    text = post.body["text"]
    assert f"#{card.pk} {shown}" in text
    assert "Owner: &lt;@U123&gt; &amp; &lt;!here&gt;" in text
    # The only link and the only `<` in the message are the product's own.
    assert text.count("<") == text.count(">") == 1
    assert text.endswith(f"<{SITE}{card.get_absolute_url()}|Open card #{card.pk}>")
