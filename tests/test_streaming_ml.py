"""Tests for the Streaming-ML operator state (spec 8): real numbers, edge rules, state round trips."""
from __future__ import annotations

import math
from itertools import accumulate
from fractions import Fraction
from bisect import bisect_left, insort

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, SHARED
from spl_lite.engine.streaming_ml import (
    AdaptiveThreshold,
    ConditionalAnomaly,
    FirstTimeEvent,
    _SortedValues,
    decode_key,
    encode_key,
)
from spl_lite.core.values import hashable

SSA_CORPUS = SHARED / "corpus" / "ssa"
needs_ssa_corpus = pytest.mark.skipif(not SSA_CORPUS.is_dir(), reason=f"the corpus of SSA detections is not at {SSA_CORPUS}")

approx = lambda v: pytest.approx(v, abs=1e-6)  # noqa: E731


def restored(op):
    """op's state after a trip through JSON bytes, as a fresh object."""
    return type(op).from_state_dict(orjson.loads(orjson.dumps(op.state_dict())))


# --- spec 8.2 test vector, through conditional_anomaly -> where cmd.exe -> adaptive_threshold ---

PAIRS = [("services.exe", "cmd.exe") if i % 2 == 0 else ("explorer.exe", "notepad.exe")
         for i in range(20)] + [("explorer.exe", "cmd.exe")]

# event number: (output, input, mean, variance, label), from the table in spec 8.2
TABLE = {
    1: (1.0, 0.0, None, None, False),
    3: (1.5, -0.176091, 0.0, 0.0, True),
    5: (1.666667, -0.221849, -0.088046, 0.00775203, False),
    19: (1.9, -0.278754, -0.219727, 0.00692551, False),
    21: (0.173554, 0.760566, -0.225630, 0.00654653, True),
}


def run_pipeline(split: int | None = None):
    """Rows (event no., output, input, mean, variance, label) for the cmd.exe events.

    With split, both operators are serialised and restored after that many input events.
    """
    parents = [p for p, _ in PAIRS]
    children = [c for _, c in PAIRS]
    ca = ConditionalAnomaly()
    at = AdaptiveThreshold("gaussian", window_ms=604800000, threshold=0.001)
    cuts = [0, len(PAIRS)] if split is None else [0, split, len(PAIRS)]
    rows = []
    for lo, hi in zip(cuts, cuts[1:]):
        if lo:
            ca, at = restored(ca), restored(at)
            assert restored(ca).state_dict() == ca.state_dict()
        outputs = ca.score(parents[lo:hi], children[lo:hi])
        kept = [(i + 1, out) for i, (out, child) in enumerate(zip(outputs, children[lo:hi]), lo)
                if child == "cmd.exe"]
        inputs = [-math.log10(out) for _, out in kept]
        scored = at.score(None, inputs, [(n - 1) * 1000 for n, _ in kept])
        rows += zip([n for n, _ in kept], [o for _, o in kept], inputs,
                    scored["mean"], scored["variance"], scored["label"])
    return rows


def test_spec_test_vector_rows():
    rows = {row[0]: row[1:] for row in run_pipeline()}
    assert sorted(rows) == list(range(1, 20, 2)) + [21]
    for number, expected in TABLE.items():
        got = rows[number]
        for g, e in zip(got, expected):
            assert g == (e if e is None or type(e) is bool else approx(e)), (number, got)


def test_spec_test_vector_detection_and_z():
    rows = run_pipeline()
    detected = [r[0] for r in rows if r[5] and r[2] > r[3]]
    assert detected == [21]
    _, _, x, mean, variance, _ = rows[-1]
    assert (x - mean) / math.sqrt(variance) == pytest.approx(12.19, abs=0.005)
    # Event 3 is flagged because its history (event 1 alone) has zero variance: z = -inf.
    assert rows[1][5] is True and rows[1][2] < rows[1][3]


@pytest.mark.parametrize("split", range(1, 21))
def test_spec_test_vector_survives_serialisation(split):
    assert run_pipeline(split) == run_pipeline()


# --- conditional_anomaly ---

