"""Saved views: named filter sets of the at-risk queue and the card list, personal or shared
read-only with one of the owner's teams. Only the owner writes; bad input is a 400 with the
message, never a 500."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tasks.filters import AtRiskFilter, TaskFilter
from tasks.models import SavedView
from tasks.permissions import teams_of
from tasks.views import forbidden

NAME_MAX_LENGTH = 80
QUERY_MAX_LENGTH = 1000
# Which filters each page knows; anything else in a saved query is dropped.
PAGE_FILTERS = {
    SavedView.Page.QUEUE: ("at_risk", frozenset(AtRiskFilter.base_filters)),
    SavedView.Page.CARDS: ("task_list", frozenset(TaskFilter.base_filters)),
}


class Invalid(ValueError):
    """Input a saved view cannot take; its message is shown as is."""


def normalize_query(page: str, raw: str) -> str:
    """The query string as saved: only the page's filter keys, no `page`, no empty values,
    keys sorted so the same filters read the same; bounded in length."""
    known = PAGE_FILTERS[page][1]
    given = QueryDict(raw)
    kept = QueryDict(mutable=True)
    for key in sorted(given):
        if key in known:
            values = [v for v in given.getlist(key) if v and "\x00" not in v]
            if values:
                kept.setlist(key, values)
    query = kept.urlencode()
    if len(query) > QUERY_MAX_LENGTH:
        raise Invalid(f"These filters are too long to save (over {QUERY_MAX_LENGTH} characters).")
    return query


def clean_name(raw: str | None) -> str:
    name = (raw or "").strip()
    if not name:
        raise Invalid("A saved view needs a name.")
    if len(name) > NAME_MAX_LENGTH:
        raise Invalid(f"A view's name is at most {NAME_MAX_LENGTH} characters.")
    if any(ch in name for ch in "\x00\r\n") or not name.isprintable():
        raise Invalid("A view's name is one line of printable text.")
    return name


def _clean_page(raw: str | None) -> str:
    if raw not in PAGE_FILTERS:
        raise Invalid("Views are saved for the at-risk queue or the card list only.")
    return raw


def _clean_team(user, raw: str | None) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or int(raw) not in teams_of(user).all:
        raise Invalid("You can share a view only with a team you are a member or manager of.")
    return int(raw)


def _name_taken(owner, page: str, name: str, exclude: int | None = None) -> bool:
    return SavedView.objects.filter(owner=owner, page=page, name=name).exclude(pk=exclude).exists()


def visible_views(user, page: str | None = None):
    """The viewer's own views and those shared with her teams (one query)."""
    teams = teams_of(user).all
    views = SavedView.objects.filter(Q(owner=user) | Q(team_id__in=teams)).select_related(
        "owner", "team"
    )
    return views.filter(page=page) if page else views


def view_url(view: SavedView) -> str:
    url = reverse(PAGE_FILTERS[view.page][0])
    return f"{url}?{view.query}" if view.query else url


@login_required
@require_GET
def saved_view_list(request: HttpRequest) -> HttpResponse:
    views = [(view, view_url(view)) for view in visible_views(request.user)]
    return render(request, "tasks/saved_views.html", {"views": views})


@login_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    try:
        page = _clean_page(request.POST.get("page"))
        name = clean_name(request.POST.get("name"))
        query = normalize_query(page, request.POST.get("query", ""))
        team = _clean_team(request.user, request.POST.get("team"))
        if _name_taken(request.user, page, name):
            raise Invalid(f"You already have a view named “{name}” on this page.")
    except Invalid as error:
        return HttpResponseBadRequest(str(error))
    view = SavedView.objects.create(
        owner=request.user, page=page, name=name, query=query, team_id=team
    )
    return redirect(view_url(view))


def _own_view(request: HttpRequest, pk: int) -> SavedView | HttpResponse:
    view = get_object_or_404(visible_views(request.user), pk=pk)
    if view.owner_id != request.user.pk:
        return forbidden(request, "Only its owner may change a saved view.")
    return view


@login_required
@require_POST
def saved_view_rename(request: HttpRequest, pk: int) -> HttpResponse:
    view = _own_view(request, pk)
    if isinstance(view, HttpResponse):
        return view
    try:
        name = clean_name(request.POST.get("name"))
        if _name_taken(request.user, view.page, name, exclude=view.pk):
            raise Invalid(f"You already have a view named “{name}” on this page.")
    except Invalid as error:
        return HttpResponseBadRequest(str(error))
    view.name = name
    view.save(update_fields=["name", "updated"])
    return redirect("saved_views")


@login_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = _own_view(request, pk)
    if isinstance(view, HttpResponse):
        return view
    view.delete()
    return redirect("saved_views")
