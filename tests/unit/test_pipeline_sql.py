"""The JVM-side filter's SQL (the query itself runs in tests/flink)."""

from __future__ import annotations

import pytest

from jobs.pipeline import relevant_filter_sql

pytestmark = pytest.mark.unit


def test_keeps_relevant_types_traits_and_unreadable_input() -> None:
    sql = relevant_filter_sql("raw", {"cart.updated", "order.completed"})
    assert "IN ('cart.updated', 'order.completed')" in sql
    assert "JSON_VALUE(f0, '$.type') IS NULL" in sql
    assert "JSON_QUERY(f0, '$.traits')" in sql


def test_quotes_are_escaped() -> None:
    assert "'it''s'" in relevant_filter_sql("raw", {"it's"})
