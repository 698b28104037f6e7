"""Report pages, calibration and the weekly review. Each view parses input (FilterSet/form),
calls a query, renders; `?export=<figure>` returns that figure's table as CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import wraps
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from reports import calibration, digest
from reports.catalogue import REPORTS
from reports.db import report_settings
from reports.figures import Figure
from reports.filters import ReportFilter
from reports.forms import ApplyForm, CalibrationForm, WeeklyForm
from tasks.models import Task
from tasks.validators import EARLIEST_DATE, LATEST_DATE

PERMISSION = "reports.view_reports"


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


def reports_permission(view: Callable) -> Callable:
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.has_perm(PERMISSION):
            return forbidden(request, "Reports are for managers.")
        return view(request, *args, **kwargs)

    return guarded


def _filter(request: HttpRequest) -> ReportFilter:
    return ReportFilter(request.GET or None, queryset=Task.objects.none())


def _refused_export(problems: list[str]) -> HttpResponse:
    """A CSV of another period or scope than the one asked for would mislead: refuse it."""
    text = "Nothing was exported: " + " ".join(problems) + "\n"
    return HttpResponseBadRequest(text, content_type="text/plain; charset=utf-8")


def _csv(figure: Figure, filename: str) -> HttpResponse:
    response = HttpResponse(figure.to_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _query(params: QueryDict, drop: tuple[str, ...] = ("export",)) -> str:
    query = params.copy()
    for name in drop:
        query.pop(name, None)
    return query.urlencode()


@require_GET
@reports_permission
def index(request: HttpRequest) -> HttpResponse:
    return redirect("reports_page", slug="overview")


@require_GET
@reports_permission
@report_settings
def report_page(request: HttpRequest, slug: str) -> HttpResponse:
    report = REPORTS.get(slug)
    if report is None:
        raise Http404("No such report.")
    filterset = _filter(request)
    scope, problems = filterset.scope()
    figures = report.build(scope, timezone.now())
    export = request.GET.get("export")
    if export:
        figure = next((f for f in figures if f.key == export), None)
        if figure is None:
            raise Http404("No such table in this report.")
        if problems:
            return _refused_export(problems)
        return _csv(figure, f"{slug}-{figure.key}-{scope.first_day}-{scope.last_day}")
    context = {
        "report": report,
        "active": slug,
        "reports": REPORTS.values(),
        "filter": filterset,
        "scope": scope,
        "problems": problems,
        "figures": figures,
        "query": _query(request.GET),
    }
    return render(request, "reports/report.html", context)


@require_GET
@reports_permission
@report_settings
def calibration_page(request: HttpRequest) -> HttpResponse:
    return _calibration(request, request.GET, here=request.get_full_path())


def _calibration(
    request: HttpRequest, query: QueryDict, *, here: str, status: int = 200
) -> HttpResponse:
    """The calibration page for the filters and options in `query`."""
    filterset = ReportFilter(query or None, queryset=Task.objects.none())
    scope, problems = filterset.scope()
    form = CalibrationForm(query or None)
    options = form.options()
    problems += form.problems()
    rows = calibration.distribution(scope, **options)
    if query.get("export") == "calibration":
        if problems:
            return _refused_export(problems)
        return _csv(calibration_figure(rows), f"calibration-{scope.first_day}-{scope.last_day}")
    context = {
        "reports": REPORTS.values(),
        "filter": filterset,
        "active": "calibration",
        "form": form,
        "scope": scope,
        "problems": problems,
        "rows": rows,
        "options": options,
        "source_label": calibration.SOURCES[options["source"]],
        "percentile_label": f"{options['percentile'] * 100:.0f}th",
        "can_apply": calibration.can_apply(request.user),
        "query": _query(query),
        "here": here,
    }
    return render(request, "reports/calibration.html", context, status=status)


def calibration_figure(rows: list[calibration.Row]) -> Figure:
    from reports.figures import Column, Kind

    columns = [Column("type", "Request type", Kind.TEXT), Column("priority", "Priority", Kind.TEXT)]
    for kind in calibration.KINDS:
        k = kind.label
        columns += [
            Column(f"{kind}_count", f"{k}: cards"),
            Column(f"{kind}_p50", f"{k}: p50", Kind.DURATION),
            Column(f"{kind}_p80", f"{k}: p80", Kind.DURATION),
            Column(f"{kind}_p90", f"{k}: p90", Kind.DURATION),
            Column(f"{kind}_proposal", f"{k}: proposed target", Kind.DURATION),
            Column(f"{kind}_within", f"{k}: share within candidate", Kind.SHARE),
            Column(f"{kind}_current", f"{k}: current target", Kind.DURATION),
        ]
    out = []
    for row in rows:
        values = {"type": row.request_type, "priority": row.priority_label}
        for kind, m in row.measures.items():
            values.update(
                {
                    f"{kind}_count": m.count,
                    f"{kind}_p50": m.p50,
                    f"{kind}_p80": m.p80,
                    f"{kind}_p90": m.p90,
                    f"{kind}_proposal": m.proposal,
                    f"{kind}_within": m.within,
                    f"{kind}_current": m.current,
                }
            )
        out.append(values)
    return Figure("calibration", "Calibration", columns, out)


@require_POST
@reports_permission
def calibration_apply(request: HttpRequest) -> HttpResponse:
    """Apply a proposal to a policy's target (through sla.policies.set_targets, which says
    whether the values may be a target). Refused: the page the proposal came from again,
    with the reason, as a 400; nothing is written."""
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = ""
    back = back or reverse("reports_calibration")
    if not calibration.can_apply(request.user):
        return forbidden(request, "You may not change SLA targets.")
    form = ApplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing was applied: {_form_errors(form)}")
        return _refused_apply(request, back)
    data = form.cleaned_data
    try:
        target = calibration.apply_proposal(
            policy=data["policy"],
            priority=data["priority"],
            response=data["response"],
            resolution=data["resolution"],
            actor=request.user,
        )
    except ValidationError as error:
        messages.error(request, "Nothing was applied: " + " ".join(error.messages))
        return _refused_apply(request, back)
    messages.success(
        request,
        f"Target {target} saved: new cards get it, and running timers are re-targeted"
        " (time already used stays used).",
    )
    return redirect(back)


def _form_errors(form: ApplyForm) -> str:
    return " ".join(
        f"{form.fields[name].label or name.replace('_', ' ').capitalize()}: {' '.join(errors)}"
        if name in form.fields
        else " ".join(errors)
        for name, errors in form.errors.items()
    )


def _refused_apply(request: HttpRequest, back: str) -> HttpResponse:
    """The calibration page with the filters of the page the proposal came from."""
    query = QueryDict(urlsplit(back).query, mutable=True)
    query.pop("export", None)
    return _calibration(request, query, here=back, status=400)


def _within_range(week: date) -> date | None:
    """The Monday of a neighbouring week, or None when the form would refuse it."""
    return week if EARLIEST_DATE <= week <= LATEST_DATE else None


@require_GET
@reports_permission
@report_settings
def weekly(request: HttpRequest) -> HttpResponse:
    form = WeeklyForm(request.GET or None)
    week, team, problems = form.choice(digest.last_week())
    review = digest.build(week, team)
    context = {
        "reports": REPORTS.values(),
        "active": "weekly",
        "form": form,
        "digest": review,
        "problems": problems,
        "previous_week": _within_range(week - timedelta(days=7)),
        "next_week": _within_range(week + timedelta(days=7)),
        "team_id": team.pk if team else "",
    }
    return render(request, "reports/weekly.html", context)
