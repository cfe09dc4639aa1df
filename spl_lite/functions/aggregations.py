"""The aggregations `stats` computes, by every name a search may use for them.

The one list of names: the planner checks calls against it (inside `stats` and, to say where they
belong, outside it), and the engine keeps one implementation per canonical name
(spl_lite/engine/windows.py).
"""
from __future__ import annotations

# name -> canonical name
AGGREGATIONS: dict[str, str] = {
    "count": "count",
    "sum": "sum",
    "avg": "avg",
    "mean": "avg",  # SPL's synonym of avg
    "min": "min",
    "max": "max",
    "dc": "dc",
    "distinct_count": "dc",
    "estdc": "dc",  # exact: the documented estimate error allows the exact answer
    "values": "values",
    "first": "first",
    "last": "last",
}

# canonical name -> what it computes (`spl-lite functions`, docs/functions.md)
DESCRIPTIONS: dict[str, str] = {
    "count": "records whose argument is not null; count() counts every record",
    "sum": "sum of the numbers (an integer when all are); nulls and non-numbers skipped; null when none",
    "avg": "mean of the numbers, a double; null when there are none",
    "min": "smallest value, numbers before strings, the value's own type; null when all are null",
    "max": "largest value, numbers before strings, the value's own type; null when all are null",
    "dc": "number of distinct non-null values (exact, which estdc's documented estimate allows)",
    "values": "list of the distinct non-null values, in first-seen order",
    "first": "first non-null value in arrival order",
    "last": "last non-null value in arrival order",
}
