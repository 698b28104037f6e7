"""The bulk endpoint of the card list and the dispatch board: one POST, one summary.

Works without JavaScript (POST, then a redirect back with the summary in messages) and with
htmx (the same POST; `HX-Redirect` sends the page back to where it was). Bad input is a 400
with the reason, never a 500. The work itself is `tasks.bulk.apply_bulk`.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from tasks.bulk import BadBulkRequest, apply_bulk, parse_cards


def _back(request: HttpRequest) -> str:
    """Where the form came from (the list with its filters), if it is on this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("task_list")


@require_POST
def bulk_cards(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    value = request.POST.get(action, "") if action else ""
    try:
        cards = parse_cards(request.POST.getlist("card"))
        result = apply_bulk(request.user, cards, action, value)
    except BadBulkRequest as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    level = messages.WARNING if result.refused else messages.SUCCESS
    messages.add_message(request, level, result.summary())
    back = _back(request)
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = back
        return response
    return redirect(back)
