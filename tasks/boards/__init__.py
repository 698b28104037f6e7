"""The screens people live in: the at-risk queue (managers, `at_risk`), the dispatch board
(dispatchers, `dispatch`) and My work (performers, `my_work`). Each renders in a constant
number of queries. They show cards and timers together, so they may import both `tasks` and
`sla`.

One module per screen, and what they share:

- `at_risk`: the queue, its filters and its page;
- `calendar_feed`: my deadlines as an iCalendar feed behind a secret link;
- `cache`: the queue's short-lived HTML cache and the signals that invalidate it;
- `dispatch`: the board's four lists and the assignment a row posts;
- `load`: the people with their open and at-risk load (the board's owner choices, raw SQL);
- `my_work`: a performer's cards and their quick actions;
- `scope`: which teams' cards the board and the queue show ("My teams" / "All teams");
- `jinja`: the Jinja2 environment of the rows and cards htmx swaps (templates/jinja2/).

The cache's signal receivers are connected here, by importing `cache` with the package
(tasks/urls.py imports the package, so every process that serves a request has them).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from tasks.auth_backend import role_names
from tasks.boards import cache  # noqa: F401  (connects the queue cache's signal receivers)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands where its work is."""
    user = request.user
    roles = role_names(user)
    if user.has_perm("tasks.assign_task") and "manager" in roles:
        return redirect("at_risk")
    if "dispatcher" in roles:
        return redirect("dispatch")
    if user.has_perm("tasks.work_task"):
        return redirect("my_work")
    return redirect("task_list")