def test_lift_counts_include_the_current_record():
    ca = ConditionalAnomaly()
    # A brand-new parent's first child is powershell.exe, the 3rd of 23 events: lift = N/n_t = 23/3
    parents = ["p%d" % (i % 4) for i in range(22)] + ["new.exe"]
    children = ["powershell.exe" if i in (2, 9) else "x.exe" for i in range(22)] + ["powershell.exe"]
    out = ca.score(parents, children)
    assert out[-1] == pytest.approx(23 / 3, rel=1e-15)
    assert out[0] == 1.0


def test_lift_nulls_give_null_and_leave_state_alone():
    ca = ConditionalAnomaly()
    ca.score(["a", "a"], ["x", "y"])
    before = ca.state_dict()
    assert ca.score([None, "a", None], ["x", None, None]) == [None, None, None]
    assert ca.state_dict() == before
    # N=3, n_a=3, n_x=2, n_ax=2 -> (2/3)/(2/3)
    assert ca.score(["a"], ["x"]) == [1.0]


def test_lift_matches_plain_counts_over_many_pairs_and_batches():
    """Pairs found by binary search over their sorted codes, numbered as first seen: the lifts and
    the saved state agree with counting every record in Python dictionaries, across batches and a
    restore, with more distinct pairs than fit one batch."""
    import random
    from collections import Counter

    rng = random.Random(5)
    parents = [f"p{rng.randrange(400)}" for _ in range(6000)]
    children = [f"c{rng.randrange(60)}" for _ in range(6000)]
    n_c, n_t, n_ct, expected = Counter(), Counter(), Counter(), []
    for total, (c, t) in enumerate(zip(parents, children), 1):
        n_c[c] += 1
        n_t[t] += 1
        n_ct[c, t] += 1
        expected.append(n_ct[c, t] * total / (n_c[c] * n_t[t]))
    ca, got = ConditionalAnomaly(), []
    for start, end in [(0, 7), (7, 2000), (2000, 2001), (2001, 6000)]:
        got += ca.score(parents[start:end], children[start:end])
        ca = restored(ca)
    assert got == expected
    assert ca.state_dict()["pair"] == [[list(pair), n] for pair, n in n_ct.items()]


def test_lift_keys_follow_value_identity():
    ca = ConditionalAnomaly()
    out = ca.score([1, 1.0, [1, 2], [1, 2], True], ["t", "t", "t", "t", "t"])
    # 1 and 1.0 are one parent (`=` says they are equal); equal lists too; True is not 1.
    assert out == [1.0, 1.0, 1.0, 1.0, 1.0]
    assert len(ca.state_dict()["conditional"]) == 3
    assert ConditionalAnomaly().score(np.array(["a", "b", "a"], dtype=object),
                                      np.array(["x", "x", "y"], dtype=object)) == [
        1.0, 1.0, pytest.approx((1 / 2) / (1 / 3))]


# --- first_time_event ---

def test_first_time_event_tuples():
    fte = FirstTimeEvent()
    hosts = ["h1", "h1", "h2", "h1", None, None, "h1"]
    cmds = ["a", "a", "a", "b", "a", "a", 1]
    assert fte.score([hosts, cmds]) == [True, False, True, True, True, False, True]
    assert fte.score([["h1", "h3"], ["b", "b"]]) == [False, True]


def test_first_time_event_value_identity():
    fte = FirstTimeEvent()
    col = [1, 1.0, True, [1, 2], [1, 2], {"a": 1}, {"a": 1}, {"a": 1.0}, float("nan")]
    # Keys agree with `=`: 1 = 1.0 and {"a": 1} = {"a": 1.0}; True is not 1; NaN equals nothing.
    assert fte.score([col]) == [True, False, True, True, False, True, False, False, True]


def test_first_time_event_round_trip():
    col = ["a", [1, "x"], {"k": [None, 2.5]}, float("inf"), 2**70, "a", [1, "x"]]
    one = FirstTimeEvent()
    whole = one.score([col, col])
    first = FirstTimeEvent()
    head = first.score([col[:4], col[:4]])
    second = restored(first)
    assert head + second.score([col[4:], col[4:]]) == whole
    assert restored(second).state_dict() == orjson.loads(orjson.dumps(second.state_dict()))


def test_key_codec_round_trips_awkward_keys():
    for value in [None, "s\0x", 0, -(2**63), 2**64, -(2**80), 1.5, -0.0, float("inf"),
                  float("-inf"), [1, [2.0, {"m": True}]], {"a": None, "b": [float("-inf")]}]:
        key = hashable(value)
        assert decode_key(orjson.loads(orjson.dumps(encode_key(key)))) == key
    nan = decode_key(orjson.loads(orjson.dumps(encode_key(hashable(float("nan"))))))
    assert math.isnan(nan)


