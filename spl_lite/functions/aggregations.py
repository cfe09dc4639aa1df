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
