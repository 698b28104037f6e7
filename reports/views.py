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
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reports import calibration, digest
from reports.catalogue import REPORTS
from reports.db import report_settings
from reports.figures import Figure
from reports.filters import ReportFilter
from reports.forms import ApplyForm, CalibrationForm, ConfirmedApplyForm, WeeklyForm
from reports.models import CalibrationApply
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
        "applies": calibration.recent_applies(),
        "thin_sample": calibration.THIN_SAMPLE,
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


def _back(request: HttpRequest, params: QueryDict) -> str:
    """The calibration page a proposal came from (`next`), if it is one of ours."""
    back = params.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = ""
    return back or reverse("reports_calibration")


@require_http_methods(["GET", "POST"])
@reports_permission
def calibration_apply(request: HttpRequest) -> HttpResponse:
    """GET: the confirm page of a proposal, the target's values before → after (writes
    nothing). POST (from that page): apply it through calibration.apply_proposal, which
    records it for undo. Refused: the calibration page the proposal came from, with the
    reason, as a 400 (409 when the target changed since it was shown); nothing is written."""
    params = request.POST if request.method == "POST" else request.GET
    back = _back(request, params)
    if not calibration.can_apply(request.user):
        return forbidden(request, "You may not change SLA targets.")
    form = (ConfirmedApplyForm if request.method == "POST" else ApplyForm)(params)
    if not form.is_valid():
        messages.error(request, f"Nothing was applied: {_form_errors(form)}")
        return _refused_apply(request, back)
    data = form.cleaned_data
    if request.method == "GET":
        return _confirm_page(request, data, back)
    try:
        record = calibration.apply_proposal(
            policy=data["policy"],
            priority=data["priority"],
            response=data["response"],
            resolution=data["resolution"],
            response_cards=data["response_cards"],
            resolution_cards=data["resolution_cards"],
            request_type=data["request_type"],
            seen=data["seen"],
            thin_confirmed=data["thin_confirmed"],
            actor=request.user,
        )
    except calibration.ThinProposal as error:
        return _confirm_page(request, data, back, problem=" ".join(error.messages), status=400)
    except calibration.StaleProposal as error:
        messages.error(request, "Nothing was applied: " + " ".join(error.messages))
        return _refused_apply(request, back, status=409)
    except ValidationError as error:
        messages.error(request, "Nothing was applied: " + " ".join(error.messages))
        return _refused_apply(request, back)
    messages.success(
        request,
        f"Applied {_record_summary(record)}. New cards get it, running timers are re-targeted"
        " (time already used stays used); “Undo” below writes the values before back.",
    )
    return redirect(back)


def _record_summary(record: CalibrationApply) -> str:
    return calibration.Change(
        policy=record.policy,
        priority=record.priority,
        exists=True,
        response_before=record.response_before,
        resolution_before=record.resolution_before,
        response_after=record.response_after,
        resolution_after=record.resolution_after,
    ).summary()


def _confirm_page(
    request: HttpRequest, data: dict, back: str, *, problem: str = "", status: int = 200
) -> HttpResponse:
    change = calibration.preview_change(
        policy=data["policy"],
        priority=data["priority"],
        response=data["response"],
        resolution=data["resolution"],
        response_cards=data["response_cards"],
        resolution_cards=data["resolution_cards"],
    )
    context = {
        "reports": REPORTS.values(),
        "active": "calibration",
        "change": change,
        "data": data,
        "seen": [_whole_seconds(change.response_before), _whole_seconds(change.resolution_before)],
        "thin_sample": calibration.THIN_SAMPLE,
        "problem": problem,
        "back": back,
    }
    return render(request, "reports/calibration_confirm.html", context, status=status)


def _whole_seconds(value: timedelta | None) -> str:
    return "" if value is None else str(int(value.total_seconds()))


@require_POST
@reports_permission
def calibration_undo(request: HttpRequest, pk: int) -> HttpResponse:
    """Write back the target's values from before a calibration apply (recorded on it)."""
    back = _back(request, request.POST)
    if not calibration.can_apply(request.user):
        return forbidden(request, "You may not change SLA targets.")
    record = CalibrationApply.objects.select_related("policy").filter(pk=pk).first()
    if record is None:
        raise Http404("No such calibration apply.")
    try:
        calibration.undo_apply(record=record, actor=request.user)
    except calibration.StaleProposal as error:
        messages.error(request, "Nothing was undone: " + " ".join(error.messages))
        return _refused_apply(request, back, status=409)
    messages.success(request, f"Undone: {_record_summary(record)} is back as it was before.")
    return redirect(back)


def _form_errors(form: ApplyForm) -> str:
    return " ".join(
        f"{form.fields[name].label or name.replace('_', ' ').capitalize()}: {' '.join(errors)}"
        if name in form.fields
        else " ".join(errors)
        for name, errors in form.errors.items()
    )


def _refused_apply(request: HttpRequest, back: str, status: int = 400) -> HttpResponse:
    """The calibration page with the filters of the page the proposal came from."""
    query = QueryDict(urlsplit(back).query, mutable=True)
    query.pop("export", None)
    return _calibration(request, query, here=back, status=status)


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
