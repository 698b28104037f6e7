"""The HTML of the rows the dashboards repeat: the at-risk queue's rows (50 a page), the
dispatch board's rows (up to 150, each with its assign form; also the one row an assignment
returns to HTMX) and My work's cards (up to 200, each with up to three forms; also the one card
a quick action returns). The templates keep the page around them (tables, headings, empty
messages, pagination, counts) and output these rows as they are.

Rendered in Python, like the filter selects (`tasks.filters._PythonRenderedSelect`): through
the template engine, resolving each row's dozen variables cost ~0.35 ms a row (the queue's
partial ~17 ms, the dispatch board ~50 ms, My work's cards ~70 ms at 1M cards); here ~0.1 ms
(My work's 200 cards: ~17 ms, a third of it formatting their dates). Every value goes through
`format_html`, which escapes it as the template engine did; dates are formatted as the `date`
filter does, in the active timezone (the viewer's: `tasks.middleware.ViewerTimezoneMiddleware`),
and durations by the same `hm` and `clamp_pct` filters. tests/tasks/test_rows.py checks the
escaping, the timezone and that the board's row and an assignment's row, and My work's card and
a quick action's card, are the same markup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from sla.engine import Progress
from sla.models import SlaTimer
from sla.queries import BREACHED, RUNNING, WARNED
from tasks.models import BlockingReason, Status, Task
from tasks.templatetags.turnaround import clamp_pct, hm


def _url_with_pk(name: str) -> Callable[[int], str]:
    """`reverse(name, args=[pk])` for every row at the cost of one `reverse` (~20 µs each): the
    URL of a placeholder pk, split where the placeholder is (a pk is digits, unquoted)."""
    placeholder = 9_876_543_210_123
    prefix, suffix = reverse(name, args=[placeholder]).split(str(placeholder))
    return lambda pk: f"{prefix}{pk}{suffix}"


def _date(value: datetime, format_string: str) -> str:
    """As the template filter `{{ value|date:format_string }}`: in the active timezone."""
    return dateformat.format(timezone.localtime(value), format_string)


def _person(user: AbstractBaseUser | None) -> str:
    """As `{{ user.get_full_name|default:user.username }}` (empty for nobody)."""
    return (user.get_full_name() or user.username) if user is not None else ""


_BAND_BADGES = {
    BREACHED: mark_safe('<span class="badge breached">Breached</span>'),
    WARNED: mark_safe('<span class="badge warn">At risk</span>'),
    RUNNING: mark_safe('<span class="badge running">Running</span>'),
}
_PAUSED_BADGE = mark_safe('<span class="badge paused">Paused</span>')
_OBSERVE_BADGE = mark_safe('<span class="badge observe">Observe</span>')
_BAND_BARS = {BREACHED: "breached", WARNED: "warn"}
_UNASSIGNED = mark_safe("<em>unassigned</em>")
_NO_NEXT_STEP = mark_safe("<em>No next step.</em>")


class AtRiskRows:
    """Renders the at-risk queue's rows for one response."""

    def __init__(self) -> None:
        self._card_url = _url_with_pk("task_detail")  # Task.get_absolute_url

    def row(self, timer: SlaTimer, progress: Progress) -> SafeString:
        """One row: the timer's card (with its owner, related object, team, request type
        and blocking reason read in the same query) and where its clock stands (`progress`
        at the page's `now`). `timer.band` is the `sla.queries.with_band` annotation."""
        task = timer.task
        band = timer.band
        remaining = progress.remaining
        if remaining < timedelta(0):
            left = format_html("<strong>{}</strong> over", hm(remaining))
        else:
            left = format_html("{} left", hm(remaining))
        return format_html(
            """
      <tr data-band="{band}">
        <td><a href="{url}">#{pk} {title}</a><br><small class="muted">{request_type}{team}</small></td>
        <td>{related}</td>
        <td>{owner}</td>
        <td><span class="badge {priority}">{priority_display}</span></td>
        <td>{status}{reason}</td>
        <td>{kind}<br>
          {band_badge}
          {observe}</td>
        <td>
          <progress value="{bar}" max="100" class="{bar_class}" aria-label="{percent}% of target used"></progress>
          {left}
          <small class="muted">of {target}{due}</small>
        </td>
      </tr>
    """,  # noqa: E501 (the row as the browser gets it)
            band=band,
            url=self._card_url(task.pk),
            pk=task.pk,
            title=task.title,
            request_type=task.request_type.name,
            team=format_html(" · {}", task.team.name) if task.team else "",
            related=(task.related_object.name if task.related_object else "") or "—",
            owner=_person(task.owner) if task.owner else _UNASSIGNED,
            priority=task.priority,
            priority_display=task.get_priority_display(),
            status=task.get_status_display(),
            reason=(
                format_html("<br><small>{}</small>", task.blocking_reason.name)
                if task.blocking_reason
                else ""
            ),
            kind=timer.get_kind_display(),
            band_badge=_BAND_BADGES.get(band, _PAUSED_BADGE),
            observe=_OBSERVE_BADGE if timer.observe else "",
            bar=clamp_pct(progress.percent),
            bar_class=_BAND_BARS.get(band, ""),
            percent=progress.percent,
            left=left,
            target=hm(timer.target),
            due=format_html(" · due {}", _date(timer.due_at, "D H:i")) if timer.due_at else "",
        )


