"""Durations (`30s 15m 2h 3d 1w`), local times of day (`"HH:MM"`), weekdays, aware datetimes.

Each is an annotated type usable as a pydantic field: it parses the short text form, keeps a
standard Python value (`timedelta`, `time`, `datetime`) for the interpreter, and serializes back
to the short form so a journey round-trips through JSON unchanged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS: dict[str, int] = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([wdhms])")
_DURATION = re.compile(r"^(?:\d+[wdhms])+$")
DURATION_PATTERN = r"^(\d+[wdhms])+$"


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `15m`, `2h`, `3d`, `1w` (or a compound such as `1h30m`) into a positive timedelta.

    Raises ValueError with a message a journey author can act on.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a duration such as 30s, 15m, 2h, 3d or 1w, got {text!r}")
    cleaned = text.strip().lower()
    if not _DURATION.match(cleaned):
        raise ValueError(f"{text!r} is not a duration (use a number and a unit: 30s, 15m, 2h, 3d, 1w)")
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The short form of a duration: the largest unit that divides it (`90m`, `2d`), or a compound
    (`2h30m`) when that count would reach 100."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        raise ValueError(f"duration {value} must be longer than zero")
    for unit, size in _UNITS.items():
        # One unit reads best (`90m`) unless the count gets long (`3661s` reads better as `1h1m1s`).
        if seconds % size == 0 and (seconds // size < 100 or unit == "w"):
            return f"{seconds // size}{unit}"
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _to_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        if value.total_seconds() <= 0:
            raise ValueError(f"duration {value} must be longer than zero")
        return value
    return parse_duration(value)


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["30s", "15m", "2h", "3d", "1w"]}),
]
"""A positive duration written `30s 15m 2h 3d 1w` (compounds like `1h30m` accepted)."""

_LOCAL_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_local_time(text: str) -> time:
    """Parse a local time of day `"HH:MM"` (24-hour clock)."""
    if isinstance(text, time):
        return text.replace(second=0, microsecond=0, tzinfo=None)
    if not isinstance(text, str) or not (m := _LOCAL_TIME.match(text.strip())):
        raise ValueError(f'{text!r} is not a time of day (use "HH:MM", 24-hour, e.g. "08:30")')
    return time(int(m.group(1)), int(m.group(2)))


LocalTime = Annotated[
    time,
    BeforeValidator(parse_local_time),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^([01]?\d|2[0-3]):[0-5]\d$", "examples": ["08:00"]}),
]
"""A local time of day, written `"HH:MM"`."""


class Weekday(StrEnum):
    """A day of the week as written in journeys; `.index` matches `datetime.weekday()`."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def index(self) -> int:
        """0 for Monday … 6 for Sunday, as `datetime.weekday()`."""
        return _WEEKDAY_INDEX[self]


_WEEKDAY_INDEX = {day: i for i, day in enumerate(Weekday)}
ALL_WEEKDAYS: tuple[Weekday, ...] = tuple(Weekday)


def check_timezone(name: str) -> str:
    """Return `name` if it is an IANA timezone zoneinfo knows, else raise ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{name!r} is not a timezone (use an IANA name such as Europe/Paris)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (use an IANA name such as Europe/Paris)") from None
    return name


def _check_tz_or_user(name: str) -> str:
    return name if name == "user" else check_timezone(name)


TimeZoneName = Annotated[str, BeforeValidator(check_timezone)]
"""An IANA timezone name, checked against zoneinfo."""

TimeZoneOrUser = Annotated[str, BeforeValidator(_check_tz_or_user)]
"""`user` (the user's own timezone, else the journey's) or an IANA timezone name."""


def _to_aware(value: Any) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 timestamp (e.g. 2026-11-22T10:00:00Z)") from None
    if not isinstance(value, datetime):
        raise ValueError(f"expected an ISO 8601 timestamp with a timezone, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"timestamp {value.isoformat()} has no timezone; write it with one (e.g. 2026-11-22T10:00:00Z)"
        )
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z` suffix, the form every record uses on the wire."""
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


AwareDatetime = Annotated[
    datetime,
    BeforeValidator(_to_aware),
    PlainSerializer(format_timestamp, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A timezone-aware timestamp, normalized to UTC; naive timestamps are rejected."""
