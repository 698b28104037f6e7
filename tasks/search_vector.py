"""The card's search document: one weighted `tsvector` per card (PostgreSQL), kept in
`Task.search_vector` and read by `tasks.search` through a GIN index.

    A  the title
    B  the related object's name and external reference
    C  the description
    D  the comments' text (the newest first, capped: see COMMENTS_CAP)

Derived data, written only here: `create_task` inserts a card with `of_new_card` (the vector
computed in the INSERT itself, from what the card says), `tasks.actions` calls `refresh` after
a change of what a card says (details, a comment) and `RelatedObject.save` after a rename.
Benchmark generators that insert cards in bulk call `VECTOR_SQL` themselves.

The text-search configuration is 'simple' (lower-cased words, no stemming, no stop words): cards
are searched mostly by names, client names and references (`INV-2024-001`, `ACME`), which a
language's stemmer would mangle, and teams write in more than one language. The price: a
search for "invoices" does not find "invoice" (the search page says to try another form).

Elsewhere than on PostgreSQL the column stays empty and `tasks.search` falls back to
`icontains` over the same fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models.expressions import RawSQL

if TYPE_CHECKING:  # tasks.models imports this module
    from tasks.models import RelatedObject

CONFIG = "simple"
# Comment text beyond this many characters (of the newest comments first) is not indexed: a
# tsvector holds at most 1 MB, and a card with thousands of comments must still save.
COMMENTS_CAP = 100_000

# The vector of the card row `t` (an alias the statement gives tasks_task).
VECTOR_SQL = f"""
    setweight(to_tsvector('{CONFIG}', t.title), 'A')
    || setweight(to_tsvector('{CONFIG}', coalesce((
        SELECT r.name || ' ' || r.external_ref FROM tasks_relatedobject r
        WHERE r.id = t.related_object_id), '')), 'B')
    || setweight(to_tsvector('{CONFIG}', t.description), 'C')
    || setweight(to_tsvector('{CONFIG}', coalesce((
        SELECT left(string_agg(c.text, ' ' ORDER BY c.id DESC), {COMMENTS_CAP})
        FROM tasks_comment c WHERE c.task_id = t.id), '')), 'D')
"""


def available() -> bool:
    """Whether cards carry a search vector (PostgreSQL)."""
    return connection.vendor == "postgresql"


# The vector of a card not saved yet: what VECTOR_SQL makes of a card without comments, from
# the values the card is inserted with (title, related object's words, description).
_NEW_CARD_SQL = f"""
    setweight(to_tsvector('{CONFIG}', %s), 'A')
    || setweight(to_tsvector('{CONFIG}', %s), 'B')
    || setweight(to_tsvector('{CONFIG}', %s), 'C')
"""


def of_new_card(
    *, title: str, related_object: RelatedObject | None, description: str
) -> RawSQL | None:
    """The search vector of a new card, as the value of its INSERT (no UPDATE after it): the
    same document `refresh` would compute for it. None off PostgreSQL."""
    if not available():
        return None
    related = f"{related_object.name} {related_object.external_ref}" if related_object else ""
    return RawSQL(_NEW_CARD_SQL, [title, related, description])


def refresh(*, task_ids: Iterable[int] = (), related_object_id: int | None = None) -> None:
    """Recompute the search vector of these cards, or of every card about this related
    object. One UPDATE; nothing off PostgreSQL."""
    if not available():
        return
    ids = list(task_ids)
    with connection.cursor() as cursor:
        if ids:
            cursor.execute(
                f"UPDATE tasks_task AS t SET search_vector = {VECTOR_SQL} WHERE t.id = ANY(%s)",
                [ids],
            )
        if related_object_id is not None:
            cursor.execute(
                f"UPDATE tasks_task AS t SET search_vector = {VECTOR_SQL} "
                "WHERE t.related_object_id = %s",
                [related_object_id],
            )