class DispatchRows:
    """Renders the dispatch board's rows for one response (the board, or the row an assignment
    returns), with what every row shares rendered once: the people's owner <option>s (through
    the template engine, 150 rows × 50 people cost ~200 ms) and the CSRF token.

    `people`: as `tasks.boards.load.people_with_load` reads them (`open_load`, `at_risk_load`);
    `csrf_token`: `django.middleware.csrf.get_token(request)`."""

    def __init__(self, people: Iterable, *, csrf_token: str):
        self.csrf_token = csrf_token
        self._options = [
            (
                person.pk,
                format_html(
                    '<option value="{}">{} — {} open, {} at risk</option>',
                    person.pk,
                    _person(person),
                    person.open_load,
                    person.at_risk_load,
                ),
            )
            for person in people
        ]
        self._options_by_owner: dict[int | None, SafeString] = {}
        self._card_url = _url_with_pk("task_detail")  # Task.get_absolute_url
        self._assign_url = _url_with_pk("dispatch_assign")

    def _owner_options(self, owner_id: int | None) -> SafeString:
        """Every person's <option>, the card's owner selected; once per owner."""
        options = self._options_by_owner.get(owner_id)
        if options is None:
            options = self._options_by_owner[owner_id] = mark_safe(  # joins format_html only
                "".join(
                    html.replace("<option ", "<option selected ", 1) if pk == owner_id else html
                    for pk, html in self._options
                )
            )
        return options

    def row(self, task: Task, *, error: str = "", done: bool = False) -> SafeString:
        """The card's row: its assign form and, after an assignment, the error or the new
        owner (`role="alert"` / `role="status"`). The card's owner, team and request type
        are read with it (`Task.objects.for_list()`)."""
        if error:
            message = format_html('<small class="errorlist" role="alert">{}</small>', error)
        elif done:
            message = format_html(
                '<small class="muted" role="status">Assigned to {}.</small>', _person(task.owner)
            )
        else:
            message = ""
        return format_html(
            """
<tr id="dispatch-row-{pk}">
  <td><a href="{url}">#{pk} {title}</a><br>
    <small class="muted">{request_type}{team} · {created}</small>
    {flag}</td>
  <td><span class="badge {priority}">{priority_display}</span></td>
  <td>{owner}<br><small>{status}</small></td>
  <td>
    <form method="post" action="{assign}" hx-post="{assign}" hx-target="#dispatch-row-{pk}" hx-swap="outerHTML" style="margin:0">
      <input type="hidden" name="csrfmiddlewaretoken" value="{csrf_token}"><input type="hidden" name="version" value="{version}">
      <fieldset role="group" style="margin:0">
        <select name="owner" aria-label="Owner for card #{pk}" required>
          <option value="">Choose owner…</option>
          {options}
        </select>
        <button type="submit">Assign</button>
      </fieldset>
      {message}
    </form>
  </td>
</tr>
""",  # noqa: E501 (the row as the browser gets it)
            pk=task.pk,
            url=self._card_url(task.pk),
            title=task.title,
            request_type=task.request_type.name,
            team=format_html(" · {}", task.team.name) if task.team else "",
            created=_date(task.created_at, "D j M H:i"),
            flag=(
                format_html('<br><span class="badge warn">{}</span>', task.dispatch_flag)
                if task.dispatch_flag
                else ""
            ),
            priority=task.priority,
            priority_display=task.get_priority_display(),
            owner=_person(task.owner) if task.owner else _UNASSIGNED,
            status=task.get_status_display(),
            assign=self._assign_url(task.pk),
            csrf_token=self.csrf_token,
            version=task.version,
            options=self._owner_options(task.owner_id),
            message=message,
        )


