"""Streaming-ML operator state (spec 8): first_time_event, conditional_anomaly, adaptive_threshold."""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from array import array
from heapq import heappop, heappush
from itertools import accumulate, chain, repeat
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from spl_lite.core.values import hashable

from ..core.batch import encoding, null_mask, object_column, take_rows, used_codes

_INF = math.inf
_SQRT2 = math.sqrt(2.0)
# orjson writes integers only in this range; larger ones (exact moment sums) go as hex text.
_JSON_INT_MIN = -(2**63)
_JSON_INT_MAX = 2**64 - 1
_INT64_MIN = -(2**63)


def encode_key(key: Any) -> Any:
    """A state key or number (made of tuples, scalars) as JSON: tuples become lists.

    JSON cannot carry non-finite doubles or very large integers, so those become one-entry
    maps {"f": "nan"} / {"i": "<hex>"}; maps never occur otherwise because `hashable` turns
    every map value into a tuple.
    """
    kind = type(key)
    if kind is tuple:
        return [encode_key(k) for k in key]
    if kind is float and (key != key or key == _INF or key == -_INF):
        return {"f": repr(key)}
    if kind is int and not _JSON_INT_MIN <= key <= _JSON_INT_MAX:
        return {"i": format(key, "x")}
    return key


def decode_key(data: Any) -> Any:
    """Inverse of encode_key."""
    kind = type(data)
    if kind is list:
        return tuple(decode_key(d) for d in data)
    if kind is dict:
        return float(data["f"]) if "f" in data else int(data["i"], 16)
    return data


def as_list(column: Sequence) -> Sequence:
    """numpy arrays as Python lists, so element types are Python's (int, not numpy.int64)."""
    return column.tolist() if isinstance(column, np.ndarray) else column


class FirstTimeEvent:
    """True exactly when the tuple of column values has not been seen earlier (spec 8.1).

    Keys are held compactly but exactly: one column's key is its value itself, and a row of several
    texts is packed into one text (`_packed`), so an entry costs one string instead of a tuple and
    a string per column (314 -> 198 bytes for a (device, command line) key; README "Soak").
    """

    def __init__(self) -> None:
        # A dict, not a set: insertion order makes state_dict the same bytes on every run.
        self._seen: dict[Any, None] = {}
        self._width: int | None = None

    def score(self, columns: Sequence[Sequence]) -> list[bool]:
        if not columns:
            raise ValueError("first_time_event needs at least one input column")
        if self._width is None:
            self._width = len(columns)
        seen = self._seen
        out = []
        for key in self._keys(list(map(as_list, columns))):
            if key in seen:
                out.append(False)
            else:
                seen[key] = None
                out.append(True)
        return out

    def _keys(self, columns: list[Sequence]) -> list:
        if len(columns) == 1:
            return [value if value.__class__ is str else hashable(value) for value in columns[0]]
        if len(columns) == 2:  # the usual pair, _packed inlined: a third of the time of a call per row
            return [f"{len(a)}:{a}{b}" if a.__class__ is str and b.__class__ is str else (hashable(a), hashable(b))
                    for a, b in zip(*columns)]
        return [_packed(row) if all(v.__class__ is str for v in row) else tuple(map(hashable, row))
                for row in zip(*columns)]

    def _key_tuple(self, key: Any) -> tuple:
        if self._width == 1:
            return (key,)
        return _unpacked(key, self._width) if key.__class__ is str else key

    def state_dict(self) -> dict:
        return {"seen": [encode_key(self._key_tuple(k)) for k in self._seen]}

    @classmethod
    def from_state_dict(cls, d: dict) -> FirstTimeEvent:
        self = cls()
        keys = list(map(decode_key, d["seen"]))
        if keys:
            self._width = len(keys[0])
            self._seen = dict.fromkeys(self._keys([list(column) for column in zip(*keys)]))
        return self


def _packed(texts: Sequence[str]) -> str:
    """Several texts as one, exactly: the lengths of all but the last, then ':', then the texts.
    The lengths say where each text ends, so two different rows never give the same key."""
    return ",".join([str(len(t)) for t in texts[:-1]]) + ":" + "".join(texts)


def _unpacked(key: str, width: int) -> tuple[str, ...]:
    """Inverse of _packed."""
    lengths, _, joined = key.partition(":")
    texts, start = [], 0
    for length in map(int, lengths.split(",")):
        texts.append(joined[start:start + length])
        start += length
    texts.append(joined[start:])
    return tuple(texts)


