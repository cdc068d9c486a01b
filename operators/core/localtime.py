"""Local-time arithmetic: timezones, the next matching local time, quiet-hours windows.

All inputs and outputs are tz-aware datetimes; results are in UTC. Rules for the awkward days:

* A local time that does not exist (the spring-forward gap, e.g. 02:30 in Paris on the last
  Sunday of March) is shifted forward by the gap: 02:30 becomes 03:30 local time.
* A local time that happens twice (the fall-back fold) means its first occurrence; a daily time
  fires once per local date.
* "Next" is strictly after the given instant: arriving at exactly 10:00:00 waits for tomorrow's
  10:00, it never fires at once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from operators.core.errors import BadTimezone

WEEKDAYS: dict[str, int] = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
ALL_DAYS: frozenset[int] = frozenset(range(7))


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The `ZoneInfo` for an IANA name; raises `BadTimezone` for unknown names."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise BadTimezone(name) from exc


def try_zone(name: object) -> ZoneInfo | None:
    """The zone for `name`, or None when it is missing or not a known timezone (user input)."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return zone(name)
    except BadTimezone:
        return None


def parse_weekdays(days: object) -> frozenset[int]:
    """Weekday numbers (Monday = 0) from names like `mon` or numbers; empty or None means every day."""
    if not days:
        return ALL_DAYS
    out: set[int] = set()
    for d in days:  # type: ignore[attr-defined]
        if isinstance(d, int):
            out.add(d % 7)
        else:
            out.add(WEEKDAYS[str(d).strip().lower()[:3]])
    return frozenset(out)


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall time `at` on `day` in `tz` (gap: shifted forward; fold: first)."""
    # fold=0 makes zoneinfo use the offset in force before a transition: for a gap this lands
    # past the gap by its length (the forward shift), for a fold on the first occurrence.
    return datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz).astimezone(UTC)


def next_local_time(after: datetime, at: time, tz: ZoneInfo, weekdays: frozenset[int] = ALL_DAYS) -> datetime:
    """The first instant strictly after `after` whose local time in `tz` is `at` on one of `weekdays`."""
    if after.tzinfo is None:
        raise ValueError("next_local_time needs a tz-aware datetime")
    if not weekdays:
        weekdays = ALL_DAYS
    day = after.astimezone(tz).date()
    # Eight local days always contain every weekday once past today; gaps make no day vanish.
    for offset in range(9):
        d = day + timedelta(days=offset)
        if d.weekday() not in weekdays:
            continue
        candidate = local_instant(d, at, tz)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: a weekday always recurs within nine days")


def quiet_until(ts: datetime, start: time, end: time, tz: ZoneInfo) -> datetime | None:
    """If `ts` falls in the daily quiet window [start, end) local time, the UTC instant it ends.

    A window whose start is after its end crosses midnight (21:00 to 08:00). Equal start and end
    means no quiet hours. Returns None outside the window.
    """
    if start == end:
        return None
    wall = ts.astimezone(tz).time().replace(tzinfo=None, fold=0)
    s = start.replace(tzinfo=None)
    e = end.replace(tzinfo=None)
    inside = (s <= wall < e) if s < e else (wall >= s or wall < e)
    if not inside:
        return None
    return next_local_time(ts, e, tz)


def parse_hhmm(value: str | time) -> time:
    """`"21:00"` or `"21:00:30"` to a `time`; a `time` passes through."""
    if isinstance(value, time):
        return value
    return time.fromisoformat(value.strip())