@pytest.mark.parametrize("exact", [False, True], ids=["float64", "python-ints"])
def test_conditional_anomaly_scores_the_kept_records_as_it_scores_all(exact):
    rng = np.random.default_rng(3)
    parents = [None if rng.random() < 0.05 else f"p{rng.integers(5)}" for _ in range(3_000)]
    children = [None if rng.random() < 0.05 else f"c{rng.integers(40)}" for _ in range(3_000)]
    every, some = ConditionalAnomaly(), ConditionalAnomaly()
    if exact:  # totals past 2**26 take the exact integer products
        every._total = some._total = 1 << 26
    for start in range(0, 3_000, 700):
        part = slice(start, start + 700)
        keep = np.sort(rng.choice(len(parents[part]), size=90, replace=False))
        full = every.score(parents[part], children[part])
        assert some.score(parents[part], children[part], keep) == [full[i] for i in keep]
    assert some.state_dict() == every.state_dict()  # the records not kept were counted all the same


# --- adaptive_threshold, gaussian ---

def gaussian(values, timestamps=None, entities=None, **kwargs):
    at = AdaptiveThreshold("gaussian", **kwargs)
    ts = list(range(len(values))) if timestamps is None else timestamps
    return at.score(entities, values, ts)


def test_gaussian_hand_computed():
    out = gaussian([1, 2, 3, 4, 10.0, 2.5])
    assert out["mean"] == [None, 1.0, 1.5, 2.0, 2.5, 4.0]
    assert out["variance"] == [None, 0.0, 0.25, approx(2 / 3), 1.25, 10.0]
    # z: 2 vs [1] -> +inf; 3 -> 3.0; 4 -> 2/sqrt(2/3) = 2.449 (Φ 0.9928 > 0.99); 10 -> 6.7;
    # 2.5 -> -1.5/sqrt(10) = -0.47
    assert out["label"] == [False, True, True, True, True, False]


def test_gaussian_zero_variance_follows_ieee():
    out = gaussian([5, 5, 5, 5.0, 4.999, 5])
    assert out["variance"][1:4] == [0.0, 0.0, 0.0]
    # x == mean -> z NaN -> false; then a step down from a constant history -> z = -inf -> true
    assert out["label"] == [False, False, False, False, True, False]


def test_gaussian_per_tail_threshold():
    history = [-1.0, 1.0]  # mean 0, sd 1, so z = x
    z_999 = 3.090232306167813  # Φ(z) = 0.999
    for x, label in [(3.0, False), (3.2, True), (-3.2, True), (-3.0, False)]:
        assert gaussian(history + [x], threshold=0.001)["label"][-1] is label
    # default 0.01 per tail: |z| > 2.326
    for x, label in [(2.3, False), (2.4, True), (-2.4, True)]:
        assert gaussian(history + [x])["label"][-1] is label
    assert gaussian(history + [z_999 + 1e-9], threshold=0.001)["label"][-1] is True
    assert gaussian(history + [3.0], threshold=float("nan"))["label"][-1] is True


def test_gaussian_bad_inputs_change_nothing():
    at = AdaptiveThreshold("gaussian")
    at.score(None, [1.0, 3.0], [0, 1])
    before = at.state_dict()
    out = at.score(None, [None, "2", True, float("nan"), 2.0, 2.0, 2.0],
                   [2, 3, 4, 5, None, "7", float("nan")])
    assert out == {"mean": [None] * 7, "variance": [None] * 7, "label": [False] * 7}
    assert at.state_dict() == before


def test_gaussian_infinite_values():
    out = gaussian([1.0, float("inf"), 2.0, 3.0])
    assert out["mean"][2] == math.inf and math.isnan(out["variance"][2])
    # a step up from the constant [1.0] is +inf away; once inf is in the history, z is NaN
    assert out["label"] == [False, True, False, False]


_X = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.floats(min_value=-1e-3, max_value=1e-3), st.sampled_from([0.0, -0.0, 1.0, 2.0, 1e300, 5e-324]),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.sampled_from([None, float("nan"), "1", True]),
)


