"""Event-time window aggregation for `stats ... BY ..., span(ts, size[, slide[, grace]])` (spec 5.7)."""
from __future__ import annotations

import math
from heapq import heapify, heappop, heappush
from itertools import repeat
from typing import Any, Callable, NamedTuple, Sequence

from spl_lite.runtime.streaming_ml import as_list, decode_key, encode_key
from spl_lite.values import hashable


def _unhash(key: Any) -> Any:
    """The value a `values.hashable` key was made from (lists and maps come back as new objects)."""
    if type(key) is tuple:
        tag, payload = key
        if tag == "\0list":
            return [_unhash(v) for v in payload]
        if tag == "\0map":
            return {k: _unhash(v) for k, v in payload}
        return payload
    return key


def _encode_value(value: Any) -> Any:
    return encode_key(hashable(value))


def _decode_value(data: Any) -> Any:
    return _unhash(decode_key(data))


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


def _count(slot: int, value: Any) -> int:
    return slot if value is None else slot + 1


def _sum(slot: Any, value: Any) -> Any:
    # Non-numbers (strings, booleans) are skipped like nulls; int + int stays int.
    if not _is_number(value):
        return slot
    return value if slot is None else slot + value


def _avg(slot: list | None, value: Any) -> list | None:
    if not _is_number(value):
        return slot
    if slot is None:
        return [value, 1]
    slot[0] += value
    slot[1] += 1
    return slot


def _avg_final(slot: list | None) -> float | None:
    return None if slot is None else slot[0] / slot[1]


def _min(slot: Any, value: Any) -> Any:
    # Numbers rank before strings (SPL's "numeric if any value is numeric"); other types and NaN
    # don't take part. Ties keep the first value seen.
    kind = type(value)
    if kind is int or kind is float:
        if value != value:
            return slot
        if slot is None or type(slot) is str or value < slot:
            return value
    elif kind is str and (slot is None or (type(slot) is str and value < slot)):
        return value
    return slot


def _max(slot: Any, value: Any) -> Any:
    kind = type(value)
    if kind is int or kind is float:
        if value != value:
            return slot
        if slot is None or type(slot) is str or value > slot:
            return value
    elif kind is str and (slot is None or (type(slot) is str and value > slot)):
        return value
    return slot


def _distinct(slot: dict, value: Any) -> dict:
    # A dict used as an ordered set, so that state_dict is the same bytes on every run.
    if value is not None:
        slot[hashable(value)] = None
    return slot


def _values(slot: dict, value: Any) -> dict:
    if value is not None:
        slot.setdefault(hashable(value), value)
    return slot


def _first(slot: Any, value: Any) -> Any:
    return value if slot is None else slot


def _last(slot: Any, value: Any) -> Any:
    return slot if value is None else value


def _same(x: Any) -> Any:
    return x


class _Aggregation(NamedTuple):
    init: Callable[[], Any]
    update: Callable[[Any, Any], Any]
    final: Callable[[Any], Any]
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]
    doc: str = ""  # what it computes, for `spl-lite functions` and docs/functions.md


def _none() -> None:
    return None


_DISTINCT = _Aggregation(
    dict, _distinct, len,
    lambda slot: [encode_key(k) for k in slot],
    lambda data: dict.fromkeys(map(decode_key, data)),
)
_KEEP_VALUE = (_encode_value, _decode_value)

AGGREGATIONS: dict[str, _Aggregation] = {
    "count": _Aggregation(int, _count, _same, _same, _same,
                          "records whose argument is not null; count() counts every record"),
    "sum": _Aggregation(_none, _sum, _same, encode_key, decode_key,
                        "sum of the numbers (an integer when all are); nulls and non-numbers skipped; null when none"),
    "avg": _Aggregation(
        _none, _avg, _avg_final,
        lambda slot: None if slot is None else [encode_key(slot[0]), slot[1]],
        lambda data: None if data is None else [decode_key(data[0]), data[1]],
        "mean of the numbers, a double; null when there are none",
    ),
    "min": _Aggregation(_none, _min, _same, *_KEEP_VALUE,
                        "smallest value, numbers before strings, the value's own type; null when all are null"),
    "max": _Aggregation(_none, _max, _same, *_KEEP_VALUE,
                        "largest value, numbers before strings, the value's own type; null when all are null"),
    # Distinct counts are exact: estdc's documented ~1.5 % error allows the exact answer.
    "estdc": _DISTINCT._replace(doc="number of distinct non-null values (exact, within DSP's estimate)"),
    "dc": _DISTINCT._replace(doc="number of distinct non-null values"),
    "distinct_count": _DISTINCT._replace(doc="number of distinct non-null values"),
    "values": _Aggregation(
        dict, _values, lambda slot: list(slot.values()),
        lambda slot: [encode_key(k) for k in slot],
        lambda data: {k: _unhash(k) for k in map(decode_key, data)},
        "list of the distinct non-null values, in first-seen order",
    ),
    "first": _Aggregation(_none, _first, _same, *_KEEP_VALUE, "first non-null value in arrival order"),
    "last": _Aggregation(_none, _last, _same, *_KEEP_VALUE, "last non-null value in arrival order"),
}


def _event_time(value: Any) -> int | None:
    """Epoch milliseconds as an int; fractional doubles are floored, anything else is no time."""
    kind = type(value)
    if kind is int:
        return value
    if kind is float and math.isfinite(value):
        return math.floor(value)
    return None


