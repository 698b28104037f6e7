"""The search page behind the nav's search box (the search itself: `tasks.search`)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from tasks import search


@require_GET
def search_cards(request: HttpRequest) -> HttpResponse:
    """`?q=` words or `#123`: a visible card named by number opens at once; otherwise the
    ranked matches among the cards the user may see, PAGE_SIZE a page. 400 for a search
    that cannot be run, with the reason."""
    raw = request.GET.get("q", "")
    context: dict = {"q": raw, "page": None, "error": "", "more": False}
    try:
        wanted = search.parse(raw)
    except search.BadSearch as error:
        context["error"] = str(error)
        context["q"] = raw.replace("\x00", "")[: search.MAX_LENGTH]
        return render(request, "tasks/search.html", context, status=400)
    context["q"] = wanted.text
    card = search.visible_card(request.user, wanted)
    if card is not None:
        return redirect(reverse("task_detail", args=[card]))
    context["searched"] = bool(wanted.text)
    context["has_words"] = wanted.has_words
    context["only_number"] = wanted.only_number
    found = search.find(request.user, wanted)
    page = Paginator(found.ids, search.PAGE_SIZE).get_page(request.GET.get("page"))
    context.update(
        page=page,
        cards=search.cards_in_order(list(page.object_list)),
        more=found.more,
        candidates=search.CANDIDATES,
    )
    return render(request, "tasks/search.html", context)