def _in_order_stream(values: list, steps: list[int], late_at: int | None) -> tuple[list, list]:
    """The values with timestamps from 1,000 on, each `steps` after the one before, and the record at
    `late_at` (when there is one) 7 ms back in time."""
    stamps = list(accumulate(steps, initial=1_000))[1:]
    if late_at is not None and late_at < len(stamps):
        stamps[late_at] -= 7  # goes back in time
    return list(values), stamps


@settings(max_examples=400, deadline=None, database=None)
@given(
    st.lists(st.tuples(_X, st.integers(min_value=0, max_value=4)), min_size=1, max_size=60),
    st.sampled_from([None, 1, 3, 10]),
    st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=8),
    st.sampled_from([None, 5, 17]),
    st.booleans(),
)
def test_gaussian_in_order_batches_match_the_record_by_record_loop(records, window, cuts, late_at, restore):
    """The prefix-sum path (in-order integer timestamps, one model) gives what the loop gives, bit
    for bit, whatever the batches; a record late in event time, a float timestamp or an infinite
    value sends its batch to the loop, and the two paths hand over their state."""
    values, stamps = _in_order_stream([x for x, _ in records], [step for _, step in records], late_at)
    if len(values) > 30:
        values[30] = math.inf if restore else values[30]
        stamps[29] = float(stamps[29])
    fast = AdaptiveThreshold("gaussian", window_ms=window, threshold=0.05)
    loop = AdaptiveThreshold("gaussian", window_ms=window, threshold=0.05)
    loop._score_gaussian_in_order = lambda values, stamps: None
    start, batch = 0, 0
    while start < len(values):
        end = start + cuts[batch % len(cuts)]
        got = fast.score(None, values[start:end], stamps[start:end])
        expected = loop.score(None, values[start:end], stamps[start:end])
        assert repr(got) == repr(expected), (start, end)
        if restore:  # the state saved and loaded between batches
            fast = AdaptiveThreshold.from_state_dict(orjson.loads(orjson.dumps(fast.state_dict())))
        assert _expiry_is_ordered(fast)
        start, batch = end, batch + 1
    assert _history_of(fast) == _history_of(loop)


def _history_of(at: AdaptiveThreshold) -> tuple:
    """What a state holds, whatever form its sums and heap take."""
    model = at._models.get(None)
    sums = None if model is None else (model.n, Fraction(model.s) * Fraction(2) ** model.exp,
                                       Fraction(model.q) * Fraction(2) ** (2 * model.exp), model.pos_inf, model.neg_inf)
    expiry = at._expiries.get(None)
    return sums, [] if expiry is None else expiry.pairs(), at._watermark