class WindowedAggregation:
    """Aggregates per (window, group) pane; emits a window once max event time >= end + grace.

    Windows are [k*slide, k*slide + size); slide None (or = size) gives tumbling windows.
    `process` and `flush` return rows: group values, aggregate values (in `aggregations`
    order, aggregation i reading value column i), window_start, window_end, window_trigger.
    """

    def __init__(self, size_ms: int, slide_ms: int | None, grace_ms: int | None,
                 group_count: int, aggregations: Sequence[tuple[str, str]]) -> None:
        slide_ms = size_ms if slide_ms is None else slide_ms
        grace_ms = 0 if grace_ms is None else grace_ms
        if size_ms <= 0 or not 0 < slide_ms <= size_ms or grace_ms < 0:
            raise ValueError(
                f"bad window: size {size_ms} ms, slide {slide_ms} ms, grace {grace_ms} ms "
                "(need size > 0, 0 < slide <= size, grace >= 0)")
        unknown = [name for name, _ in aggregations if name not in AGGREGATIONS]
        if unknown:
            raise ValueError(f"unknown stats aggregation {unknown[0]!r}")
        self.size_ms = size_ms
        self.slide_ms = slide_ms
        self.grace_ms = grace_ms
        self.group_count = group_count
        self.aggregations = [(name, output) for name, output in aggregations]
        self._aggs = [AGGREGATIONS[name] for name, _ in aggregations]
        self.late_records = 0
        self.null_time_records = 0
        self._watermark: int | None = None
        # window_end -> {group key: slots}; dict order is the order groups first entered the window.
        self._open: dict[int, dict[tuple, list]] = {}
        self._ends: list[int] = []  # min-heap of the keys of _open

    def process(self, timestamps: Sequence, groups: Sequence[Sequence],
                values: Sequence[Sequence], triggers: list[int] | None = None) -> list[tuple]:
        """Rows of the windows this input closed. `triggers`, when given, receives for each row
        the position of the input record whose event time closed its window."""
        if len(groups) != self.group_count or len(values) != len(self._aggs):
            raise ValueError(
                f"expected {self.group_count} group and {len(self._aggs)} value columns, "
                f"got {len(groups)} and {len(values)}")
        group_rows = zip(*map(as_list, groups)) if groups else repeat(())
        value_rows = zip(*map(as_list, values)) if values else repeat(())
        size, slide, grace = self.size_ms, self.slide_ms, self.grace_ms
        inits = [agg.init for agg in self._aggs]
        updates = list(enumerate(agg.update for agg in self._aggs))
        open_windows, ends = self._open, self._ends
        wm = self._watermark
        out: list[tuple] = []
        for position, (ts, group, row) in enumerate(zip(as_list(timestamps), group_rows, value_rows)):
            ts = _event_time(ts)
            if ts is None:
                self.null_time_records += 1
                continue
            advanced = wm is None or ts > wm
            if advanced:
                wm = ts
            key = tuple(map(hashable, group))
            placed = False
            start = ts - ts % slide
            while start > ts - size:
                end = start + size
                # A window already emitted (end + grace <= wm) must not be reopened.
                if end + grace > wm:
                    panes = open_windows.get(end)
                    if panes is None:
                        panes = open_windows[end] = {}
                        heappush(ends, end)
                    slots = panes.get(key)
                    if slots is None:
                        slots = panes[key] = [init() for init in inits]
                    for j, update in updates:
                        slots[j] = update(slots[j], row[j])
                    placed = True
                start -= slide
            if not placed:
                self.late_records += 1
            elif advanced:
                emitted = len(out)
                self._emit(wm - grace, out)
                if triggers is not None:
                    triggers.extend([position] * (len(out) - emitted))
        self._watermark = wm
        return out

    def flush(self) -> list[tuple]:
        """Emit every open window (end of input)."""
        out: list[tuple] = []
        if self._ends:
            self._emit(max(self._ends), out)
        return out

    def _emit(self, last_end: int, out: list[tuple]) -> None:
        """Append the rows of every window with end <= last_end, by end, then group order."""
        ends, open_windows = self._ends, self._open
        finals = [agg.final for agg in self._aggs]
        size = self.size_ms
        while ends and ends[0] <= last_end:
            end = heappop(ends)
            start = end - size
            for key, slots in open_windows.pop(end).items():
                out.append((
                    *map(_unhash, key),
                    *[final(slot) for final, slot in zip(finals, slots)],
                    start, end, end - 1,
                ))

    def state_dict(self) -> dict:
        encoders = [agg.encode for agg in self._aggs]
        return {
            "size_ms": self.size_ms,
            "slide_ms": self.slide_ms,
            "grace_ms": self.grace_ms,
            "group_count": self.group_count,
            "aggregations": [list(a) for a in self.aggregations],
            "watermark": self._watermark,
            "late_records": self.late_records,
            "null_time_records": self.null_time_records,
            "windows": [
                [end, [[encode_key(key), [enc(s) for enc, s in zip(encoders, slots)]]
                       for key, slots in self._open[end].items()]]
                for end in sorted(self._open)
            ],
        }

    @classmethod
    def from_state_dict(cls, d: dict) -> WindowedAggregation:
        self = cls(d["size_ms"], d["slide_ms"], d["grace_ms"], d["group_count"],
                   [tuple(a) for a in d["aggregations"]])
        self._watermark = d["watermark"]
        self.late_records = d["late_records"]
        self.null_time_records = d["null_time_records"]
        decoders = [agg.decode for agg in self._aggs]
        for end, panes in d["windows"]:
            self._open[end] = {
                decode_key(key): [dec(s) for dec, s in zip(decoders, slots)] for key, slots in panes
            }
        self._ends = list(self._open)
        heapify(self._ends)
        return self
