"""The type-ahead pickers' searches: small JSON answers for the selects that static/app.js
turns into Tom Select controls (`select[data-picker=…]`). Without JavaScript the same
selects are plain and offer the same people, so these endpoints only search; every rule of
who may be chosen stays in `tasks.permissions` and the forms check it again on POST.

    GET /pick/people/?q=ann                      people the viewer may see
    GET /pick/people/?q=ann&card=12&role=owner   people who may own card 12
    GET /pick/people/?q=ann&card=12&role=performer   people who may perform it
    GET /pick/related-objects/?q=acme&kind=client
    GET /pick/request-types/?q=lead

Each answers `{"results": [{"value": id, "text": label}, …], "more": bool}`: at most
PICK_LIMIT results in a stable order (names, then ids). A bad parameter is a 400 with
`{"error": "…"}` naming it; a card the viewer may not see is a 404 (as the card page).
Login is required (LoginRequiredMiddleware), as for every page."""

from __future__ import annotations

from functools import reduce
from operator import and_, or_

from django.db.models import Q, QuerySet
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from tasks.actions import person_name
from tasks.forms import related_object_label
from tasks.models import RelatedObject, RequestType, Task
from tasks.permissions import people_seen_by, people_who_may_own, people_who_may_work_cards

PICK_LIMIT = 20
QUERY_MAX_LENGTH = 100
ROLES = ("owner", "performer")  # the roles a people picker can be asked for (`?role=`)


class BadPick(Exception):
    """A parameter the search cannot use: answered 400 with its message."""


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _words(request: HttpRequest) -> list[str]:
    """The words of `?q=` (none: the first results, as a picker shows when opened)."""
    query = request.GET.get("q", "")
    if len(query) > QUERY_MAX_LENGTH:
        raise BadPick(f"The search (q) is longer than {QUERY_MAX_LENGTH} characters.")
    if "\x00" in query:
        raise BadPick("The search (q) holds a NUL character.")
    return query.split()[:5]


def _matching(words: list[str], fields: tuple[str, ...]) -> Q:
    """Each word found in one of `fields` (case-insensitive)."""
    return reduce(
        and_,
        (reduce(or_, (Q(**{f"{f}__icontains": w}) for f in fields)) for w in words),
        Q(),
    )


def _answer(rows: QuerySet, label) -> JsonResponse:
    """The first PICK_LIMIT rows (one query: one more is read to know whether there is more)."""
    found = list(rows[: PICK_LIMIT + 1])
    results = [{"value": row.pk, "text": label(row)} for row in found[:PICK_LIMIT]]
    return JsonResponse({"results": results, "more": len(found) > PICK_LIMIT})


def _card_id(request: HttpRequest) -> int | None:
    raw = request.GET.get("card")
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise BadPick(f"“{raw[:20]}” is not a card number (card).")
    return int(raw)


def _role(request: HttpRequest, card: int | None) -> str | None:
    role = request.GET.get("role") or None
    if role is None and card is not None:
        return "owner"  # a card's picker asks for its owner unless it says otherwise
    if role is not None and role not in ROLES:
        raise BadPick(
            f"“{role[:20]}” is not a role a picker offers people for: {', '.join(ROLES)}."
        )
    return role


@require_GET
def pick_people(request: HttpRequest) -> JsonResponse:
    """People by name or username. With `card` (and `role=owner`, the default for a card):
    who may own that card (`tasks.permissions.people_who_may_own`: the card's team's people
    who may work cards), with `role=performer` who may work cards; with a role alone: who
    may work cards, among the people the viewer may see; else the people the viewer may see
    (`people_seen_by`)."""
    try:
        words = _words(request)
        card_id = _card_id(request)
        role = _role(request, card_id)
    except BadPick as error:
        return _error(str(error), 400)
    if card_id is not None:
        card = (
            Task.objects.visible_to(request.user).filter(pk=card_id).select_related("team").first()
        )
        if card is None:
            return _error(f"There is no card #{card_id} you may see.", 404)
        # A card's performers: anyone who may work cards (the form's and the actions' rule).
        people = people_who_may_own(card.team) if role == "owner" else people_who_may_work_cards()
    elif role is not None:
        people = people_who_may_work_cards() & people_seen_by(request.user)
    else:
        people = people_seen_by(request.user)
    people = people.filter(_matching(words, ("first_name", "last_name", "username")))
    ordered = people.order_by("first_name", "last_name", "username", "pk").only(
        "pk", "username", "first_name", "last_name"
    )
    return _answer(ordered, person_name)


@require_GET
def pick_related_objects(request: HttpRequest) -> JsonResponse:
    """Related objects by name, external reference or kind (a word naming a kind, e.g.
    "client", matches its objects); `?kind=` keeps one kind."""
    try:
        words = _words(request)
        kind = request.GET.get("kind") or None
        if kind is not None and kind not in RelatedObject.Kind.values:
            raise BadPick(
                f"“{kind[:20]}” is not a kind of related object: "
                + ", ".join(RelatedObject.Kind.values)
                + "."
            )
    except BadPick as error:
        return _error(str(error), 400)
    objects = RelatedObject.objects.all()
    if kind is not None:
        objects = objects.filter(kind=kind)
    for word in words:
        kinds = [k.value for k in RelatedObject.Kind if word.lower() in k.label.lower()]
        objects = objects.filter(
            Q(name__icontains=word) | Q(external_ref__icontains=word) | Q(kind__in=kinds)
        )
    ordered = objects.order_by("name", "pk").only("pk", "kind", "name", "external_ref")
    return _answer(ordered, related_object_label)


@require_GET
def pick_request_types(request: HttpRequest) -> JsonResponse:
    """Request types in use (active), by name."""
    try:
        words = _words(request)
    except BadPick as error:
        return _error(str(error), 400)
    types = RequestType.objects.filter(active=True).filter(_matching(words, ("name",)))
    return _answer(types.order_by("name", "pk").only("pk", "name"), str)
