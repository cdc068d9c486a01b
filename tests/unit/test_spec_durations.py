from datetime import UTC, datetime, time, timedelta

import pytest
from pydantic import BaseModel, ValidationError

from jobs.spec.durations import (
    AwareDatetime,
    Duration,
    LocalTime,
    Weekday,
    format_duration,
    format_timestamp,
    parse_duration,
    parse_local_time,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(minutes=90)),
        (" 2H ", timedelta(hours=2)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "h", "1 hour", "1.5h", "-1h", "0s", "1y", 5])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=30), "30s"),
        (timedelta(minutes=90), "90m"),
        (timedelta(hours=48), "2d"),
        (timedelta(days=14), "2w"),
        (timedelta(seconds=3661), "1h1m1s"),
        (timedelta(minutes=150), "2h30m"),
    ],
)
def test_format_duration_round_trips(value, text):
    assert format_duration(value) == text
    assert parse_duration(text) == value


class _M(BaseModel):
    d: Duration
    t: LocalTime
    ts: AwareDatetime


def test_annotated_types_serialize_to_short_forms():
    m = _M(d="2h", t="8:05", ts="2026-11-22T11:00:00+01:00")
    assert m.d == timedelta(hours=2)
    assert m.t == time(8, 5)
    assert m.ts == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert m.model_dump(mode="json") == {"d": "2h", "t": "08:05", "ts": "2026-11-22T10:00:00Z"}
    assert _M.model_validate_json(m.model_dump_json()) == m


def test_naive_timestamp_is_rejected_with_a_clear_message():
    with pytest.raises(ValidationError, match="has no timezone"):
        _M(d="1h", t="08:00", ts="2026-11-22T10:00:00")
    with pytest.raises(ValidationError, match="has no timezone"):
        _M(d="1h", t="08:00", ts=datetime(2026, 11, 22, 10))


@pytest.mark.parametrize("text", ["24:00", "10:60", "1000", "10h", "", "10:5"])
def test_local_time_rejects(text):
    with pytest.raises(ValueError):
        parse_local_time(text)


def test_weekday_index_matches_datetime():
    assert Weekday.MON.index == 0
    assert Weekday.SUN.index == 6
    assert Weekday("fri").index == datetime(2026, 11, 20).weekday()


def test_format_timestamp_is_utc_z():
    assert format_timestamp(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"
