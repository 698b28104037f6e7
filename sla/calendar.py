"""Business-hours arithmetic on real (UTC) time: ``WorkCalendar``.

Pure Python, stdlib only (``zoneinfo``, ``datetime``, ``bisect``) so it can be unit-tested and
benchmarked without Django.

Model
-----
An instant is *open* iff its local wall-clock time (in the calendar's zone) lies in one of the
``[start, end)`` intervals configured for its local date's weekday, and that local date is not a
holiday. Everything else follows from that single definition:

* wall-clock times skipped by a DST spring-forward are never open;
* wall-clock times repeated by a DST fall-back are open twice (real elapsed time counts);
* a 24/7 calendar has 23 h / 25 h days around DST changes.

Implementation
--------------
Per calendar, a table of open UTC intervals (integer microseconds since the Unix epoch) is built
lazily, one ~year-long UTC chunk at a time, together with prefix sums of open time. ``between``
is then two bisects and a subtraction, ``add`` is one bisect on the prefix sums: the cost of a
call does not depend on the length of the duration. The table is replaced atomically (one
attribute assignment of an immutable snapshot) so an instance can be shared between threads.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["WorkCalendar"]

_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SECOND_US = 1_000_000
_DAY_US = 86_400 * _SECOND_US

# Tables grow in UTC chunks of 52 weeks: big enough that a typical SLA (hours to weeks) needs at
# most one or two chunks, small enough that building one costs only a couple of milliseconds.
_CHUNK_US = 364 * _DAY_US

# How far past the last open instant we keep searching before concluding the calendar will
# never open again (e.g. every open day for years is a holiday). Protects against hanging.
_SEARCH_HORIZON_DAYS = 3660
_SEARCH_HORIZON_US = _SEARCH_HORIZON_DAYS * _DAY_US

# UTC offsets are sampled this often (in seconds) to find offset transitions. The shortest
# "offset changes and changes back" episode in tzdata is ~4 days (Africa/Freetown 1939, Gaza's
# Ramadan DST), so 6 h sampling cannot miss one; transitions between samples are located to the
# second by bisection (tzdata transitions are whole seconds).
_OFFSET_SAMPLE_S = 6 * 3600

# Keep a safe distance from datetime.min/max so local dates of the zone never overflow.
_MIN_US = (datetime(2, 1, 1, tzinfo=UTC) - _EPOCH) // _US
_MAX_US = (datetime(9998, 1, 1, tzinfo=UTC) - _EPOCH) // _US

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Snapshot of the lazily built table: (lo, hi, starts, ends, cum), where [lo, hi) is the covered
# UTC range, starts/ends are the sorted, disjoint, non-touching open intervals inside it and
# cum[i] is the open time before interval i (len(cum) == len(starts) + 1). All in microseconds.
_Table = tuple[int, int, list[int], list[int], list[int]]


def _time_us(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * _SECOND_US + value.microsecond


def _us_time(us: int) -> time:
    # 24:00 is spelled time(0) on the way out, mirroring the constructor's convention.
    us %= _DAY_US
    seconds, micro = divmod(us, _SECOND_US)
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60, micro)


def _naive_error(name: str, value: object) -> ValueError:
    if isinstance(value, datetime):
        return ValueError(
            f"{name} must be a timezone-aware datetime, got a naive one ({value.isoformat()}); "
            "attach a tzinfo, e.g. value.replace(tzinfo=ZoneInfo(...))"
        )
    return ValueError(f"{name} must be a timezone-aware datetime, got {type(value).__name__}")


class WorkCalendar:
    """Weekly business hours in one IANA timezone, minus whole-day holidays.

    ``weekly`` maps weekday (0 = Monday ... 6 = Sunday) to ``[start, end)`` intervals of *local
    wall-clock* ``datetime.time`` values in ``tz``. Several intervals per day are allowed (split
    shifts, lunch breaks). ``end == time(0)`` means midnight at the end of that day (so
    ``(time(0), time(0))`` is the whole day). ``start > end`` is an overnight shift: e.g.
    20:00-04:00 on Friday is Friday 20:00-24:00 plus Saturday 00:00-04:00, and the tail belongs to
    Saturday (a holiday on Saturday closes it). Touching intervals are merged; overlapping ones
    are rejected. ``holidays`` are local dates closed for the whole day.

    All methods accept timezone-aware datetimes in any timezone (naive ones raise
    ``ValueError``) and return aware datetimes in UTC. Durations are ``timedelta`` of real elapsed
    open time, exact to the microsecond. Supported instants: UTC years 2 to 9997. Searches
    forward (``add``, ``next_open``) raise ``ValueError`` rather than hang if they meet a stretch
    of roughly 10 years with no open time (e.g. every open day a holiday).

    Instances are immutable after construction (apart from an internal, atomically replaced
    cache) and safe to share between threads, cache, pickle and compare.
    """

    __slots__ = ("_days", "_holiday_ordinals", "_holidays", "_lock", "_tab", "_tz", "_zone")

    _tz: str
    _zone: ZoneInfo
    _days: tuple[tuple[tuple[int, int], ...], ...]
    _holidays: frozenset[date]
    _holiday_ordinals: frozenset[int]
    _lock: threading.Lock
    _tab: _Table | None

    def __init__(
        self,
        tz: str,
        weekly: Mapping[int, Sequence[tuple[time, time]]],
        holidays: Iterable[date] = (),
    ) -> None:
        if not isinstance(tz, str):
            raise ValueError(f"tz must be an IANA timezone name (str), got {type(tz).__name__}")
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown timezone {tz!r}") from exc

        self._tz = tz
        self._zone = zone
        self._days = self._normalise_weekly(weekly)
        self._holidays = self._normalise_holidays(holidays)
        self._holiday_ordinals = frozenset(d.toordinal() for d in self._holidays)
        self._lock = threading.Lock()
        self._tab = None

    @classmethod
    def always(cls, tz: str) -> WorkCalendar:
        """A 24/7 calendar in ``tz`` (the zone only matters for holidays; there are none)."""
        return cls(tz, {weekday: [(time(0), time(0))] for weekday in range(7)})

    # ------------------------------------------------------------------ validation

    @staticmethod
    def _normalise_weekly(
        weekly: Mapping[int, Sequence[tuple[time, time]]],
    ) -> tuple[tuple[tuple[int, int], ...], ...]:
        if not isinstance(weekly, Mapping):
            raise ValueError(f"weekly must be a mapping weekday -> intervals, got {weekly!r}")
        days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for weekday, intervals in weekly.items():
            if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise ValueError(
                    f"weekday must be an int 0 (Monday) to 6 (Sunday), got {weekday!r}"
                )
            try:
                pairs = list(intervals)
            except TypeError:
                raise ValueError(
                    f"intervals for weekday {weekday} must be a sequence of (start, end) pairs"
                ) from None
            for pair in pairs:
                try:
                    start, end = pair
                except (TypeError, ValueError):
                    raise ValueError(
                        f"interval {pair!r} on weekday {weekday} must be a (start, end) pair"
                    ) from None
                for value in (start, end):
                    if not isinstance(value, time):
                        raise ValueError(
                            f"interval bounds must be datetime.time values, got {value!r} "
                            f"on weekday {weekday}"
                        )
                    if value.tzinfo is not None:
                        raise ValueError(
                            f"interval bounds are local wall-clock times and must be naive, "
                            f"got {value!r} on weekday {weekday}"
                        )
                s = _time_us(start)
                e = _time_us(end) or _DAY_US  # end == 00:00 means 24:00 of the same day
                if s == e:
                    raise ValueError(
                        f"empty interval {start.isoformat()}-{end.isoformat()} on weekday "
                        f"{weekday}: start must differ from end"
                    )
                if s < e:
                    days[weekday].append((s, e))
                else:
                    # Overnight shift: the part after midnight belongs to the next weekday, so
                    # that holidays and overlaps are judged on the local date it happens on.
                    days[weekday].append((s, _DAY_US))
                    days[(weekday + 1) % 7].append((0, e))

        normalised: list[tuple[tuple[int, int], ...]] = []
        for weekday, pieces in enumerate(days):
            pieces.sort()
            merged: list[tuple[int, int]] = []
            for s, e in pieces:
                if merged and s < merged[-1][1]:
                    ps, pe = merged[-1]
                    raise ValueError(
                        f"overlapping intervals on {_WEEKDAY_NAMES[weekday]}: "
                        f"{_us_time(ps).isoformat()}-{_us_time(pe).isoformat()} and "
                        f"{_us_time(s).isoformat()}-{_us_time(e).isoformat()} "
                        "(overnight shifts count on the next day after midnight)"
                    )
                if merged and s == merged[-1][1]:
                    merged[-1] = (merged[-1][0], e)  # touching: one interval, no seam
                else:
                    merged.append((s, e))
            normalised.append(tuple(merged))
        if not any(normalised):
            raise ValueError("calendar has no open time: weekly defines no intervals")
        return tuple(normalised)

    @staticmethod
    def _normalise_holidays(holidays: Iterable[date]) -> frozenset[date]:
        try:
            values = list(holidays)
        except TypeError:
            raise ValueError(f"holidays must be an iterable of dates, got {holidays!r}") from None
        for value in values:
            # datetime is a date subclass; reject it because which local day it means is unclear.
            if not isinstance(value, date) or isinstance(value, datetime):
                raise ValueError(f"holidays must be datetime.date values, got {value!r}")
        return frozenset(values)

    # ------------------------------------------------------------------ read-only views

    @property
    def tz(self) -> str:
        """IANA name of the calendar's timezone."""
        return self._tz

    @property
    def holidays(self) -> frozenset[date]:
        """Local dates that are closed all day."""
        return self._holidays

    @property
    def weekly(self) -> dict[int, tuple[tuple[time, time], ...]]:
        """Normalised weekly hours: overnight shifts split at midnight, touching intervals
        merged, ``time(0)`` as an end meaning 24:00. Weekdays without hours are omitted."""
        return {
            weekday: tuple((_us_time(s), _us_time(e)) for s, e in intervals)
            for weekday, intervals in enumerate(self._days)
            if intervals
        }

    def __repr__(self) -> str:
        return (
            f"WorkCalendar(tz={self._tz!r}, weekly={self.weekly!r}, "
            f"holidays={sorted(self._holidays)!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkCalendar):
            return NotImplemented
        return (self._tz, self._days, self._holidays) == (other._tz, other._days, other._holidays)

    def __hash__(self) -> int:
        return hash((self._tz, self._days, self._holidays))

    def __reduce__(self) -> tuple[type[WorkCalendar], tuple[str, dict, tuple[date, ...]]]:
        # Pickle the configuration only; the lock is not picklable and the table is a cache.
        return (WorkCalendar, (self._tz, dict(self.weekly), tuple(sorted(self._holidays))))

    # ------------------------------------------------------------------ public API

    def is_open(self, at: datetime) -> bool:
        """Whether the instant ``at`` (aware, any timezone) is open."""
        x, tab = self._at(at)
        starts = tab[2]
        i = bisect_right(starts, x) - 1
        return i >= 0 and x < tab[3][i]

    def next_open(self, at: datetime) -> datetime:
        """The first open instant ``>= at``, as an aware UTC datetime (``at`` itself, converted
        to UTC, if it is open). Raises ``ValueError`` if nothing opens within ~10 years."""
        x, tab = self._at(at)
        while True:
            _lo, _hi, starts, ends, _cum = tab
            i = bisect_right(starts, x) - 1
            if i >= 0 and x < ends[i]:
                return _EPOCH + timedelta(0, 0, x)
            if i + 1 < len(starts):
                return _EPOCH + timedelta(0, 0, starts[i + 1])
            tab = self._extend_forward(tab, x)

    def next_change(self, at: datetime) -> datetime | None:
        """When the calendar next opens or closes after ``at`` (aware, any timezone), as an
        aware UTC datetime: the closing time of the open stretch holding ``at`` if ``at`` is
        open (a lunch break, the evening, a holiday or a weekend starts then), else the next
        opening (``next_open``). ``None`` if ``at`` is open and the calendar stays open
        without a break for ~10 years (a 24/7 calendar without holidays). Raises
        ``ValueError`` like ``next_open`` if a closed calendar never opens again."""
        x, tab = self._at(at)
        while True:
            lo, hi, starts, ends, _cum = tab
            i = bisect_right(starts, x) - 1
            if not (i >= 0 and x < ends[i]):
                return self.next_open(at)
            if ends[i] < hi:
                return _EPOCH + timedelta(0, 0, ends[i])
            # The open stretch runs to the end of the table: it may go on past it.
            if ends[i] - x > _SEARCH_HORIZON_US or hi >= _MAX_US:
                return None
            tab = self._cover(x, min(hi + max(_CHUNK_US, hi - lo), _MAX_US) - 1)

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time elapsed from ``start`` to ``end`` (aware, any timezones), exact to the
        microsecond. Real elapsed time: a repeated DST hour counts twice, a skipped one not at
        all. Negative (``-between(end, start)``) if ``end < start``."""
        try:
            a = (start - _EPOCH) // _US
        except TypeError:
            raise _naive_error("start", start) from None
        try:
            b = (end - _EPOCH) // _US
        except TypeError:
            raise _naive_error("end", end) from None
        if b < a:
            a, b, sign = b, a, -1
        else:
            sign = 1
        tab = self._tab
        if tab is None or not (tab[0] <= a and b < tab[1]):
            tab = self._cover(a, b)
        _lo, _hi, starts, ends, cum = tab
        # Open time before x = cum[i] + the part of interval i (the last one starting <= x)
        # that lies before x.
        i = bisect_right(starts, a) - 1
        if i < 0:
            fa = 0
        else:
            e = ends[i]
            fa = cum[i] + (a if a < e else e) - starts[i]
        i = bisect_right(starts, b) - 1
        if i < 0:
            fb = 0
        else:
            e = ends[i]
            fb = cum[i] + (b if b < e else e) - starts[i]
        return timedelta(0, 0, sign * (fb - fa))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant ``t >= start`` with ``between(start, t) == duration``, as an
        aware UTC datetime.

        ``duration`` is open time (a non-negative ``timedelta``). A deadline that uses up the
        last open microsecond of a shift is that shift's closing time, not the next opening;
        ``add(start, timedelta(0))`` is ``start`` (in UTC) even when closed.
        """
        try:
            a = (start - _EPOCH) // _US
        except TypeError:
            raise _naive_error("start", start) from None
        try:
            d = duration // _US
        except TypeError:
            raise ValueError(
                f"duration must be a datetime.timedelta, got {type(duration).__name__}"
            ) from None
        if d <= 0:
            if d < 0:
                raise ValueError(f"duration must not be negative, got {duration!r}")
            if not _MIN_US <= a < _MAX_US:
                self._cover(a, a)  # raises the range error
            return _EPOCH + timedelta(0, 0, a)
        tab = self._tab
        if tab is None or not tab[0] <= a < tab[1]:
            tab = self._cover(a, a)
        while True:
            _lo, _hi, starts, ends, cum = tab
            i = bisect_right(starts, a) - 1
            if i < 0:
                target = d
            else:
                e = ends[i]
                target = cum[i] + (a if a < e else e) - starts[i] + d
            if target <= cum[-1]:
                break
            tab = self._extend_forward(tab, a)
        # cum is strictly increasing (intervals have positive length), so the first k with
        # cum[k] >= target identifies the interval k-1 in which the target is reached; hitting
        # cum[k] exactly yields that interval's end (closing time), as required.
        k = bisect_left(cum, target)
        return _EPOCH + timedelta(0, 0, starts[k - 1] + target - cum[k - 1])

    # ------------------------------------------------------------------ table maintenance

    def _at(self, at: datetime) -> tuple[int, _Table]:
        """``at`` (aware) as UTC microseconds, with a table covering it."""
        try:
            x = (at - _EPOCH) // _US
        except TypeError:
            raise _naive_error("at", at) from None
        tab = self._tab
        if tab is None or not tab[0] <= x < tab[1]:
            tab = self._cover(x, x)
        return x, tab

    def _cover(self, a: int, b: int) -> _Table:
        """Return a table covering ``[a, b]`` (UTC microseconds), growing it if needed."""
        if a < _MIN_US or b >= _MAX_US:
            raise ValueError(
                "datetime outside the supported range (UTC years 2 to 9997) "
                "of WorkCalendar arithmetic"
            )
        with self._lock:
            tab = self._tab
            if tab is not None and tab[0] <= a and b < tab[1]:
                return tab  # another thread grew it meanwhile
            want_lo = max(a // _CHUNK_US * _CHUNK_US, _MIN_US)
            want_hi = min((b // _CHUNK_US + 1) * _CHUNK_US, _MAX_US)
            if tab is None:
                pieces = self._build(want_lo, want_hi)
                lo, hi = want_lo, want_hi
            else:
                lo, hi = min(tab[0], want_lo), max(tab[1], want_hi)
                old = list(zip(tab[2], tab[3], strict=True))
                before = self._build(lo, tab[0]) if lo < tab[0] else []
                after = self._build(tab[1], hi) if hi > tab[1] else []
                pieces = _merge_touching(before + old + after)
            starts = [s for s, _ in pieces]
            ends = [e for _, e in pieces]
            cum = [0]
            total = 0
            for s, e in pieces:
                total += e - s
                cum.append(total)
            tab = (lo, hi, starts, ends, cum)
            self._tab = tab  # atomic publish of an immutable snapshot
            return tab

    def _extend_forward(self, tab: _Table, x: int) -> _Table:
        """Grow ``tab`` past its end because a search from ``x`` ran out of open time."""
        lo, hi, _starts, ends, _cum = tab
        last_open = max(x, ends[-1]) if ends else x
        if hi - last_open > _SEARCH_HORIZON_US:
            raise ValueError(
                f"no open time within {_SEARCH_HORIZON_DAYS} days after "
                f"{(_EPOCH + timedelta(0, 0, last_open)).isoformat()}: every open day is a "
                "holiday (or the search left the supported range)"
            )
        if hi >= _MAX_US:
            raise ValueError("result outside the supported range (UTC years 2 to 9997)")
        # Grow geometrically (by at least the current size), so a long add on a sparse calendar
        # costs O(log) rebuilds rather than one per chunk; but never far past the horizon, so a
        # closed stretch longer than the horizon (plus at most one chunk) is reported, not skipped.
        span = max(_CHUNK_US, hi - lo)
        new_hi = min(hi + span, last_open + _SEARCH_HORIZON_US + _CHUNK_US, _MAX_US)
        return self._cover(x, new_hi - 1)

    def _build(self, u0: int, u1: int) -> list[tuple[int, int]]:
        """Open UTC intervals inside ``[u0, u1)`` (microseconds), sorted and merged.

        Within a stretch of constant UTC offset, local time = UTC + offset is linear, so the open
        set is the local open set (per local date: weekday hours unless a holiday) intersected
        with that stretch and shifted back by the offset. Doing this per stretch is what makes
        skipped wall-clock times vanish and repeated ones count twice.
        """
        days = self._days
        holidays = self._holiday_ordinals
        out: list[tuple[int, int]] = []
        for p0, p1, off in self._offset_pieces(u0, u1):
            l0, l1 = p0 + off, p1 + off
            for day in range(l0 // _DAY_US, (l1 - 1) // _DAY_US + 1):
                ordinal = day + _EPOCH_ORDINAL
                if ordinal in holidays:
                    continue
                intervals = days[(ordinal - 1) % 7]  # ordinal 1 (0001-01-01) was a Monday
                base = day * _DAY_US
                for s, e in intervals:
                    s += base
                    e += base
                    if s < l0:
                        s = l0
                    if e > l1:
                        e = l1
                    if s < e:
                        out.append((s - off, e - off))
        return _merge_touching(out)

    def _offset_pieces(self, u0: int, u1: int) -> list[tuple[int, int, int]]:
        """Split ``[u0, u1)`` (UTC microseconds, whole seconds) into ``(start, end, offset)``
        stretches of constant UTC offset (offset in microseconds)."""
        zone = self._zone

        def offset(sec: int) -> int:
            utcoffset = datetime.fromtimestamp(sec, zone).utcoffset()
            assert utcoffset is not None  # an aware datetime of a ZoneInfo zone has one
            return utcoffset // _US

        changes: list[tuple[int, int]] = []

        def find(a: int, oa: int, b: int, ob: int) -> None:
            # Offsets at a and b differ: locate every change in (a, b] to the second.
            if oa == ob:
                return
            if b - a == 1:
                changes.append((b, ob))
                return
            m = (a + b) // 2
            om = offset(m)
            find(a, oa, m, om)
            find(m, om, b, ob)

        s0 = u0 // _SECOND_US
        s1 = -(-u1 // _SECOND_US) - 1  # last whole second inside the range
        first = offset(s0)
        prev_s, prev_o = s0, first
        sample = s0
        while sample < s1:
            sample = min(sample + _OFFSET_SAMPLE_S, s1)
            o = offset(sample)
            find(prev_s, prev_o, sample, o)
            prev_s, prev_o = sample, o

        pieces: list[tuple[int, int, int]] = []
        start, current = u0, first
        for sec, new in changes:
            at = sec * _SECOND_US
            pieces.append((start, at, current))
            start, current = at, new
        pieces.append((start, u1, current))
        return pieces


def _merge_touching(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    # Touching intervals (midnight seams, chunk seams, adjacent shifts) become one, so that a
    # 24/7 calendar is a single interval and bisects stay short.
    merged: list[tuple[int, int]] = []
    for s, e in intervals:
        if merged and merged[-1][1] == s:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged
