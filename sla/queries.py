"""Reads over many timers: the at-risk ranking used by the dashboards and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Lookup,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, NullIf

from sla import engine, rules
from sla.models import BusinessCalendar, SlaTimer, SlaTimerQuerySet, band_expression

# Bands of the at-risk queue, most urgent first (defined in sla.rules).
BREACHED, WARNED, RUNNING, PAUSED = rules.BREACHED, rules.WARNED, rules.RUNNING, rules.PAUSED
BAND_NAMES = rules.BAND_NAMES


def calendar_positions(now: datetime) -> dict[int, int]:
    """Each calendar's position on its business-time axis at `now` (engine.position).
    One query; calendars are built from their cache (rebuilt only after a change)."""
    return {
        calendar.pk: engine.position(calendar.work_calendar(), now)
        for calendar in BusinessCalendar.objects.only("pk", "revision", "timezone", "always_open")
    }


def with_risk(timers: SlaTimerQuerySet, now: datetime) -> QuerySet[SlaTimer]:
    """Annotate open timers with `band` (breached, warned, running, paused) and `share_left`
    (business time left as a share of the target, exact per calendar), and order them
    most urgent first: breached longest ago, then the smallest share of target left."""
    return _rank(with_band(timers, now), calendar_positions(now))


def band_counts(timers: QuerySet[SlaTimer]) -> dict[str, int]:
    """How many timers of an annotated queryset are in each band (one query)."""
    totals = timers.order_by().aggregate(
        **{name: Count("pk", filter=Q(band=band)) for band, name in BAND_NAMES.items()}
    )
    return totals


# --- The at-risk queue, one page at a time ------------------------------------------------
#
# `with_risk` ranks every open timer to show 50. `risk_counts` + `risk_page` give the same
# page (same order, same rows) while reading only a few rows per (calendar, target) group:
# the queue's order is (band, breached_at, share_left, pk), and inside one band, one
# calendar and one target, a smaller `due_clock` is a smaller share left. So the first
# `stop` rows of the queue are among the first `stop` rows of a few "streams", each read in
# an index order that agrees with the queue's order (indexes `timer_open_breached` and
# `timer_open_clock`); the page is then ranked exactly, with `with_risk`'s ORDER BY, among
# those candidates only.

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
RANK_ALL_UP_TO = 5000  # timers; above this, risk_page reads candidates through indexes


def band_of(now: datetime) -> Case:
    """The band of an open timer at `now` as a SQL expression (`band_expression`, the SQL
    side of sla.rules.band)."""
    return band_expression(now)


def with_band(timers: SlaTimerQuerySet, now: datetime) -> SlaTimerQuerySet:
    """Open timers annotated with `band` (`SlaTimerQuerySet.with_band`), for filtering
    before `risk_counts`/`risk_page`."""
    return timers.with_band(now)


@dataclass(frozen=True)
class Group:
    """Open timers sharing a calendar, a target and a band, stamped as breached or not,
    paused or not: how many, and the calendar (to place `now` on its axis)."""

    calendar: BusinessCalendar
    target_seconds: int
    band: int
    stamped: bool
    paused: bool
    count: int


@dataclass(frozen=True)
class RiskCounts:
    groups: tuple[Group, ...]

    @property
    def bands(self) -> dict[str, int]:
        totals = dict.fromkeys(BAND_NAMES.values(), 0)
        for group in self.groups:
            totals[BAND_NAMES[group.band]] += group.count
        return totals

    @property
    def total(self) -> int:
        return sum(group.count for group in self.groups)

    def positions(self, now: datetime) -> dict[int, int]:
        calendars = {group.calendar.pk: group.calendar for group in self.groups}
        return {pk: engine.position(c.work_calendar(), now) for pk, c in calendars.items()}


CALENDAR_FIELDS = ["id", "revision", "timezone", "always_open"]  # what positions need


def risk_counts(timers: QuerySet[SlaTimer]) -> RiskCounts:
    """Count a `with_band` queryset per calendar, target, band, stamped breach or not and
    paused or not (grouped by plain columns and one small integer computed once per row, so
    PostgreSQL hashes the few groups, reading the covering index `timer_open_counts` only),
    each with its calendar: one query."""
    kind = (
        F("band") * 4
        + Case(When(breached_at__isnull=False, then=Value(2)), default=Value(0))
        + Case(When(running_since__isnull=True, then=Value(1)), default=Value(0))
    )
    # Grouped over a subquery read in the covering index's order (calendar, target): told
    # nothing of order, PostgreSQL walked `timer_open_due` and fetched every open timer's
    # row instead of reading the index alone (the plain GROUP BY's costs are close, the sort
    # that the ORDER BY would otherwise need tips them). A card-filtered
    # queryset (`InArray`) reads its cards' timers by card (`one_timer_per_cycle`) instead.
    # A DISTINCT queryset keeps its rows apart by key (the key is not in the index).
    key = ("pk",) if timers.query.distinct else ()
    inner, params = (
        timers.annotate(risk_kind=ExpressionWrapper(kind, output_field=IntegerField()))
        .values_list("calendar_id", "target_seconds", "risk_kind", *key)
        .order_by("calendar_id", "target_seconds")
        .query.sql_with_params()
    )
    # With each group, its calendar's row (what `work_calendar` needs): no second query.
    quote = connection.ops.quote_name
    # In the model's field order, as Model.from_db expects the values.
    calendar_fields = [
        f for f in BusinessCalendar._meta.concrete_fields if f.attname in CALENDAR_FIELDS
    ]
    names = [f.attname for f in calendar_fields]
    columns = ", ".join(f"calendar.{quote(field.column)}" for field in calendar_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns}, counts.target_seconds, counts.risk_kind, counts.n"
            " FROM (SELECT calendar_id, target_seconds, risk_kind, COUNT(*) AS n"
            f" FROM ({inner}) AS open_timers GROUP BY calendar_id, target_seconds, risk_kind)"
            f" AS counts JOIN {quote(BusinessCalendar._meta.db_table)} AS calendar"
            f" ON calendar.{quote(BusinessCalendar._meta.pk.column)} = counts.calendar_id",
            params,
        )
        rows = cursor.fetchall()
    calendars: dict[int, BusinessCalendar] = {}
    groups = []
    for *calendar_row, target, kind, n in rows:
        loaded = dict(zip(names, calendar_row, strict=True))
        pk = loaded["id"]
        if pk not in calendars:  # as `.only(*CALENDAR_FIELDS)` would load it
            loaded["always_open"] = bool(loaded["always_open"])  # SQLite: 0 or 1
            values = [loaded[name] for name in names]
            calendars[pk] = BusinessCalendar.from_db(connection.alias, names, values)
        groups.append(Group(calendars[pk], target, kind // 4, bool(kind & 2), bool(kind & 1), n))
    return RiskCounts(tuple(groups))


def _rank(timers: QuerySet[SlaTimer], positions: dict[int, int]) -> QuerySet[SlaTimer]:
    now_position = Case(
        *[When(calendar_id=pk, then=Value(pos)) for pk, pos in positions.items()],
        default=Value(0),
        output_field=BigIntegerField(),
    )
    share_left = Cast(F("due_clock") - now_position, FloatField()) / Cast(
        NullIf(F("target_seconds"), 0), FloatField()
    )
    return timers.annotate(share_left=share_left).order_by(*QUEUE_ORDER)


QUEUE_ORDER = (
    "band",
    F("breached_at").asc(nulls_last=True),
    F("share_left").asc(nulls_last=True),
    "pk",
)


# What a stream reads of each timer, by the names its SQL uses (the `band` annotation of
# `with_band` among them).
STREAM_COLUMNS = {"s_id": "pk", "s_band": "band", "s_calendar": "calendar_id",
                  "s_target": "target_seconds", "s_breached_at": "breached_at",
                  "s_running_since": "running_since", "s_due_clock": "due_clock"}  # fmt: skip


def _candidates(timers: QuerySet[SlaTimer], counts: RiskCounts, stop: int) -> tuple[str, tuple]:
    """Streams whose first `stop` rows hold the queue's first `stop` rows, as one SQL
    `UNION ALL` of their keys. Each is read in an order that agrees with the queue's within
    it, so this holds whatever the data.

    The queryset is compiled once; each stream selects from it as a subquery, which
    PostgreSQL and SQLite flatten into one scan of the stream's index. (Built through the
    ORM, the twenty-odd streams cost more Python time than their SQL took.)"""
    columns = {name: F(column) for name, column in STREAM_COLUMNS.items()}
    base, base_params = timers.order_by().values(**columns).query.sql_with_params()
    source = f"FROM ({base}) AS timer WHERE "
    streams: list[tuple[str, tuple]] = []

    def stream(where: str, params: tuple = (), *, order: str = "", limit: int | None = None):
        sql = f"SELECT s_id {source}{where}" + (f" ORDER BY {order}" if order else "")
        streams.append((sql + (f" LIMIT {int(limit)}" if limit else ""), (*base_params, *params)))

    # Stamped breaches: by breached_at (index timer_open_breached), ties at the cut kept.
    stamped = [g for g in counts.groups if g.stamped]
    stamped_bands = sorted({g.band for g in stamped})
    for band in stamped_bands:
        # Not by band when every stamped timer is in one (breached, as it should be).
        where, params = "s_breached_at IS NOT NULL", ()
        if len(stamped_bands) > 1:
            where, params = f"{where} AND s_band = %s", (band,)
        if sum(g.count for g in stamped if g.band == band) > stop:
            # The stop-th breach time: rows may leave between the two queries, and no cut
            # then means no limit.
            cut = f"SELECT s_breached_at {source}{where} ORDER BY s_breached_at"
            cut = f"{cut} LIMIT 1 OFFSET {int(stop) - 1}"
            far = connection.ops.adapt_datetimefield_value(FAR_FUTURE)
            where = f"{where} AND s_breached_at <= COALESCE(({cut}), %s)"
            params = (*params, *base_params, *params, far)
        stream(where, params)
    # Running, not stamped: per calendar, target and band, by due_clock (timer_open_clock;
    # never empty while running), as many rows as counted at most (the scan stops once it
    # has found them all).
    for group in counts.groups:
        if group.stamped or group.paused:
            continue
        stream(
            "s_breached_at IS NULL AND s_running_since IS NOT NULL"
            " AND s_calendar = %s AND s_target = %s AND s_band = %s",
            (group.calendar.pk, group.target_seconds, group.band),
            order="s_due_clock, s_id" if group.target_seconds else "s_id",
            limit=min(stop, group.count),
        )
    # Paused, not stamped: no deadline on the clock axis (constraint
    # open_timer_on_the_clock_axis_while_running), so no share of target left: by key within
    # a band (timer_open_paused).
    paused: dict[int, int] = {}
    for group in counts.groups:
        if group.paused and not group.stamped:
            paused[group.band] = paused.get(group.band, 0) + group.count
    for band, count in sorted(paused.items()):
        stream(
            "s_breached_at IS NULL AND s_running_since IS NULL AND s_band = %s",
            (band,),
            order="s_id",
            limit=min(stop, count),
        )
    sql = " UNION ALL ".join(
        f"SELECT * FROM ({part}) AS stream{i}" for i, (part, _) in enumerate(streams)
    )
    return sql, tuple(p for _, params in streams for p in params)


class InArray(Lookup):
    """`lhs = ANY(ARRAY(subquery))` on PostgreSQL: the subquery runs once, first (an
    InitPlan), and the rows are then fetched key by key through an index on `lhs`, whatever
    the planner would estimate of a join. `lhs IN (subquery)` elsewhere."""

    lookup_name = "in_array"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)
        return f"{lhs} IN {rhs}", (*lhs_params, *rhs_params)


def risk_page(
    timers: QuerySet[SlaTimer],
    counts: RiskCounts,
    now: datetime,
    start: int,
    stop: int,
    *,
    rank_all_up_to: int | None = RANK_ALL_UP_TO,
    related: tuple[str, ...] = (),
) -> QuerySet[SlaTimer]:
    """Rows `start:stop` of the queue of a `with_band` queryset, ranked as `with_risk` ranks
    them (band, breached_at, share of target left, pk), reading O(groups × stop) rows.
    `rank_all_up_to`: up to how many rows the queue is ranked whole instead (None: always,
    as a queryset filtered through `InArray` must be). `related`: select_related for the
    rows returned."""
    if stop <= start or not counts.groups:
        return timers.none()
    positions = counts.positions(now)
    if rank_all_up_to is None or counts.total <= rank_all_up_to:
        # A small (filtered) queue, or one whose filters pick the rows (`InArray`: a stream
        # would test each row it walks against the whole array): ranking all of it from the
        # filters' indexes is cheaper than walking the timer indexes past the rows the
        # filters reject.
        ranked = _rank(timers, positions)
    else:
        # One IN over a UNION ALL of the streams: PostgreSQL reads the candidates, then
        # their rows by key.
        ranked = _rank(timers.filter(pk__in=RawSQL(*_candidates(timers, counts, stop))), positions)
    # Rank on the timers alone, then join what the page shows (select_related) to its
    # rows only: joined first, PostgreSQL would join every open timer before ranking.
    page = ranked.values("pk")[start:stop]
    # `id = ANY(ARRAY(page))`: the page is read once, first, and its rows fetched by primary
    # key. With `id IN (page)` and the joins of `related`, PostgreSQL (past
    # join_collapse_limit) joined every timer before keeping the page's.
    rows = SlaTimer.objects.filter(InArray(F("pk"), Subquery(page)))
    rows = rows.annotate(band=band_expression(now))
    return _rank(rows.select_related(*related), positions)
