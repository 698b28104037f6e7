"""Finding cards by what they say: the nav's search box (`tasks.search_views`).

A search is a few words or a card number:

- `#123` jumps to card 123 if the user may see it; otherwise nothing is found (the same answer
  for a card that does not exist and one the user may not see). `123` alone jumps the same
  way, and is searched as a word when there is no such visible card.
- Words are matched with PostgreSQL full-text search against each card's weighted search
  vector (`tasks.search_vector`: title A, related object and reference B, description C,
  comments D), parsed by `websearch_to_tsquery` (quoted phrases, `or`, `-word`; every other
  character is a separator, so nothing typed is syntax that can fail) and ranked by
  `ts_rank`, newest first among equal ranks.
- Elsewhere than on PostgreSQL: every word must occur (icontains) in one of the same fields,
  ranked by the same weights.

Always among `Task.objects.visible_to(user)`. To stay fast at millions of cards, the ranking
reads the CANDIDATES newest matches only (through the GIN index or, for a word most cards
hold, the primary key backwards); when more match, the page says so and asks for another
word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, Subquery, Value, When

from tasks import search_vector
from tasks.models import Comment, Task

MAX_LENGTH = 200  # characters of a search
MAX_WORDS = 10  # words the fallback matches (the rest are ignored)
# Newest matches ranked. Finding them costs PostgreSQL either the matches' rows (GIN bitmap)
# or CANDIDATES / (share of cards that match) rows (primary key backwards), whichever it
# reckons cheaper: at 1M cards with text, a word in 1 % of cards cost 107 ms with 1,000,
# 54 ms with 500 and 28 ms with 250 (docs/performance.md).
CANDIDATES = 250
PAGE_SIZE = 50
_LARGEST_ID = 2**63 - 1  # bigint
_CARD_NUMBER = re.compile(r"#?(\d+)")
_HAS_WORD = re.compile(r"[^\W_]")  # a letter or a digit
# The fallback's weights, as ts_rank's defaults for A, B, C, D (1.0, 0.4, 0.2, 0.1).
_FALLBACK_WEIGHTS = (("title", 10), ("related", 4), ("description", 2), ("comments", 1))


class BadSearch(ValueError):
    """A search that cannot be run; the message is shown as is."""


@dataclass(frozen=True)
class Search:
    text: str  # stripped
    card_number: int | None = None  # from `#123` or `123`
    only_number: bool = False  # `#123`: look up the card, search no words

    @property
    def has_words(self) -> bool:
        return not self.only_number and bool(_HAS_WORD.search(self.text))


def parse(raw: str) -> Search:
    """Read what was typed; BadSearch for what cannot be searched at all."""
    if "\x00" in raw:
        raise BadSearch("A search cannot contain NUL characters.")
    text = " ".join(raw.split())
    if len(text) > MAX_LENGTH:
        raise BadSearch(f"A search has at most {MAX_LENGTH} characters; use fewer words.")
    number = _CARD_NUMBER.fullmatch(text)
    if number is None:
        return Search(text)
    value = int(number.group(1))
    return Search(
        text,
        card_number=value if 0 < value <= _LARGEST_ID else None,
        only_number=text.startswith("#"),
    )


def visible_card(user: AbstractBaseUser, search: Search) -> int | None:
    """The number of the card the search names, if the user may see it."""
    if search.card_number is None:
        return None
    cards = Task.objects.visible_to(user).filter(pk=search.card_number)
    return search.card_number if cards.exists() else None


@dataclass
class Found:
    ids: list[int] = field(default_factory=list)  # best first, at most CANDIDATES
    more: bool = False  # more cards matched than were ranked


def find(user: AbstractBaseUser, search: Search) -> Found:
    """The ids of the visible cards that match the words, best first (one query)."""
    if not search.has_words:
        return Found()
    cards = Task.objects.visible_to(user)
    if search_vector.available():
        rows = _ranked(cards, search.text)
    else:
        rows = _fallback(cards, search.text)
    more = len(rows) > CANDIDATES
    rows = sorted(rows[:CANDIDATES], key=lambda row: (-row[1], -row[0]))
    return Found(ids=[pk for pk, _ in rows], more=more)


def _ranked(cards, text: str) -> list[tuple[int, float]]:
    query = SearchQuery(text, config=search_vector.CONFIG, search_type="websearch")
    # The newest matches (one more, to know whether there are more), then their ranks:
    # ts_rank is computed for these rows only, not for every card a common word matches.
    newest = cards.filter(search_vector=query).order_by("-pk").values("pk")[: CANDIDATES + 1]
    return list(
        Task.objects.filter(pk__in=Subquery(newest))
        .annotate(rank=SearchRank(F("search_vector"), query))
        .order_by("-pk")
        .values_list("pk", "rank")
    )


def _fallback(cards, text: str) -> list[tuple[int, float]]:
    words = [w for w in re.split(r"[\W_]+", text) if w][:MAX_WORDS]
    score = Value(0, output_field=IntegerField())
    for word in words:
        fields = {
            "title": Q(title__icontains=word),
            "related": Q(related_object__name__icontains=word)
            | Q(related_object__external_ref__icontains=word),
            "description": Q(description__icontains=word),
            "comments": Q(
                Exists(Comment.objects.filter(task=OuterRef("pk"), text__icontains=word))
            ),
        }
        matched = Q()
        for name, weight in _FALLBACK_WEIGHTS:
            matched |= fields[name]
            score = score + Case(When(fields[name], then=weight), default=0)
        cards = cards.filter(matched)
    rows = cards.annotate(score=score).order_by("-pk").values_list("pk", "score")
    return [(pk, float(s)) for pk, s in rows[: CANDIDATES + 1]]


def cards_in_order(ids: list[int]) -> list[Task]:
    """The cards of these ids with what a result row shows, in this order (one query)."""
    by_id = Task.objects.for_list().in_bulk(ids)
    return [by_id[pk] for pk in ids if pk in by_id]