class ConditionalAnomaly:
    """Lift P(t|c) / P(t) from raw counts that already include the current record (spec 8.2).

    Values are numbered once (a dict per side) and counted in numpy arrays, so a batch costs a
    dictionary lookup per value plus a few array operations, whatever its size.
    """

    def __init__(self) -> None:
        self._total = 0
        self._cond = _Counter()
        self._target = _Counter()
        self._pair = _PairCounter()

    def score(self, conditional: Sequence, target: Sequence, keep: np.ndarray | None = None) -> list[float | None]:
        """Each record's lift; with `keep` (row indices), only those records' (every record counts)."""
        conditional, target = object_column(conditional), object_column(target)
        # A record with a null on either side is not counted and scores null.
        present = ~(null_mask(conditional) | null_mask(target))
        rows = np.flatnonzero(present)
        out = np.full(len(conditional) if keep is None else len(keep), None, dtype=object)
        if not len(rows):
            return out.tolist()
        if len(rows) < len(conditional):
            conditional, target = take_rows(conditional, rows), take_rows(target, rows)
        c_slots = self._cond.slots(conditional)
        t_slots = self._target.slots(target)
        p_slots = self._pair.slots((c_slots << 32) + t_slots)
        n_c = self._cond.running(c_slots)
        n_t = self._target.running(t_slots)
        n_ct = self._pair.running(p_slots)
        total = self._total + np.arange(1, len(rows) + 1, dtype=np.int64)
        self._total = int(total[-1])
        if self._total < _EXACT_PRODUCTS:
            # Every product is below 2**53, so float64 holds it exactly and the division is the
            # same correctly rounded result Python's int / int gives.
            scores = (n_ct * total).astype(np.float64) / (n_c * n_t).astype(np.float64)
        else:
            scores = np.array([(a * n) / (b * c) for a, n, b, c in zip(n_ct.tolist(), total.tolist(), n_c.tolist(),
                                                                      n_t.tolist())], dtype=object)
        if keep is None and len(rows) == len(out):
            return scores.tolist()
        if keep is None:
            out[rows] = scores
            return out.tolist()
        position = np.full(len(present), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        chosen = position[keep]
        scored = chosen >= 0
        out[scored] = scores[chosen[scored]]
        return out.tolist()

    def state_dict(self) -> dict:
        pairs = self._pair.counts_by_code()
        conditions = self._cond.keys
        targets = self._target.keys
        return {
            "total": self._total,
            "conditional": [[encode_key(k), n] for k, n in self._cond.counts_by_key()],
            "target": [[encode_key(k), n] for k, n in self._target.counts_by_key()],
            "pair": [
                [encode_key((conditions[key >> 32], targets[key & 0xFFFFFFFF])), n] for key, n in pairs
            ],
        }

    @classmethod
    def from_state_dict(cls, d: dict) -> ConditionalAnomaly:
        self = cls()
        self._total = d["total"]
        self._cond.restore([(decode_key(k), n) for k, n in d["conditional"]])
        self._target.restore([(decode_key(k), n) for k, n in d["target"]])
        pairs = []
        for k, n in d["pair"]:
            c, t = decode_key(k)
            pairs.append(((self._cond.index[c] << 32) + self._target.index[t], n))
        self._pair.restore(pairs)
        return self


_EXACT_PRODUCTS = 1 << 26  # total**2 < 2**52: all lift products are exact in float64


class _Counter:
    """Numbers distinct keys in first-seen order and keeps a count per number in a numpy array."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.keys: list[Any] = []
        self.counts = np.zeros(64, dtype=np.int64)

    def slots(self, column: np.ndarray) -> np.ndarray:
        """Each value's number; values new to the counter are numbered in order of first appearance."""
        encoded = encoding(column)
        if encoded is None:
            return self.slots_of(column.tolist())
        # A dictionary-encoded column: look each distinct value up once.
        distinct, codes = encoded
        used = used_codes(codes, len(distinct))
        found = self._known(distinct[used].tolist())
        if found is None:
            # New values among them: number them in the order of their first rows, as a pass
            # over the rows would.
            by_code = np.argsort(codes, kind="stable")
            ordered = codes[by_code]
            starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            used = ordered[starts][np.argsort(by_code[starts])]
            found = self.slots_of(distinct[used].tolist())
        slot_of_code = np.zeros(len(distinct), dtype=np.int64)
        slot_of_code[used] = found
        return slot_of_code[codes]

    def _known(self, values: list) -> list[int] | None:
        """The numbers of these values, or None if one of them is new."""
        if set(map(type, values)) != {str}:
            values = [v if v.__class__ is str else hashable(v) for v in values]
        found = list(map(self.index.get, values))
        return None if None in found else found

    def slots_of(self, values: list) -> np.ndarray:
        index = self.index
        if set(map(type, values)) == {str}:
            keys = values  # a str is its own key
        else:
            keys = [v if v.__class__ is str else hashable(v) for v in values]
        found = list(map(index.get, keys))
        if None in found:
            for i, slot in enumerate(found):
                if slot is None:
                    key = keys[i]
                    slot = index.get(key)
                    if slot is None:
                        slot = index[key] = len(self.keys)
                        self.keys.append(key)
                    found[i] = slot
            if len(self.keys) > len(self.counts):
                grown = np.zeros(max(len(self.keys), 2 * len(self.counts)), dtype=np.int64)
                grown[: len(self.counts)] = self.counts
                self.counts = grown
        return np.array(found, dtype=np.int64)

    def running(self, slots: np.ndarray) -> np.ndarray:
        return _running(self.counts, slots, len(self.keys))

    def counts_by_key(self) -> list[tuple[Any, int]]:
        return [(key, int(n)) for key, n in zip(self.keys, self.counts[: len(self.keys)])]

    def restore(self, items: list[tuple[Any, int]]) -> None:
        self.keys = [key for key, _ in items]
        self.index = {key: slot for slot, key in enumerate(self.keys)}
        self.counts = np.zeros(max(64, len(items)), dtype=np.int64)
        self.counts[: len(items)] = [n for _, n in items]


def _running(counts: np.ndarray, slots: np.ndarray, distinct: int) -> np.ndarray:
    """Each row's count including itself and the rows before it; `counts` (by slot) is updated."""
    # Radix sort (numpy's stable sort of 16-bit keys) is several times faster than sorting int64.
    keys = slots.astype(np.uint16) if distinct <= 1 << 16 else slots
    order = np.argsort(keys, kind="stable")
    ordered = slots[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    lengths = np.diff(np.r_[starts, len(ordered)])
    rank = np.arange(len(ordered), dtype=np.int64) - np.repeat(starts, lengths)
    occurrence = np.empty(len(slots), dtype=np.int64)
    occurrence[order] = rank + 1
    result = counts[slots] + occurrence
    np.add.at(counts, ordered[starts], lengths)
    return result


class _PairCounter:
    """(conditional number, target number) pairs, each as one code c << 32 | t, numbered in
    first-seen order and counted, all in numpy arrays: a batch finds its pairs by one binary search
    over the sorted codes (32 bytes a pair, where a dense table of every conditional by every
    target took 16 MiB for 19,450 pairs)."""

    def __init__(self) -> None:
        self.codes = np.empty(0, dtype=np.int64)  # by pair number
        self.sorted_codes = np.empty(0, dtype=np.int64)
        self.sorted_slots = np.empty(0, dtype=np.int64)  # the pair number of each sorted code
        self.counts = np.zeros(64, dtype=np.int64)

    def slots(self, codes: np.ndarray) -> np.ndarray:
        """Each code's pair number; codes new here are numbered in the order of their first rows."""
        position = self._find(codes)
        new = position < 0
        if new.any():
            unique_codes, first_row = np.unique(codes[new], return_index=True)
            self._number(unique_codes[np.argsort(first_row)])
            position = self._find(codes)
        return self.sorted_slots[position]

    def _find(self, codes: np.ndarray) -> np.ndarray:
        """Each code's place among the sorted codes, -1 where it is not there."""
        sorted_codes = self.sorted_codes
        position = np.searchsorted(sorted_codes, codes)
        inside = position < len(sorted_codes)
        found = np.zeros(len(codes), dtype=bool)
        found[inside] = sorted_codes[position[inside]] == codes[inside]
        return np.where(found, position, -1)

    def _number(self, new_codes: np.ndarray) -> None:
        codes = self.codes = np.concatenate((self.codes, new_codes))
        self.sorted_slots = np.argsort(codes, kind="stable")
        self.sorted_codes = codes[self.sorted_slots]
        if len(codes) > len(self.counts):
            grown = np.zeros(max(len(codes), 2 * len(self.counts)), dtype=np.int64)
            grown[: len(self.counts)] = self.counts
            self.counts = grown

    def running(self, slots: np.ndarray) -> np.ndarray:
        return _running(self.counts, slots, len(self.codes))

    def counts_by_code(self) -> list[tuple[int, int]]:
        return list(zip(self.codes.tolist(), self.counts[: len(self.codes)].tolist()))

    def restore(self, items: list[tuple[int, int]]) -> None:
        self._number(np.array([code for code, _ in items], dtype=np.int64))
        self.counts[: len(items)] = [n for _, n in items]


class _Moments:
    """Count, Σx and Σx² of a multiset of doubles, exact, so removals leave no rounding residue.

    Finite values are summed as integers scaled by 2**exp (every double is m·2**e); Σx² uses the
    scale 2**(2·exp). Infinities are counted apart, since they have no integer form.
    """

    __slots__ = ("n", "s", "q", "exp", "pos_inf", "neg_inf")

    def __init__(self) -> None:
        self.n = 0
        self.s = 0
        self.q = 0
        self.exp = 0
        self.pos_inf = 0
        self.neg_inf = 0

    def add(self, x: float) -> None:
        self._update(x, 1)

    def remove(self, x: float) -> None:
        """Remove one previously added x."""
        self._update(x, -1)

    def _update(self, x: float, sign: int) -> None:
        self.n += sign
        if x == _INF:
            self.pos_inf += sign
            return
        if x == -_INF:
            self.neg_inf += sign
            return
        num, den = x.as_integer_ratio()
        if num:
            e = 1 - den.bit_length()
            if e < self.exp:
                shift = self.exp - e
                self.s <<= shift
                self.q <<= 2 * shift
                self.exp = e
            shift = e - self.exp
            if sign > 0:
                self.s += num << shift
                self.q += (num * num) << (2 * shift)
            else:
                self.s -= num << shift
                self.q -= (num * num) << (2 * shift)
        if self.n == 0:
            # Everything was removed, so the sums are exactly 0: drop the scale so it cannot creep.
            self.exp = 0

    def mean(self) -> float:
        if self.pos_inf or self.neg_inf:
            if self.pos_inf and self.neg_inf:
                return math.nan
            return _INF if self.pos_inf else -_INF
        return _scaled_ratio(self.s, self.n, self.exp)

    def mean_and_variance(self) -> tuple[float, float]:
        """The mean, and the population variance (nΣx² − (Σx)²) / n², each correctly rounded."""
        if self.pos_inf or self.neg_inf:
            return self.mean(), math.nan
        n, s, exp = self.n, self.s, self.exp
        return _scaled_ratio(s, n, exp), _scaled_ratio(n * self.q - s * s, n * n, 2 * exp)

    def to_state(self) -> list:
        return [encode_key(v) for v in (self.n, self.s, self.q, self.exp, self.pos_inf, self.neg_inf)]

    @classmethod
    def from_state(cls, data: list) -> _Moments:
        self = cls()
        self.n, self.s, self.q, self.exp, self.pos_inf, self.neg_inf = map(decode_key, data)
        return self


class _SortedValues:
    """A sorted multiset of doubles with O(log n) rank queries, kept as blocks of bounded length.

    One flat sorted list would make every insertion shift the whole list (quadratic over a long
    unbounded history); blocks bound the shift, and a Fenwick tree over the block lengths gives
    the count of values in earlier blocks.
    """

    __slots__ = ("blocks", "maxes", "tree", "n")
    LOAD = 512

    def __init__(self, values: list[float] = ()) -> None:
        load = self.LOAD
        self.blocks = [values[i:i + load] for i in range(0, len(values), load)]
        self.n = len(values)
        self._reindex()

    def _reindex(self) -> None:
        self.maxes = [block[-1] for block in self.blocks]
        tree = [0] * (len(self.blocks) + 1)
        for i, block in enumerate(self.blocks, 1):
            tree[i] += len(block)
            parent = i + (i & -i)
            if parent < len(tree):
                tree[parent] += tree[i]
        self.tree = tree

    def _grow(self, i: int, delta: int) -> None:
        tree = self.tree
        i += 1
        while i < len(tree):
            tree[i] += delta
            i += i & -i

    def count_below(self, x: float) -> int:
        """How many values are strictly less than x."""
        if len(self.blocks) == 1:  # most histories: one block, no tree to walk
            return bisect_left(self.blocks[0], x)
        i = bisect_left(self.maxes, x)
        if i == len(self.maxes):
            return self.n
        below = bisect_left(self.blocks[i], x)
        tree = self.tree
        while i:
            below += tree[i]
            i &= i - 1
        return below

    def add(self, x: float) -> None:
        self.n += 1
        blocks = self.blocks
        if not blocks:
            blocks.append([x])
            self._reindex()
            return
        if len(blocks) == 1 and len(blocks[0]) < 2 * self.LOAD:  # one block that stays one: no search, no tree walk
            block = blocks[0]
            insort(block, x)
            self.maxes[0] = block[-1]
            self.tree[1] += 1
            return
        i = min(bisect_left(self.maxes, x), len(blocks) - 1)
        block = self.blocks[i]
        insort(block, x)
        self.maxes[i] = block[-1]
        if len(block) > 2 * self.LOAD:
            self.blocks[i:i + 1] = [block[:self.LOAD], block[self.LOAD:]]
            self._reindex()
        else:
            self._grow(i, 1)

    def remove(self, x: float) -> None:
        """Remove one value equal to x, which must be present."""
        self.n -= 1
        i = bisect_left(self.maxes, x) if len(self.blocks) > 1 else 0
        block = self.blocks[i]
        del block[bisect_left(block, x)]
        if block:
            self.maxes[i] = block[-1]
            self._grow(i, -1)
        else:
            del self.blocks[i]
            self._reindex()

    def values(self) -> list[float]:
        return [x for block in self.blocks for x in block]


class _Expiry:
    """An entity's windowed history as (event time, value) pairs, the oldest leaving first.

    Records usually arrive in time order, so the pairs are kept as two arrays in arrival order
    (16 bytes a pair, where a heap of tuples took ~100) from `start` on. The first record that
    would break the order, or whose time is not an int64, turns them into a min-heap of
    (time, value) tuples for good; both expire exactly the pairs at or before a cutoff.
    """

    __slots__ = ("stamps", "values", "start", "heap")

    def __init__(self) -> None:
        self.stamps = array("q")
        self.values = array("d")
        self.start = 0
        self.heap: list | None = None

    def push(self, ts: int | float, x: float) -> None:
        heap = self.heap
        if heap is None:
            stamps = self.stamps
            if ts.__class__ is int and (len(stamps) == self.start or ts >= stamps[-1]):
                try:
                    stamps.append(ts)
                except OverflowError:
                    pass
                else:
                    self.values.append(x)
                    return
            heap = self._to_heap()
        heappush(heap, (ts, x))

    def _to_heap(self) -> list:
        heap = self.heap = self.pairs()
        self.stamps, self.values, self.start = array("q"), array("d"), 0
        return heap

    def expire(self, cutoff: int | float, model) -> None:
        """Remove from `model` and from here every pair whose time is at or before cutoff."""
        heap = self.heap
        if heap is not None:
            while heap and heap[0][0] <= cutoff:
                model.remove(heappop(heap)[1])
            return
        stamps, start = self.stamps, self.start
        end = len(stamps)
        if start < end and stamps[start] <= cutoff:
            values = self.values
            while start < end and stamps[start] <= cutoff:
                model.remove(values[start])
                start += 1
            self.drop(start - self.start)

    def drop(self, count: int) -> None:
        """Forget the `count` oldest pairs (in order only); the arrays shrink once half is gone."""
        start = self.start = self.start + count
        if start * 2 >= len(self.stamps):
            del self.stamps[:start]
            del self.values[:start]
            self.start = 0

    def in_order(self) -> bool:
        """Whether the pairs are in arrays in time order, turning a heap back into them if its times
        are all int64."""
        heap = self.heap
        if heap is None:
            return True
        heap.sort()
        try:
            stamps = array("q", [ts for ts, _ in heap])
        except (OverflowError, TypeError):
            return False
        self.stamps, self.values, self.start, self.heap = stamps, array("d", [x for _, x in heap]), 0, None
        return True

    def pairs(self) -> list[tuple]:
        """The (time, value) pairs, sorted."""
        if self.heap is not None:
            return sorted(self.heap)
        start = self.start
        return sorted(zip(self.stamps[start:], self.values[start:]))

    def state(self) -> dict:
        """{"times": [...], "values": [...]} in time order: two flat lists, not a list per pair, so a
        checkpoint of a long history builds two objects per pair, not five."""
        if self.heap is not None:
            heap = sorted(self.heap)
            return {"times": [encode_key(ts) for ts, _ in heap], "values": [encode_key(x) for _, x in heap]}
        start = self.start
        values = self.values[start:].tolist()
        if not all(map(math.isfinite, values)):
            values = [encode_key(x) for x in values]
        return {"times": self.stamps[start:].tolist(), "values": values}

    @classmethod
    def from_state(cls, data: dict | list) -> _Expiry:
        """From state(), or from a list of [time, value] pairs (state files of version 1)."""
        pairs = zip(data["times"], data["values"]) if isinstance(data, dict) else data
        self = cls()
        for ts, x in pairs:
            self.push(decode_key(ts), decode_key(x))
        return self


def _scaled_ratio(num: int, den: int, exp: int) -> float:
    """num·2**exp / den rounded once (Python's int / int is correctly rounded)."""
    try:
        return (num << exp) / den if exp >= 0 else num / (den << -exp)
    except OverflowError:
        return _INF if num > 0 else -_INF


# An entity's rows go through `_score_quantile_in_order` together when there are at least this many
# in the batch (fewer cost more to set up than the loop takes) and its history holds at most this many
# values per row (a longer one costs more to copy and sort than the loop's binary searches), and a
# batch does when at least _VECTOR_MIN_BATCH rows are in such entities (the set-up of a batch costs
# about what the loop takes for a few hundred rows).
_VECTOR_MIN_ROWS = 16
_VECTOR_MAX_HISTORY_PER_ROW = 8
_VECTOR_MIN_BATCH = 1024

_NO_VALUES = np.empty(0, dtype=np.float64)


def _scored_rows(values: list, stamps: list) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The rows a model scores (an int or non-NaN float value, an int timestamp) with their values
    as doubles and times as int64; None if a row has a float timestamp (only the loop takes those),
    a number is beyond double or int64 range, or no row is scored."""
    value_kinds, stamp_kinds = set(map(type, values)), set(map(type, stamps))
    try:
        if value_kinds <= {float, int} and stamp_kinds == {int}:  # the usual batch: no per-row test
            xs, times = np.array(values, dtype=np.float64), np.array(stamps, dtype=np.int64)
            rows = np.flatnonzero(~np.isnan(xs))
            return (rows, xs[rows], times[rows]) if len(rows) else None
        if float in stamp_kinds and any(ts.__class__ is float and ts == ts for ts in stamps):
            return None
        rows = [row for row, (x, ts) in enumerate(zip(values, stamps))
                if ts.__class__ is int and (x.__class__ is float and x == x or x.__class__ is int)]
        if not rows:
            return None
        return (np.array(rows, dtype=np.int64), np.array([values[row] for row in rows], dtype=np.float64),
                np.array([stamps[row] for row in rows], dtype=np.int64))
    except OverflowError:  # an int beyond double or int64 range: as the loop treats it
        return None


def _entity_numbers(entities: list) -> tuple[np.ndarray, dict]:
    """Each row's entity as a number, and the entity keys (as `_model_inputs` makes them) in order of
    first appearance, each with its number."""
    if not set(map(type, entities)) <= {str, type(None)}:
        entities = [e if e is None or e.__class__ is str else hashable(e) for e in entities]
    keys = dict.fromkeys(entities)
    for number, key in enumerate(keys):
        keys[key] = number
    return np.fromiter(map(keys.__getitem__, entities), dtype=np.int64, count=len(entities)), keys


def _count_below(ranks: np.ndarray, starts: np.ndarray, ends: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """For each query i, how many of ranks[starts[i]:ends[i]] are below bounds[i] (ranks and bounds
    non-negative integers).

    A wavelet matrix: bit by bit from the highest, the ranks are stably split into those with the
    bit clear and those with it set, and each query's range follows its bound's bit into one part,
    counting the other part's members when they are below. Every query moves at once, so the cost
    is a few array passes over ranks and queries per bit.
    """
    below = np.zeros(len(starts), dtype=np.int64)
    level = ranks
    clear_before = np.zeros(len(ranks) + 1, dtype=np.int64)
    for bit in reversed(range(max(int(ranks.max(initial=0)), int(bounds.max(initial=0))).bit_length())):
        mask = 1 << bit
        is_clear = (level & mask) == 0
        np.cumsum(is_clear, out=clear_before[1:])
        clear = clear_before[-1]
        clear_start, clear_end = clear_before[starts], clear_before[ends]
        up = (bounds & mask) != 0
        below += np.where(up, clear_end - clear_start, 0)
        starts = np.where(up, starts + (clear - clear_start), clear_start)
        ends = np.where(up, ends + (clear - clear_end), clear_end)
        level = np.concatenate((level[is_clear], level[~is_clear]))
    return below


def _sorted_array(history: _SortedValues | np.ndarray) -> np.ndarray:
    return history if history.__class__ is np.ndarray else np.fromiter(
        chain.from_iterable(history.blocks), dtype=np.float64, count=history.n)


def _sorted_list(history: _SortedValues | np.ndarray) -> list[float]:
    return history.tolist() if history.__class__ is np.ndarray else history.values()


def _negative_zero_in(values: list) -> bool:
    # `in` compares in C (and finds 0.0 and -0.0 alike); the scan runs only when a zero is there
    return 0.0 in values and any(x.__class__ is float and x == 0.0 and math.copysign(1.0, x) < 0.0 for x in values)


def _model_inputs(rows: Iterable[tuple[Any, Any, Any]]) -> Iterator[tuple[Any, float | None, Any]]:
    """(entity key, value, timestamp) of each (entity, value, timestamp) row; the value None where the
    record scores null: a value that is not an int or a non-NaN float (a bool is neither), or a
    timestamp that is not one. The key is hashable(entity) for anything but text or null. The checks
    are written out here rather than called: both scoring loops run this once per record."""
    for entity, x, ts in rows:
        kind = x.__class__
        if kind is int:
            x = float(x)
        elif kind is not float or x != x:
            yield None, None, None
            continue
        kind = ts.__class__
        if not (kind is int or (kind is float and ts == ts)):
            yield None, None, None
            continue
        yield (entity if entity is None or entity.__class__ is str else hashable(entity)), x, ts


class AdaptiveThreshold:
    """Per-entity outlier labels against the history in an event-time window (spec 8.3).

    window_ms None or <= 0 means an unbounded history; threshold None or NaN means the
    per-algorithm default (0.01 gaussian, 0.1 quantile), applied to each tail.
    """

    ALGORITHMS = {"gaussian": 0.01, "quantile": 0.1}

    def __init__(self, algorithm: str = "gaussian", window_ms: int | None = None,
                 threshold: float | None = None) -> None:
        if algorithm not in self.ALGORITHMS:
            raise ValueError(f"unknown adaptive_threshold algorithm {algorithm!r}")
        self.algorithm = algorithm
        self.window_ms = window_ms if window_ms is not None and window_ms > 0 else None
        if threshold is None or threshold != threshold:
            threshold = self.ALGORITHMS[algorithm]
        self.threshold = threshold
        self._watermark: int | float | None = None
        # gaussian: key -> _Moments; quantile: key -> the sorted history, as a _SortedValues, or as a
        # float64 array where `_score_quantile_in_order` left it (`_history` makes that a _SortedValues).
        self._models: dict[Any, Any] = {}
        # Only with a window: key -> the entity's (ts, x) pairs, oldest event time leaving first.
        self._expiries: dict[Any, _Expiry] = {}
        # Whether a -0.0 may be in a quantile history. A sorted list keeps 0.0 and -0.0 in the order
        # its inserts and removals left them, which only the record-by-record loop reproduces, so
        # from then on every batch takes that loop (`_score_quantile_in_order` rebuilds histories).
        self._signed_zero = False

    def score(self, entities: Sequence | None, values: Sequence,
              timestamps: Sequence) -> dict[str, list]:
        if self.algorithm == "gaussian" and entities is None:
            scored = self._score_gaussian_in_order(as_list(values), as_list(timestamps))
            if scored is not None:
                return scored
        if self.algorithm == "gaussian":
            entities = repeat(None) if entities is None else as_list(entities)
            return self._score_gaussian(zip(entities, as_list(values), as_list(timestamps)))
        entities = None if entities is None else as_list(entities)
        values, timestamps = as_list(values), as_list(timestamps)
        if not self._signed_zero:
            scored = self._score_quantile_in_order(entities, values, timestamps)
            if scored is not None:
                return scored
            self._signed_zero = _negative_zero_in(values)
        return self._score_quantile(zip(repeat(None) if entities is None else entities, values, timestamps))

    def _score_gaussian_in_order(self, values: list, stamps: list) -> dict[str, list] | None:
        """_score_gaussian for one model over records whose integer timestamps never go back (the
        usual stream), from prefix sums over the batch instead of a history kept record by record;
        None if the batch does not qualify.

        In order, expiry only ever drops the oldest: record i's history is the model's entries and
        the batch's rows before i, less those of the first expired[i] (entries, then rows) that have
        left by its watermark. Sums are integers at one scale 2**scale, so mean and variance are the
        same correctly rounded quotients of the same exact sums that _Moments gives, and the label
        follows from them by the same floating-point steps.
        """
        scored_rows = _scored_rows(values, stamps)
        if scored_rows is None:
            return None
        rows, xs, times = scored_rows
        rows = rows.tolist()
        model = self._models.get(None) or _Moments()
        window, watermark = self.window_ms, self._watermark
        if ((watermark is not None and times[0] < watermark) or (times[1:] < times[:-1]).any()
                or (window is not None and int(times[0]) - window < _INT64_MIN)
                or not np.isfinite(xs).all() or model.pos_inf or model.neg_inf):
            return None
        history = self._expiries.setdefault(None, _Expiry()) if window is not None else _Expiry()
        if not history.in_order():
            return None
        start = history.start
        if window is None:
            leaving, expired = 0, np.zeros(len(rows), dtype=np.int64)
        else:
            cutoffs = times - window
            # the entries that expire in this batch
            leaving = bisect_right(history.stamps, int(cutoffs[-1]), start) - start
            stamps_left = np.array(history.stamps[start:start + leaving], dtype=np.int64)
            expired = np.searchsorted(np.concatenate((stamps_left, times)), cutoffs, side="right")
        # Each x as m * 2**e with an integer m (frexp is exact), summed at the smallest e.
        values_left = np.array(history.values[start:start + leaving], dtype=np.float64)
        mantissas, exponents = np.frexp(np.concatenate((values_left, xs)))
        integers = (mantissas * 2.0**53).astype(np.int64)
        exponents = exponents.astype(np.int64) - 53
        used = exponents[integers != 0]
        scale = min(int(used.min()) if len(used) else 0, model.exp if model.n else 0, 0)
        shifts = np.where(integers != 0, exponents - scale, 0).tolist()
        integers = integers.tolist()
        sums = [0, *accumulate(map(int.__lshift__, integers, shifts))]
        squares = [0, *accumulate((m * m) << 2 * shift for m, shift in zip(integers, shifts))]
        base_sum = (model.s << (model.exp - scale) if model.n else 0) - sums[leaving]
        base_squares = (model.q << 2 * (model.exp - scale) if model.n else 0) - squares[leaving]
        unit, square_unit = 1 << -scale, 1 << -2 * scale
        scored, means, variances = [], [], []
        for i, gone in enumerate(expired.tolist()):
            n = model.n + i - gone
            if n:
                s = base_sum + sums[leaving + i] - sums[gone]
                spread = n * (base_squares + squares[leaving + i] - squares[gone]) - s * s
                try:
                    mean, variance = s / (n * unit), spread / (n * n * square_unit)
                except OverflowError:
                    mean, variance = _scaled_ratio(s, n, scale), _scaled_ratio(spread, n * n, 2 * scale)
                scored.append(i)
                means.append(mean)
                variances.append(variance)
        count, last = len(values), len(rows)
        gone = int(expired[-1])
        model.n += last - gone
        model.s = base_sum + sums[leaving + last] - sums[gone]
        model.q = base_squares + squares[leaving + last] - squares[gone]
        model.exp = scale
        self._models[None] = model
        self._watermark = int(times[-1])
        if window is not None:
            history.drop(leaving)
            # In time order and never before the history's last (checked above against the watermark).
            history.stamps.extend(times[gone - leaving:].tolist())
            history.values.extend(xs[gone - leaving:].tolist())
        out_means: list[float | None] = [None] * count
        out_variances: list[float | None] = [None] * count
        labels = [False] * count
        if scored:
            # IEEE, as Python's float arithmetic: x/0 (a step away from a constant history) is
            # infinitely far, 0/0 NaN, and a result beyond range infinite.
            with np.errstate(all="ignore"):
                diff = xs[scored] - np.array(means)
                sd = np.sqrt(np.array(variances))
                z = np.where(sd == 0.0, np.sign(diff) * _INF, diff / sd)
            erfc, t = math.erfc, self.threshold
            upper = 1.0 - t
            for i, mean, variance, zi in zip(scored, means, variances, z.tolist()):
                p = 0.5 * erfc(-zi / _SQRT2)
                row = rows[i]
                out_means[row], out_variances[row], labels[row] = mean, variance, p < t or p > upper
        return {"mean": out_means, "variance": out_variances, "label": labels}

    def _score_quantile_in_order(self, entities: list | None, values: list,
                                 stamps: list) -> dict[str, list] | None:
        """_score_quantile over records whose integer timestamps never go back (the usual stream), all
        of an entity's rows at once; None if the batch does not qualify.

        In order, record p's history is a run of its entity's sequence (the history's pairs, then
        the batch's rows): from the first pair still inside p's window up to p. A binary search over
        the times finds where each run starts, and one `_count_below` over all entities' sequences
        counts the values of each run strictly below its record's. Only the pairs that leave during
        the batch join the sequence: those that stay are in every run, and a binary search in them,
        sorted, counts them. An entity with few rows in the batch, or a history much longer than them,
        takes the loop (its set-up here, or copying its history, would cost more than the loop).
        """
        window, watermark = self.window_ms, self._watermark
        if (len(values) < _VECTOR_MIN_BATCH or not (window is None or window.__class__ is int)
                or not (watermark is None or watermark.__class__ is int)):
            return None
        scored_rows = _scored_rows(values, stamps)
        if scored_rows is None:
            return None
        rows, xs, times = scored_rows
        zeros = xs == 0.0
        if ((watermark is not None and times[0] < watermark) or (times[1:] < times[:-1]).any()
                or (window is not None and int(times[0]) - window < _INT64_MIN)
                or (zeros.any() and np.signbit(xs[zeros]).any())):
            return None
        if entities is None:
            codes, keys = np.zeros(len(rows), dtype=np.int64), {None: 0}
        elif len(rows) == len(entities):
            codes, keys = _entity_numbers(entities)
        else:
            codes, keys = _entity_numbers(list(map(entities.__getitem__, rows.tolist())))
        counts = np.bincount(codes).tolist()
        models, expiries = self._models, self._expiries
        at_once = []
        for key, count in zip(keys, counts):
            model = models.get(key)
            held = 0 if model is None else len(model) if model.__class__ is np.ndarray else model.n
            expiry = expiries.get(key) if window is not None and model is not None else None
            at_once.append(count >= _VECTOR_MIN_ROWS and held <= _VECTOR_MAX_HISTORY_PER_ROW * count
                           and (model is None or window is None or (expiry is not None and expiry.in_order())))
        if sum(count for count, chosen in zip(counts, at_once) if chosen) < _VECTOR_MIN_BATCH:
            return None
        by_entity = np.argsort(codes, kind="stable")
        entity_ends = np.cumsum(counts).tolist()
        looped = []  # the rows (positions in `rows`) of the entities the loop scores
        runs = []  # per entity scored here: (key, rows, expiry, sorted staying values, window starts, held)
        sequence, run_starts, run_ends = [], [], []
        offset = 0
        for key, first, last, chosen in zip(keys, [0, *entity_ends], entity_ends, at_once):
            members = by_entity[first:last]
            model = models.get(key)
            if model is None:  # new entities join the state in order of first appearance, as in the loop
                model = models[key] = _NO_VALUES
                if window is not None:
                    expiries[key] = _Expiry()
            if not chosen:
                looped.append(members)
                continue
            expiry = expiries.get(key) if window is not None else None
            count = last - first
            if expiry is None:
                window_starts = np.zeros(count, dtype=np.int64)
                leaving, staying = _NO_VALUES, _sorted_array(model)
            else:
                ts = times[members]
                start = expiry.start
                held_stamps = np.frombuffer(expiry.stamps[start:], dtype=np.int64)
                window_starts = np.searchsorted(np.concatenate((held_stamps, ts)), ts - window, side="right")
                held_values = np.frombuffer(expiry.values[start:], dtype=np.float64)
                gone = min(int(window_starts[-1]), len(held_values))
                leaving, staying = held_values[:gone], np.sort(held_values[gone:])
            # Each row's run, in the entity's sequence of leaving pairs then rows: from its window's
            # start (among the pairs, or among the rows once every pair has left) up to the row.
            sequence += (leaving, xs[members])
            run_starts.append(offset + window_starts)
            run_ends.append(np.arange(offset + len(leaving), offset + len(leaving) + count))
            runs.append((key, members, expiry, staying, window_starts, len(leaving) + len(staying)))
            offset += len(leaving) + count
        quantiles = np.full(len(values), None, dtype=object)
        labels = np.zeros(len(values), dtype=bool)
        ranks = np.unique(np.concatenate(sequence), return_inverse=True)[1].reshape(-1)
        ends = np.concatenate(run_ends)
        in_runs = _count_below(ranks, np.concatenate(run_starts), ends, ranks[ends])  # below each row's own value
        run_lengths = np.empty(len(ends), dtype=np.int64)
        position = 0
        for key, members, expiry, staying, window_starts, held in runs:
            count = len(members)
            share = slice(position, position + count)
            position += count
            x = xs[members]
            in_runs[share] += np.searchsorted(staying, x, side="left")
            run_lengths[share] = np.arange(held, held + count) - window_starts
            if expiry is not None:
                expiry.stamps.frombytes(times[members].tobytes())
                expiry.values.frombytes(x.tobytes())
                expiry.drop(int(window_starts[-1]))
                x = x[max(int(window_starts[-1]) - held, 0):]  # the rows still in the window
            models[key] = np.sort(np.concatenate((staying, x)), kind="stable")  # merges the sorted part
        numbers = rows[np.concatenate([members for _, members, *_ in runs])]
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.where(run_lengths > 0, in_runs / run_lengths, 0.0)  # an empty history gives 0
        quantiles[numbers] = q
        labels[numbers] = (q < self.threshold) | (q > 1.0 - self.threshold)
        if looped:
            # in row order, so that the watermark the loop advances is each record's time, as in the loop
            numbers = rows[np.sort(np.concatenate(looped))]
            scored_here = self._score_quantile(
                ((None if entities is None else entities[row], values[row], stamps[row]) for row in numbers.tolist()))
            quantiles[numbers] = scored_here["quantile"]
            labels[numbers] = scored_here["label"]
        if watermark is None or times[-1] > watermark:
            self._watermark = int(times[-1])
        return {"quantile": quantiles.tolist(), "label": labels.tolist()}

    def _history(self, key: Any, ts: int | float, new_model) -> tuple[Any, _Expiry | None, bool]:
        """Advance the watermark and expire the entity's history.

        Returns the entity's model (_Moments or _SortedValues), its _Expiry (None without a
        window) and whether the record joins the history after being scored.
        """
        wm = self._watermark
        if wm is None or ts > wm:
            wm = self._watermark = ts
        model = self._models.get(key)
        if model.__class__ is np.ndarray:
            model = self._models[key] = _SortedValues(model.tolist())
        window = self.window_ms
        if window is None:
            if model is None:
                model = self._models[key] = new_model()
            return model, None, True
        cutoff = wm - window
        expiry = self._expiries.get(key)
        if expiry is None:
            if ts <= cutoff:
                return new_model(), None, False
            model = self._models[key] = new_model()
            expiry = self._expiries[key] = _Expiry()
        else:
            expiry.expire(cutoff, model)
        return model, expiry, ts > cutoff

    def _score_gaussian(self, rows) -> dict[str, list]:
        t = self.threshold
        upper = 1.0 - t
        means: list[float | None] = []
        variances: list[float | None] = []
        labels: list[bool] = []
        history, erfc, sqrt = self._history, math.erfc, math.sqrt
        for key, x, ts in _model_inputs(rows):
            if x is None:
                means.append(None)
                variances.append(None)
                labels.append(False)
                continue
            model, expiry, keep = history(key, ts, _Moments)
            if model.n == 0:
                means.append(None)
                variances.append(None)
                labels.append(False)
            else:
                mean, variance = model.mean_and_variance()
                sd = sqrt(variance)
                diff = x - mean
                if sd == 0.0:
                    # IEEE x/0: a step away from a constant history is infinitely far.
                    z = _INF if diff > 0 else -_INF if diff < 0 else math.nan
                else:
                    z = diff / sd
                p = 0.5 * erfc(-z / _SQRT2)
                means.append(mean)
                variances.append(variance)
                labels.append(p < t or p > upper)
            if keep:
                model.add(x)
                if expiry is not None:
                    expiry.push(ts, x)
        return {"mean": means, "variance": variances, "label": labels}

    def _score_quantile(self, rows) -> dict[str, list]:
        t = self.threshold
        upper = 1.0 - t
        quantiles: list[float | None] = []
        labels: list[bool] = []
        history_of = self._history
        for key, x, ts in _model_inputs(rows):
            if x is None:
                quantiles.append(None)
                labels.append(False)
                continue
            history, expiry, keep = history_of(key, ts, _SortedValues)
            n = history.n
            # Fraction of earlier values strictly below x; an empty history gives 0.
            q = history.count_below(x) / n if n else 0.0
            quantiles.append(q)
            labels.append(q < t or q > upper)
            if keep:
                history.add(x)
                if expiry is not None:
                    expiry.push(ts, x)
        return {"quantile": quantiles, "label": labels}

    def state_dict(self) -> dict:
        gaussian = self.algorithm == "gaussian"
        models = []
        for key, model in self._models.items():
            expiry = self._expiries.get(key)
            models.append([
                encode_key(key),
                model.to_state() if gaussian else [encode_key(x) for x in _sorted_list(model)],
                None if expiry is None else expiry.state(),
            ])
        return {
            "algorithm": self.algorithm,
            "window_ms": self.window_ms,
            "threshold": encode_key(self.threshold),
            "watermark": encode_key(self._watermark),
            "models": models,
        }

    @classmethod
    def from_state_dict(cls, d: dict) -> AdaptiveThreshold:
        self = cls(d["algorithm"], d["window_ms"], decode_key(d["threshold"]))
        self._watermark = decode_key(d["watermark"])
        gaussian = self.algorithm == "gaussian"
        for key, model, history in d["models"]:
            key = decode_key(key)
            if gaussian:
                self._models[key] = _Moments.from_state(model)
            else:
                values = [decode_key(x) for x in model]
                self._models[key] = _SortedValues(values)
                self._signed_zero = self._signed_zero or _negative_zero_in(values)
            if history is not None:
                self._expiries[key] = _Expiry.from_state(history)
        return self
