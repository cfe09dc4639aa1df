"""Tests for event-time window aggregation (spec 5.7): assignment, closing order, lateness, state."""
from __future__ import annotations

import numpy as np
import orjson
import pytest

from spl_lite.engine.windows import WindowedAggregation

MIN5 = 300_000


def make(size=MIN5, slide=None, grace=0, groups=1, aggs=(("count", "count"),)):
    return WindowedAggregation(size, slide, grace, groups, list(aggs))


def test_tumbling_alignment_matches_observed_window_fields():
    w = make(aggs=[("count", "n")])
    assert w.process([1600967123456, 1600967399999], [["h", "h"]], [[1, 1]]) == []
    assert w.flush() == [("h", 2, 1600967100000, 1600967400000, 1600967399999)]


def test_windows_close_when_max_event_time_passes_their_end():
    w = make(size=10, aggs=[("count", "n")])
    assert w.process([1, 5, 9], [["a", "b", "a"]], [[0, 0, 0]]) == []
    # ts 10 belongs to [10, 20) and closes [0, 10) (end + grace <= 10)
    assert w.process([10], [["b"]], [[0]]) == [("a", 2, 0, 10, 9), ("b", 1, 0, 10, 9)]
    assert w.process([19], [["c"]], [[0]]) == []
    assert w.process([35], [["a"]], [[0]]) == [("b", 1, 10, 20, 19), ("c", 1, 10, 20, 19)]
    assert w.flush() == [("a", 1, 30, 40, 39)]
    assert w.flush() == []


def test_closing_order_is_window_end_then_first_seen_group():
    w = make(size=10, grace=100, aggs=[("count", "n")])
    # out of order within the grace period: window [20,30) is created before [0,10)
    w.process([25, 3, 12, 4, 27, 1], [["x", "y", "z", "x", "y", "y"]], [[0] * 6])
    assert w.process([1000], [["q"]], [[0]]) == [
        ("y", 2, 0, 10, 9), ("x", 1, 0, 10, 9),
        ("z", 1, 10, 20, 19),
        ("x", 1, 20, 30, 29), ("y", 1, 20, 30, 29),
    ]


def test_sliding_windows_assign_every_containing_window():
    w = make(size=600, slide=300, aggs=[("count", "n"), ("sum", "s")])
    # 1000 is in [600,1200) and [900,1500); 1250 and 1499 in [900,1500) and [1200,1800)
    assert w.process([1000, 1250, 1499], [["h"] * 3], [[1, 1, 1], [1, 2, 4]]) == [
        ("h", 1, 1, 600, 1200, 1199),
    ]
    assert w.flush() == [
        ("h", 3, 7, 900, 1500, 1499),
        ("h", 2, 6, 1200, 1800, 1799),
    ]


def test_sliding_window_emission_as_time_passes():
    w = make(size=600, slide=300, aggs=[("count", "n")])
    # 0 is in [-300,300) and [0,600); 599 in [0,600) and [300,900) and closes [-300,300)
    assert w.process([0, 599], [["a", "a"]], [[0, 0]]) == [("a", 1, -300, 300, 299)]
    # ts 600 passes end 600; it joins [300,900) and [600,1200)
    assert w.process([600], [["a"]], [[0]]) == [("a", 2, 0, 600, 599)]
    assert w.flush() == [("a", 2, 300, 900, 899), ("a", 1, 600, 1200, 1199)]


def test_grace_keeps_window_open_then_late_records_are_dropped_and_counted():
    w = make(size=10, grace=5, aggs=[("count", "n")])
    assert w.process([8, 13], [["a", "a"]], [[0, 0]]) == []
    # ts 2 is late but within grace: [0,10) is still open (10 + 5 > 13)
    assert w.process([2, 15], [["a", "a"]], [[0, 0]]) == [("a", 2, 0, 10, 9)]
    assert w.process([9, 3], [["a", "a"]], [[0, 0]]) == []
    assert w.late_records == 2
    assert w.flush() == [("a", 2, 10, 20, 19)]


def test_partly_late_sliding_record_joins_only_open_windows():
    w = make(size=20, slide=10, aggs=[("count", "n")])
    w.process([5, 25], [["a", "a"]], [[0, 0]])
    # ts 15 belongs to [0,20) (already emitted at ts 25) and [10,30) (open)
    w.process([15], [["a"]], [[0]])
    assert w.late_records == 0
    assert w.flush() == [("a", 2, 10, 30, 29), ("a", 1, 20, 40, 39)]


def test_null_and_non_numeric_timestamps_are_dropped():
    w = make(size=10, aggs=[("count", "n")])
    w.process([None, "5", True, float("nan"), 3, 4.7], [["a"] * 6], [[0] * 6])
    assert w.null_time_records == 4
    # a double timestamp is floored to whole milliseconds
    assert w.flush() == [("a", 2, 0, 10, 9)]


def test_null_group_values_form_their_own_group_and_keys_keep_types():
    w = make(size=10, groups=2, aggs=[("count", "n")])
    w.process([1, 2, 3, 4, 5, 6],
              [[None, None, "a", 1, 1.0, [1, 2]], ["x", "x", None, "y", "y", {"k": 2}]],
              [[0] * 6])
    # 1 and 1.0 are one group, as `=` says they are equal; the first value seen is kept.
    assert w.flush() == [
        (None, "x", 2, 0, 10, 9), ("a", None, 1, 0, 10, 9), (1, "y", 2, 0, 10, 9),
        ([1, 2], {"k": 2}, 1, 0, 10, 9),
    ]
    assert w.process([], [[], []], [[]]) == []  # an empty batch