def _expiry_is_ordered(at: AdaptiveThreshold) -> bool:
    """Time-ordered arrays, or a valid heap where a record came late."""
    expiry = at._expiries.get(None)
    if expiry is None:
        return True
    if expiry.heap is None:
        stamps = expiry.stamps[expiry.start:]
        return len(expiry.values) - expiry.start == len(stamps) and all(a <= b for a, b in zip(stamps, stamps[1:]))
    heap = expiry.heap
    return all(heap[(i - 1) // 2] <= heap[i] for i in range(1, len(heap)))


def test_gaussian_in_order_path_takes_the_reference_shape_of_batch():
    at = AdaptiveThreshold("gaussian", window_ms=604800000, threshold=0.001)
    results = []
    original = at._score_gaussian_in_order
    at._score_gaussian_in_order = lambda *args: results.append(original(*args)) or results[-1]
    at.score(None, [0.5, 2.5, 1.5], [10, 20, 20])
    assert results[0] == {"mean": [None, 0.5, 1.5], "variance": [None, 0.0, 1.0], "label": [False, True, False]}
    assert at._expiries[None].pairs() == [(10, 0.5), (20, 1.5), (20, 2.5)]  # sorted: ties by value


def test_gaussian_entities_are_independent_models():
    out = gaussian([1, 100, 2, 200, 3, 7], entities=["a", "b", "a", "b", "a", None])
    assert out["mean"] == [None, None, 1.0, 100.0, 1.5, None]
    assert gaussian([1, 2, 3], entities=[1, 1.0, 1])["mean"] == [None, 1.0, 1.5]


def test_gaussian_window_expiry_is_exact():
    # ts' <= wm - window leaves; the huge value's removal must leave a clean 0.1 history.
    out = gaussian([1e9, 0.1, 0.1, 0.1, 0.2], timestamps=[0, 50, 60, 100, 101], window_ms=100)
    assert out["mean"][3] == 0.1 and out["variance"][3] == 0.0
    assert out["label"][3] is False  # equal to a constant mean: NaN z
    assert out["mean"][4] == 0.1 and out["variance"][4] == approx(0.0)
    assert out["label"][4] is True


def test_gaussian_window_uses_operator_watermark_and_skips_late_records():
    at = AdaptiveThreshold("gaussian", window_ms=10)
    out = at.score(["a", "b", "a", "a", "a"], [1.0, 9.0, 3.0, 100.0, 5.0], [0, 20, 21, 5, 22])
    # b's timestamp 20 moved the watermark: a's value at ts 0 is gone when a comes back at 21.
    assert out["mean"] == [None, None, None, 3.0, 3.0]
    # ts 5 <= 21 - 10: it was scored against a's history [3.0] but never joined it.
    assert out["label"] == [False, False, False, True, True]
    assert at.score(["a"], [4.0], [-1])["mean"] == [4.0]


def test_gaussian_window_unbounded_for_none_and_non_positive():
    for window in (None, 0, -1):
        out = gaussian([1.0, 3.0, 5.0], timestamps=[0, 10**12, 2 * 10**12], window_ms=window)
        assert out["mean"] == [None, 1.0, 2.0]


@pytest.mark.parametrize("window", [None, 4])
def test_gaussian_round_trip(window):
    rng = np.random.default_rng(7)
    values = rng.normal(size=60).tolist()
    values[10] = float("inf")
    values[11] = None
    entities = rng.choice(["x", "y", "z"], size=60).tolist()
    timestamps = sorted(rng.integers(0, 40, size=60).tolist())
    timestamps[30], timestamps[31] = timestamps[31], timestamps[30] - 9
    whole = AdaptiveThreshold("gaussian", window, 0.05).score(entities, values, timestamps)
    for split in (1, 17, 30, 59):
        at = AdaptiveThreshold("gaussian", window, 0.05)
        head = at.score(entities[:split], values[:split], timestamps[:split])
        assert restored(at).state_dict() == at.state_dict()
        at = restored(at)
        tail = at.score(np.array(entities[split:], dtype=object),
                        np.array(values[split:], dtype=object), timestamps[split:])
        joined = {k: head[k] + tail[k] for k in head}
        assert orjson.dumps(joined) == orjson.dumps(whole)


# --- adaptive_threshold, quantile ---

def quantile(values, timestamps=None, **kwargs):
    at = AdaptiveThreshold("quantile", **kwargs)
    ts = list(range(len(values))) if timestamps is None else timestamps
    return at.score(None, values, ts)


def test_quantile_hand_computed_with_ties():
    out = quantile([2, 1, 2, 3, 2, 4, 0.5])
    # histories: [] [2] [1,2] [1,2,2] [1,2,2,3] [1,2,2,2,3] [1,2,2,2,3,4]
    assert out["quantile"] == [0.0, 0.0, 0.5, 1.0, 0.25, 1.0, 0.0]
    assert out["label"] == [True, True, False, True, False, True, True]


def test_quantile_default_threshold_is_per_tail_0_1():
    history = list(range(10))  # ten values 0..9
    expected = {-1: (0.0, True), 0.5: (0.1, False), 8.5: (0.9, False), 9.5: (1.0, True)}
    for x, (q, label) in expected.items():
        out = quantile(history + [x])
        assert (out["quantile"][-1], out["label"][-1]) == (q, label)
    out = quantile(history + [0.5], threshold=0.2)
    assert out["label"][-1] is True


def test_quantile_window_expiry():
    out = quantile([5, 1, 9, 3, 4, 2], timestamps=[0, 5, 10, 15, 30, 12], window_ms=10)
    # ts 10: 0 <= cutoff 0 expires -> [1]; ts 15: 5 expires -> [9]; ts 30: all gone.
    # ts 12 <= 30 - 10 arrives late: scored against a's history [4], never stored.
    assert out["quantile"] == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    at = AdaptiveThreshold("quantile", window_ms=10)
    at.score(None, [5, 1, 9, 3, 4, 2], [0, 5, 10, 15, 30, 12])
    assert at.score(None, [4.5], [31])["quantile"] == [1.0]


def test_quantile_entities_and_bad_inputs():
    at = AdaptiveThreshold("quantile")
    out = at.score(["a", "b", "a", None, "a"], [1, 5, None, 2, 3], [0, 1, 2, 3, 4])
    assert out == {"quantile": [0.0, 0.0, None, 0.0, 1.0], "label": [True, True, False, True, True]}


@pytest.mark.parametrize("window", [None, 7])
def test_quantile_round_trip(window):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 6, size=50).astype(float).tolist()
    entities = rng.choice(["x", "y"], size=50).tolist()
    timestamps = list(range(0, 100, 2))
    timestamps[20] = 3
    whole = AdaptiveThreshold("quantile", window).score(entities, values, timestamps)
    for split in (1, 20, 21, 49):
        at = AdaptiveThreshold("quantile", window)
        head = at.score(entities[:split], values[:split], timestamps[:split])
        assert restored(at).state_dict() == at.state_dict()
        tail = restored(at).score(entities[split:], values[split:], timestamps[split:])
        assert {k: head[k] + tail[k] for k in head} == whole


def test_sorted_values_matches_a_flat_sorted_list(monkeypatch):
    # Tiny blocks so that splits, block deletions and multi-block ranks all happen.
    monkeypatch.setattr(_SortedValues, "LOAD", 2)
    rng = np.random.default_rng(11)
    sv, flat = _SortedValues(), []
    for step in range(3000):
        x = float(rng.integers(0, 30))
        if flat and rng.random() < 0.45:
            y = flat[int(rng.integers(0, len(flat)))]
            sv.remove(y)
            flat.remove(y)
        else:
            sv.add(x)
            insort(flat, x)
        probe = float(rng.integers(-1, 32)) - 0.5 * (step % 2)
        assert sv.count_below(probe) == bisect_left(flat, probe)
        assert sv.n == len(flat)
    assert sv.values() == flat
    assert _SortedValues(flat).count_below(15.0) == bisect_left(flat, 15.0)


def test_unknown_algorithm():
    with pytest.raises(ValueError, match="algorithm"):
        AdaptiveThreshold("median")


def test_first_time_event_packed_text_keys_stay_exact():
    # Pairs and triples of texts are held as one packed text: rows that join to the same characters,
    # or hold ':' and digits where the lengths go, must stay apart, as tuples kept them.
    rows = [("ab", "c"), ("a", "bc"), ("1:a", "b"), ("1", ":ab"), ("", "ab"), ("ab", ""), ("a", None),
            ("a", "None"), ("2,1", ":x")]
    for width in (2, 3):
        columns = [list(column) for column in zip(*[row + ("z",) * (width - 2) for row in rows])]
        fte = FirstTimeEvent()
        assert fte.score(columns) == [True] * len(rows)
        assert fte.score(columns) == [False] * len(rows)
        again = restored(fte)
        assert again.score(columns) == [False] * len(rows)
        assert again.state_dict() == {"seen": [list(row) + ["z"] * (width - 2) for row in rows]}


def test_first_time_event_pair_keys_are_the_general_packing():
    from spl_lite.engine.streaming_ml import _packed

    texts = [("dev1", "cmd /c a:b"), ("", ""), ("é", "ü:1")]
    fte = FirstTimeEvent()
    fte.score([[a for a, _ in texts], [b for _, b in texts]])
    assert list(fte._seen) == [_packed(row) for row in texts]


@pytest.mark.parametrize("algorithm", ["quantile", "gaussian"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_time_ordered_history_gives_the_heap_bytes(algorithm, seed, monkeypatch):
    """A windowed history kept as time-ordered arrays (the usual, in-order stream) labels, expires and
    saves exactly as the plain heap of (ts, x) tuples does, including across late records, float and
    beyond-int64 timestamps (which turn an entity's arrays into a heap) and a restore midway."""
    import random

    from spl_lite.engine import streaming_ml

    rng = random.Random(seed)
    stamps, now = [], 10**12
    for _ in range(600):
        now += rng.choice([0, 0, 1, 5, 40])
        late = rng.random() < 0.05
        stamps.append(now - rng.randrange(1, 120) if late else now)
    stamps[rng.randrange(600)] = float(stamps[0] + 300)
    stamps[rng.randrange(600)] = 2**70
    entities = [rng.choice(["a", "b", "c", None]) for _ in stamps]
    values = [rng.choice([1, 2, 2.5, 3, 1e300, -7]) for _ in stamps]

    def run() -> tuple:
        at = AdaptiveThreshold(algorithm, window_ms=100, threshold=0.2)
        out = [at.score(entities[:250], values[:250], stamps[:250])]
        at = restored(at)
        out.append(at.score(entities[250:], values[250:], stamps[250:]))
        return repr(out), orjson.dumps(at.state_dict())

    ordered = run()
    with monkeypatch.context() as patch:
        def heap_only_push(self, ts, x):
            heappush(self.heap if self.heap is not None else self._to_heap(), (ts, x))

        from heapq import heappush
        patch.setattr(streaming_ml._Expiry, "push", heap_only_push)
        assert run() == ordered


def test_history_saved_in_heap_order_by_an_older_version_loads():
    """State files of version 1 kept a windowed history as [time, value] pairs in heap order, not
    time order; it loads (as a heap) and expires the same pairs."""
    saved = {"algorithm": "quantile", "window_ms": 10, "threshold": 0.1, "watermark": 9,
             "models": [["a", [1.0, 2.0, 3.0], [[5, 1.0], [9, 2.0], [7, 3.0]]]]}
    at = AdaptiveThreshold.from_state_dict(saved)
    # at 16 the cutoff is 6: the pair of time 5 leaves, 2.0 and 3.0 stay; 2.5 is above one of two
    assert at.score(["a"], [2.5], [16])["quantile"] == [0.5]
    assert at.state_dict()["models"][0][2] == {"times": [7, 9, 16], "values": [3.0, 2.0, 2.5]}


def _quantile_runs(entities, values, stamps, cuts, window, restore, loop_only):
    """Outputs and state bytes of adaptive_threshold quantile fed these records in batches of `cuts`
    sizes (cycled), saved and loaded between batches with `restore`; `loop_only` takes the
    record-by-record loop for every batch."""
    at = AdaptiveThreshold("quantile", window_ms=window, threshold=0.2)
    outputs, states, start, batch = [], [], 0, 0
    while start < len(values):
        if loop_only:
            at._score_quantile_in_order = lambda entities, values, stamps: None
        end = start + cuts[batch % len(cuts)]
        outputs.append(at.score(None if entities is None else entities[start:end], values[start:end],
                                stamps[start:end]))
        states.append(orjson.dumps(at.state_dict()))
        if restore:
            at = restored(at)
        start, batch = end, batch + 1
    return repr(outputs), states


_QUANTILE_X = st.one_of(st.sampled_from([0.0, 1.0, 1.5, 2.0, 3.0, 7.0, -1.0, math.inf, -math.inf]),
                        st.integers(min_value=-3, max_value=3),
                        st.floats(allow_nan=False, width=64),
                        st.sampled_from([None, float("nan"), "1", True, -0.0]))


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", None, 1, 1.0]), _QUANTILE_X, st.sampled_from([0, 0, 1, 2, 5])),
             min_size=1, max_size=150),
    st.sampled_from([None, 1, 3, 10, 40]),
    st.lists(st.integers(min_value=1, max_value=70), min_size=1, max_size=5),
    st.sampled_from([None, 20, 90]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_quantile_in_order_batches_match_the_record_by_record_loop(records, window, cuts, late_at, restore,
                                                                    with_entity, every_entity):
    """Scoring each entity's rows of an in-order batch at once gives what the loop gives, outputs and
    state bytes, whatever the batches: ties, nulls, NaN, infinities, ints, 1 and 1.0 as one entity,
    windows that empty a history within a batch, and a late record, float timestamp or -0.0 that
    sends batches to the loop. `every_entity` lets even one row or a long history take the batch path."""
    from spl_lite.engine import streaming_ml

    entities = [entity for entity, _, _ in records] if with_entity else None
    values, stamps = _in_order_stream([x for _, x, _ in records], [step for _, _, step in records], late_at)
    if len(values) > 120:
        stamps[119] = float(stamps[119])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(streaming_ml, "_VECTOR_MIN_BATCH", 1)  # batches of tens of rows
        if every_entity:
            patch.setattr(streaming_ml, "_VECTOR_MIN_ROWS", 1)
            patch.setattr(streaming_ml, "_VECTOR_MAX_HISTORY_PER_ROW", 10**9)
        fast = _quantile_runs(entities, values, stamps, cuts, window, restore, loop_only=False)
    assert fast == _quantile_runs(entities, values, stamps, cuts, window, restore, loop_only=True)


def test_quantile_in_order_batch_takes_each_entity_at_once(monkeypatch):
    """The batch path runs for a usual batch (and so the test above compares two paths): ties count
    as not below, and a window that closes within the batch drops the oldest values."""
    from spl_lite.engine import streaming_ml

    monkeypatch.setattr(streaming_ml, "_VECTOR_MIN_BATCH", 40)
    at = AdaptiveThreshold("quantile", window_ms=10, threshold=0.1)
    values = [float(v % 5) for v in range(40)]
    out = at._score_quantile_in_order(["e"] * 40, values, list(range(0, 80, 2)))
    assert out is not None
    # record 20 (value 0, at time 40) sees the records of times 31..39: values 1, 2, 3, 4, 0: one of
    # them is 0, none below it; record 24 (value 4, time 48) sees values 0..3 and 0..3 below it.
    assert out["quantile"][20] == 0.0 and out["quantile"][24] == 1.0
    assert at.state_dict()["models"][0][1] == sorted(values[35:])
    assert at._expiries["e"].pairs() == sorted(zip(range(70, 80, 2), values[35:]))


@needs_ssa_corpus
def test_corpus_quantile_searches_give_the_same_bytes_on_either_path(monkeypatch):
    """The corpus detections with adaptive_threshold, over generated events in batches, write the same
    bytes whether each entity's rows of a batch are scored at once or record by record."""
    import sys

    from spl_lite.core.errors import SplError
    from spl_lite.driver.api import Search
    from spl_lite.engine import streaming_ml
    from spl_lite.engine.executor import Execution
    from spl_lite.io.formats import InputConverter
    from spl_lite.io.jsonl import encode_record

    plans = []
    for path in sorted(SSA_CORPUS.glob("*.spl")):
        text = path.read_text()
        if "adaptive_threshold" in text:
            try:
                plans.append(Search.compile(text).plan)
            except SplError:
                continue
    assert len(plans) >= 3
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate_events import generate

    lines = list(generate(6000, seed=5, days=2))
    batches = [[orjson.loads(line) for line in lines[i:i + 1500]] for i in range(0, len(lines), 1500)]
    batch_path = []
    scored_at_once = streaming_ml.AdaptiveThreshold._score_quantile_in_order

    def counted(self, *args):
        scored = scored_at_once(self, *args)
        batch_path.append(scored is not None)
        return scored

    def outputs() -> list[bytes]:
        written = [[] for _ in plans]
        runs = [Execution(plan, lambda sink, batch, out=out: out.extend(map(encode_record, batch.records())))
                for plan, out in zip(plans, written)]
        converter = InputConverter()
        for events in batches:
            converted = converter.convert(events)
            for run in runs:
                run.push_converted(converted)
        for run in runs:
            run.finish()
        return [b"".join(out) for out in written] + [orjson.dumps(run.state_dict()) for run in runs]

    monkeypatch.setattr(streaming_ml, "_VECTOR_MIN_BATCH", 64)  # the searches' batches after their filters
    monkeypatch.setattr(streaming_ml.AdaptiveThreshold, "_score_quantile_in_order", counted)
    at_once = outputs()
    assert any(batch_path)
    monkeypatch.setattr(streaming_ml.AdaptiveThreshold, "_score_quantile_in_order", lambda self, *args: None)
    assert at_once == outputs()
    assert sum(map(bool, at_once[:len(plans)])) >= 2  # detections found, not only empty outputs


def test_count_below_matches_counting_each_range():
    from spl_lite.engine.streaming_ml import _count_below

    rng = np.random.default_rng(5)
    for distinct in (1, 2, 7, 300):
        ranks = rng.integers(0, distinct, 400)
        starts = rng.integers(0, 401, 200)
        ends = np.maximum(starts, rng.integers(0, 401, 200))
        bounds = rng.integers(0, distinct + 1, 200)
        expected = [int((ranks[a:b] < bound).sum()) for a, b, bound in zip(starts, ends, bounds)]
        assert _count_below(ranks, starts, ends, bounds).tolist() == expected