class WorkCards:
    """Renders My work's cards for one response (the page's cards, up to 200 with three forms
    each, or the one card a quick action returns), with what every card shares rendered once:
    the active blocking reasons' <option>s (one select per card) and the CSRF token.

    `reasons`: the active blocking reasons, in their order; `csrf_token`:
    `django.middleware.csrf.get_token(request)`."""

    def __init__(self, reasons: Iterable[BlockingReason], *, csrf_token: str):
        self.csrf_token = csrf_token
        self._reason_options = mark_safe(  # joins format_html only
            "".join(
                format_html('<option value="{}">{}</option>', reason.pk, reason.name)
                for reason in reasons
            )
        )
        self._card_url = _url_with_pk("task_detail")  # Task.get_absolute_url
        self._status_url = _url_with_pk("my_work_status")

    def card(self, task: Task, *, error: str = "") -> SafeString:
        """The card (its blocking reason read in the same query: `Task.objects.for_list()`)
        with its quick actions while it is open, and the error of a quick action
        (`role="alert"`). `breached` and `next_due` are the annotations of
        `tasks.boards.my_work.work_cards`; a card read without them shows neither."""
        next_due = getattr(task, "next_due", None)
        if task.next_step:
            next_step = format_html(
                "Next: {}{}",
                task.next_step,
                format_html(" (by {})", _date(task.next_step_due, "D j M H:i"))
                if task.next_step_due
                else "",
            )
        else:
            next_step = _NO_NEXT_STEP
        return format_html(
            """
<article id="work-{pk}" class="work-card">
  <header>
    <a href="{url}"><strong>#{pk} {title}</strong></a>
    <span class="badge {priority}">{priority_display}</span>
    {breached}
    · {status}{reason}
    {next_due}
  </header>
  <p>{next_step}</p>
  {error}
  {actions}
</article>
""",
            pk=task.pk,
            url=self._card_url(task.pk),
            title=task.title,
            priority=task.priority,
            priority_display=task.get_priority_display(),
            breached=_BAND_BADGES[BREACHED] if getattr(task, "breached", False) else "",
            status=task.get_status_display(),
            reason=(
                format_html(" — {}", task.blocking_reason.name) if task.blocking_reason else ""
            ),
            next_due=(
                format_html(
                    '<small class="muted"> · next deadline {}</small>',
                    _date(next_due, "D j M H:i"),
                )
                if next_due
                else ""
            ),
            next_step=next_step,
            error=format_html('<p class="flash error" role="alert">{}</p>', error) if error else "",
            actions=(
                self._quick_actions(task)
                if task.is_open
                else format_html(
                    '<p class="muted" role="status">{}.</p>', task.get_status_display()
                )
            ),
        )

    def _quick_actions(self, task: Task) -> SafeString:
        """An open card's forms, each posting a move to `tasks.boards.my_work.my_work_status` (whose
        answer replaces the card): take into work and mark waiting (for a chosen reason)
        unless the card is already so, and done."""
        url = self._status_url(task.pk)
        head = format_html(
            '<form method="post" action="{url}" hx-post="{url}" hx-target="#work-{pk}"'
            ' hx-swap="outerHTML">\n      <input type="hidden" name="csrfmiddlewaretoken"'
            ' value="{csrf_token}"><input type="hidden" name="version" value="{version}">',
            url=url,
            pk=task.pk,
            csrf_token=self.csrf_token,
            version=task.version,
        )  # each form's opening tag and shared fields, as the browser gets them
        take = wait = ""
        if task.status != Status.IN_PROGRESS:
            take = format_html(
                """
    {head}<input type="hidden" name="to" value="in_progress">
      <button type="submit">Take into work</button>
    </form>
    """,
                head=head,
            )
        if task.status != Status.WAITING:
            wait = format_html(
                """
    {head}<input type="hidden" name="to" value="waiting">
      <fieldset role="group">
        <select name="blocking_reason" aria-label="Waiting for (card #{pk})" required>
          <option value="">Waiting for…</option>
          {options}
        </select>
        <button type="submit" class="secondary">Mark waiting</button>
      </fieldset>
    </form>
    """,
                head=head,
                pk=task.pk,
                options=self._reason_options,
            )
        return format_html(
            """
  <div class="grid">
    {take}
    {wait}
    {head}<input type="hidden" name="to" value="done">
      <button type="submit" class="contrast">Done</button>
    </form>
  </div>
  """,
            take=take,
            wait=wait,
            head=head,
        )