def test_aggregations():
    aggs = [("count", "c"), ("sum", "s"), ("min", "lo"), ("max", "hi"), ("avg", "mean"),
            ("dc", "e"), ("dc", "d"), ("dc", "dd"), ("values", "v"),
            ("first", "f"), ("last", "l")]
    w = make(size=10, groups=1, aggs=aggs)
    col = [3, None, "b", 1.5, 3, True, "a", None]
    w.process(list(range(8)), [["g"] * 8], [col] * len(aggs))
    row = w.flush()[0]
    assert row == ("g", 6, 7.5, 1.5, 3, 2.5, 5, 5, 5, [3, "b", 1.5, True, "a"], 3, "a", 0, 10, 9)
    assert type(row[4]) is int and type(row[2]) is float


def test_all_null_and_int_only_groups():
    aggs = [("count", "c"), ("sum", "s"), ("min", "lo"), ("max", "hi"), ("avg", "m"), ("dc", "d"),
            ("values", "v"), ("first", "f"), ("last", "l")]
    w = make(size=10, groups=1, aggs=aggs)
    w.process([0, 1, 2, 3], [["n", "n", "i", "i"]],
              [[None, None, 4, 2]] * len(aggs))
    assert w.flush() == [
        ("n", 0, None, None, None, None, 0, [], None, None, 0, 10, 9),
        ("i", 2, 6, 2, 4, 3.0, 2, [4, 2], 4, 2, 0, 10, 9),
    ]


def test_min_max_prefer_numbers_then_strings():
    w = make(size=10, groups=0, aggs=[("min", "lo"), ("max", "hi")])
    w.process([0, 1, 2, 3], [], [["b", "a", float("nan"), "c"]] * 2)
    assert w.process([12, 13, 14], [], [["z", 7, "a"]] * 2) == [("a", "c", 0, 10, 9)]
    assert w.flush() == [(7, 7, 10, 20, 19)]


def test_numpy_columns():
    w = make(size=10, aggs=[("sum", "s")])
    rows = w.process(np.array([1, 2, 11], dtype=np.int64),
                     [np.array(["a", "a", "a"], dtype=object)], [np.array([1, 2, 3], dtype=np.int64)])
    rows += w.flush()
    assert rows == [("a", 3, 0, 10, 9), ("a", 3, 10, 20, 19)]
    assert all(type(v) is int for r in rows for v in r[1:])


def test_bad_configuration():
    with pytest.raises(ValueError, match="slide"):
        make(size=10, slide=20)
    with pytest.raises(ValueError, match="grace"):
        make(size=10, grace=-1)
    with pytest.raises(ValueError, match="median"):
        make(aggs=[("median", "m")])
    with pytest.raises(ValueError, match="columns"):
        make(groups=2).process([1], [["a"]], [[1]])


def _stream(n=400, seed=5):
    rng = np.random.default_rng(seed)
    ts = np.cumsum(rng.integers(0, 40, size=n)).tolist()
    for i in rng.choice(n, size=40, replace=False):
        ts[i] -= int(rng.integers(0, 400))  # some out of order, some beyond grace
    ts[7] = None
    groups = [rng.choice(["a", "b", "c"], size=n).tolist(), rng.integers(0, 2, size=n).tolist()]
    vals = rng.normal(size=n).tolist()
    vals[3] = float("inf")
    vals[9] = None
    strs = rng.choice(["x", "y", "z"], size=n).tolist()
    strs[4] = [1, {"k": None}]
    return ts, groups, [rng.integers(0, 9, size=n).tolist(), vals, vals, vals, strs, strs, strs, strs]


AGGS = [("count", "c"), ("sum", "s"), ("avg", "m"), ("max", "hi"), ("dc", "d"),
        ("values", "v"), ("first", "f"), ("last", "l")]


@pytest.mark.parametrize("size,slide,grace", [(100, None, 0), (300, 100, 50)])
def test_round_trip_at_any_split(size, slide, grace):
    ts, groups, vals = _stream()
    whole = WindowedAggregation(size, slide, grace, 2, AGGS)
    expected = whole.process(ts, groups, vals) + whole.flush()
    assert whole.late_records > 0
    for split in (1, 8, 150, 399):
        w = WindowedAggregation(size, slide, grace, 2, AGGS)
        got = w.process(ts[:split], [g[:split] for g in groups], [v[:split] for v in vals])
        state = orjson.loads(orjson.dumps(w.state_dict()))
        w = WindowedAggregation.from_state_dict(state)
        assert w.state_dict() == state
        got += w.process(ts[split:], [g[split:] for g in groups], [v[split:] for v in vals])
        got += w.flush()
        assert orjson.dumps(got) == orjson.dumps(expected)
        assert (w.late_records, w.null_time_records) == (whole.late_records, 1)


def test_one_aggregation_registry_names_what_the_engine_implements():
    """Every name a search may use maps to a canonical name with exactly one implementation, and
    the planner says the same thing about a name inside and outside `stats`."""
    from spl_lite import Search, SplError
    from spl_lite.engine.windows import AGGREGATIONS as IMPLEMENTED
    from spl_lite.functions.aggregations import AGGREGATIONS

    assert set(AGGREGATIONS.values()) == set(IMPLEMENTED)
    for name in AGGREGATIONS:
        Search.compile(f"| from source | stats {name}(x) AS y BY span(timestamp, 5m)")
        with pytest.raises(SplError, match="can only be used in `stats`"):
            Search.compile(f"| from source | eval y = {name}(x)")
