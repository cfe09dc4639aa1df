"""Columnar batches: the unit in which records flow between operators."""
from __future__ import annotations

from itertools import chain, repeat
from operator import contains
from typing import Iterator

import numpy as np


def null_column(length: int) -> np.ndarray:
    return np.full(length, None, dtype=object)


def object_column(values) -> np.ndarray:
    """A column from a sequence of Python values; lists stay values (numpy would make them a 2-D array)."""
    if isinstance(values, np.ndarray) and values.dtype == object or values.__class__ is DeferredColumn \
            or isinstance(values, MapsView):
        return values
    return np.fromiter(values, dtype=object, count=len(values))


class KnownColumn(np.ndarray):
    """An object column that also carries what numpy cannot know about its values: `kinds`, the
    Python types that may occur in it, and a dictionary encoding, `distinct[codes]` being its values.

    It is an ordinary object array to everything else. Operators that can use the facts do:
    `ucast` skips its type check when `kinds` says every value passes, conditional_anomaly's
    counters and string membership tests work per distinct value, the workers send the encoding
    as it is. Only `known()`, `coded()` and `take_rows()` vouch for facts: any array numpy derives
    from a KnownColumn (a slice, a comparison) has none. `distinct` may hold equal values twice,
    never unequal values under one code; `kinds` may name types that do not occur. `stands_for`,
    when set, is the number of rows of a longer column whose distinct values these are (a memo
    judges its worth by rows, not by values).
    """

    kinds: frozenset[type] | None
    distinct: np.ndarray | None
    codes: np.ndarray | None
    stands_for: int | None

    def __array_finalize__(self, obj) -> None:
        self.kinds = self.distinct = self.codes = self.stands_for = None

    def __iter__(self):
        # numpy iterates a subclass element by element through the generic sequence protocol,
        # five times slower than a plain array; every column loop would pay for it.
        return iter(self.view(np.ndarray))


# The kinds of a column of text that may be null.
TEXT_KINDS = frozenset((str, type(None)))
# The kinds of a column of nulls only (a key no event of a batch has).
NULL_KINDS = frozenset((type(None),))


def known_nulls(length: int) -> KnownColumn:
    """`length` nulls, known so and dictionary-encoded as one value: what is computed from them runs
    once. One read-only object per length (at most _NULLS_KEPT kept), so that searches reading the
    same missing field or absent key share what they compute from it (engine/sharing.py keys its
    work by the column's identity, batch by batch)."""
    found = _NULLS.get(length)
    if found is None:
        if len(_NULLS) >= _NULLS_KEPT:
            _NULLS.clear()
        found = _NULLS[length] = coded(null_column(1), np.zeros(length, dtype=np.intp), NULL_KINDS)
        found.flags.writeable = False
    return found


_NULLS: dict[int, KnownColumn] = {}
_NULLS_KEPT = 64


def known(values: np.ndarray, kinds: frozenset[type] | None = None) -> KnownColumn:
    column = values.view(KnownColumn)
    column.kinds = kinds
    return column


def coded(distinct: np.ndarray, codes: np.ndarray, kinds: frozenset[type] | None = None) -> KnownColumn:
    column = known(distinct[codes], kinds)
    column.distinct, column.codes = distinct, codes
    return column


def encoding(column: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(distinct, codes) of a dictionary-encoded column, else None."""
    if column.__class__ is KnownColumn and column.codes is not None:
        return column.distinct, column.codes
    return None


def kinds_of(column: np.ndarray) -> frozenset[type] | None:
    return column.kinds if column.__class__ is KnownColumn else None


def distinct_values(values: np.ndarray, kinds: frozenset[type] | None, rows: int) -> KnownColumn:
    """The distinct values of a column of `rows` rows, as a column of their own."""
    column = known(values, kinds)
    column.stands_for = rows
    return column


def rows_represented(column: np.ndarray) -> int:
    """The rows a column's values stand for: its length, or more for distinct_values."""
    found = column.stands_for if column.__class__ is KnownColumn else None
    return len(column) if found is None else found


def null_mask(column: np.ndarray) -> np.ndarray:
    """Where the column is null; per distinct value when the column is dictionary-encoded."""
    kinds = kinds_of(column)
    if kinds is not None and type(None) not in kinds:
        return np.zeros(len(column), dtype=bool)
    if kinds is not None and kinds <= NULL_KINDS:
        return np.ones(len(column), dtype=bool)
    encoded = encoding(column)
    if encoded is not None:
        values, codes = values_in_use(*encoded)
        return (values == None)[codes]  # noqa: E711
    # Comparing with None falls back to identity for every SPL value, inside numpy's loop.
    return np.asarray(column) == None  # noqa: E711


def used_codes(codes: np.ndarray, distinct: int) -> np.ndarray:
    """The codes (below `distinct`) that occur, ascending: O(rows + distinct), no sort."""
    seen = np.zeros(distinct, dtype=bool)
    seen[codes] = True
    return np.flatnonzero(seen)


def values_in_use(distinct: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A dictionary encoding cut to the values that occur (the distinct values can far outnumber
    the rows): those values, and each row's code among them."""
    used = used_codes(codes, len(distinct))
    position = np.empty(len(distinct), dtype=np.intp)
    position[used] = np.arange(len(used))
    return distinct[used], position[codes]


def take_rows(column: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The column's rows where a boolean mask is true, or at the given indices; what is known
    about the column stays known."""
    if column.__class__ is KnownColumn:
        if column.codes is not None:
            return coded(column.distinct, column.codes[rows], column.kinds)
        return known(column[rows], column.kinds)
    return column[rows]


class Batch:
    """Named object columns of equal length, plus each row's position in the source stream.

    Field order is the dict's order and is the order fields are written out. `row_ids` lets a
    union put the records of its branches back into source order (spec 5.8). `absent` marks,
    per field, the rows whose record does not have that field at all: such a value reads as
    null (spec 3.2) but is not written out, so a record keeps exactly its own fields.
    """

    __slots__ = ("columns", "row_ids", "absent")

    def __init__(self, columns: dict[str, np.ndarray], row_ids: np.ndarray, absent: dict[str, np.ndarray] | None = None):
        self.columns = columns
        self.row_ids = row_ids
        self.absent = absent or {}

    @property
    def length(self) -> int:
        return len(self.row_ids)

    def column(self, name: str) -> np.ndarray:
        """The field's column; a field the batch lacks reads as null in every record (known so, and
        dictionary-encoded: what is computed from it runs once, for its one value)."""
        found = self.columns.get(name)
        return found if found is not None else known_nulls(self.length)

    def with_column(self, name: str, values: np.ndarray) -> "Batch":
        columns = dict(self.columns)
        columns[name] = values
        return self.with_columns(columns)

    def with_columns(self, columns: dict[str, np.ndarray]) -> "Batch":
        """These columns (set for every record) in place of the current ones; the rest is kept."""
        absent = {n: m for n, m in self.absent.items() if n in columns and columns[n] is self.columns.get(n)}
        return Batch(columns, self.row_ids, absent)

    def decoded(self, names: frozenset[str] | None) -> "Batch":
        """This batch with its deferred columns among `names` decoded; with every field (None), also
        the events a projection left in their lines for the sink that writes them (events_late)."""
        columns = self.columns
        # Looked up by the names (a node uses a few) rather than over every column, once per node.
        if names is None:
            late = [name for name, column in columns.items() if column.__class__ is DeferredColumn
                    or column.__class__ is ProjectedMaps and column.events_late]
        else:
            late = [name for name in names if columns.get(name).__class__ is DeferredColumn]
        if not late:
            return self
        columns = dict(columns)
        for name in late:
            column = columns[name]
            columns[name] = (column.late_events() if column.__class__ is ProjectedMaps else column).values()
        return Batch(columns, self.row_ids, self.absent)

    def filter(self, keep: np.ndarray) -> "Batch":
        """Rows where the boolean mask is true (or the rows at the given indices)."""
        absent = {name: mask[keep] for name, mask in self.absent.items()}
        return Batch({name: take_rows(col, keep) for name, col in self.columns.items()}, self.row_ids[keep], absent)

    def records(self) -> Iterator[dict]:
        """Each row as a dict of its values (deferred columns decoded and maps read by key built:
        records are the end of the line)."""
        columns = self.decoded(None).columns
        if any(isinstance(column, MapsView) for column in columns.values()):
            columns = {name: column.maps() if isinstance(column, MapsView) else column
                       for name, column in columns.items()}
        names = list(columns)
        rows = zip(*(columns[n] for n in names))
        if not self.absent:
            for row in rows:
                yield dict(zip(names, row))
            return
        masks = [self.absent.get(n) for n in names]
        for i, row in enumerate(rows):
            yield {n: v for n, v, m in zip(names, row, masks) if m is None or not m[i]}

    @staticmethod
    def empty() -> "Batch":
        return Batch({}, np.empty(0, dtype=np.int64))

    @staticmethod
    def concat(batches: list["Batch"]) -> "Batch":
        """Rows of all batches; a field some of them lack is absent in their rows."""
        batches = [b for b in batches if b.length]
        if not batches:
            return Batch.empty()
        if len(batches) == 1:
            return batches[0]
        names: dict[str, None] = {}
        for batch in batches:
            names.update(dict.fromkeys(batch.columns))
        columns = {name: np.concatenate([b.column(name) for b in batches]) for name in names}
        absent = {}
        for name in names:
            parts = [_absent_mask(b, name) for b in batches]
            if any(p is not None for p in parts):
                absent[name] = np.concatenate([np.zeros(b.length, bool) if p is None else p for b, p in zip(batches, parts)])
        return Batch(columns, np.concatenate([b.row_ids for b in batches]), absent)

    @staticmethod
    def from_records(records: list[dict], first_row_id: int = 0) -> "Batch":
        """Columns are the union of the records' keys, in first-seen order; a key a record lacks
        is absent in that row."""
        names = dict.fromkeys(chain.from_iterable(records))
        count = len(records)
        columns = {name: object_column(list(map(dict.get, records, repeat(name)))) for name in names}
        absent = {}
        for name in names:
            present = np.fromiter(map(contains, records, repeat(name)), dtype=bool, count=count)
            if not present.all():
                absent[name] = ~present
        return Batch(columns, np.arange(first_row_id, first_row_id + len(records), dtype=np.int64), absent)


class DeferredColumn:
    """A column whose values are not decoded yet: key `key` of the events on lines `rows` of
    `lines` (the events themselves for key None; spl_lite/io/projection.py decides which keys may
    wait), then each of `steps`.

    Choosing rows with an index array (as Batch.filter does) stays deferred, so a field that is
    only carried to the output is decoded for the few records that reach it. Nothing decodes it
    implicitly: the executor calls `Batch.decoded` before a node that uses the field (its values
    are read back from the input then, which can fail with an input error there, not inside an
    operator). `steps` are per-value functions that cannot fail (ucast), so deferring them cannot
    change which records report errors.
    """

    __slots__ = ("lines", "rows", "key", "steps", "_values")
    dtype = np.dtype(object)

    def __init__(self, lines, rows: np.ndarray, key: str | None, steps: tuple = ()):
        self.lines, self.rows, self.key, self.steps = lines, rows, key, steps
        self._values: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def then(self, step) -> "DeferredColumn":
        return DeferredColumn(self.lines, self.rows, self.key, self.steps + (step,))

    def values(self) -> np.ndarray:
        if self._values is None:
            values = self.lines.values(self.key, self.rows)
            for step in self.steps:
                values = [step(v) for v in values]
            self._values = np.fromiter(values, dtype=object, count=len(self.rows))
        return self._values

    def __getitem__(self, rows: np.ndarray) -> "DeferredColumn":
        return DeferredColumn(self.lines, self.rows[rows], self.key, self.steps)


class ProjectedMaps:
    """The `input_event` column when the plan reads only some keys of each event
    (spl_lite/io/projection.py): per key, an object column of each record's value, null where the
    event lacks the key, or a DeferredColumn for a key decoded only for the rows that need it.
    `map_get(input_event, key)` reads such a column as it is; the maps themselves are never built,
    and the planner's check guarantees nothing asks for them.

    `skips` is None where every row is an event as its line holds it. A decoder of raw records
    (io/windows_columns.py) gives per row None where the record was normalised to an event, else
    the reason it is no event; io/formats.py counts them and keeps the events. `kind` names the
    shape of the lines the events were made of when that is not the events' own (io/formats.py's
    line kinds: OCSF documents read as SSA events, io/ocsf_columns.py).
    """

    __slots__ = ("values", "length", "deferred", "rows", "skips", "kind", "events_late", "_taken")
    dtype = np.dtype(object)

    def __init__(self, values: dict[str, np.ndarray], length: int, deferred=None, rows: np.ndarray | None = None,
                 skips: np.ndarray | None = None, kind: str | None = None, events_late: bool = False,
                 taken: tuple[dict[str, np.ndarray], np.ndarray] | None = None):
        self.values = values
        # (the columns of the events these were chosen from, which rows of them): a key's rows are
        # taken when it is first read, so a search that filters a batch early pays for the keys it
        # reads after the filter only (a library reads some fifty keys).
        self._taken = taken
        self.length = length
        self.deferred = deferred  # the lines the deferred keys are decoded from
        self.rows = rows  # which of those lines these events are; None: all, in order
        self.skips = skips
        self.kind = kind
        # A sink writes these events whole: they are decoded from `deferred` for the rows that get
        # there (Batch.decoded with every field), as the whole-event path reads them.
        self.events_late = events_late

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, rows: np.ndarray) -> "ProjectedMaps":
        """The rows where a boolean mask is true, or at the given indices (as Batch.filter asks)."""
        count = int(np.count_nonzero(rows)) if rows.dtype == bool else len(rows)
        lines = None if self.deferred is None else self.line_rows()[rows]
        if self._taken is None:
            taken = self.values, np.flatnonzero(rows) if rows.dtype == bool else rows
        else:
            taken = self._taken[0], self._taken[1][rows]
        return ProjectedMaps({}, count, self.deferred, lines, events_late=self.events_late, taken=taken)

    @staticmethod
    def concat(parts: list["ProjectedMaps"]) -> "ProjectedMaps":
        """The events of several decoded blocks as one (their keys alike, as one decoder made them;
        all with `skips` or none, all of one `kind`)."""
        if len(parts) == 1:
            return parts[0]
        values = {}
        for key in parts[0].keys():
            columns = [part.key(key) for part in parts]
            kinds = [kinds_of(c) for c in columns]
            values[key] = known(np.concatenate(columns), None if None in kinds else frozenset().union(*kinds))
        length = sum(part.length for part in parts)
        if parts[0].skips is not None:
            return ProjectedMaps(values, length, skips=np.concatenate([part.skips for part in parts]))
        if parts[0].deferred is None:
            return ProjectedMaps(values, length, kind=parts[0].kind)
        lines = parts[0].deferred.concat([part.deferred for part in parts])
        rows, first = [], 0
        for part in parts:
            rows.append(part.line_rows() + first)
            first += len(part.deferred)
        return ProjectedMaps(values, length, lines, None if all(p.rows is None for p in parts) else np.concatenate(rows),
                             events_late=parts[0].events_late)

    def keys(self) -> list[str]:
        """The keys decoded for these events (not the deferred ones)."""
        return list(self.values if self._taken is None else self._taken[0])

    def key(self, name: str) -> np.ndarray:
        found = self.values.get(name)
        if found is not None:
            return found
        if self._taken is not None:
            columns, rows = self._taken
            column = columns.get(name)
            if column is not None:
                found = self.values[name] = take_rows(column, rows)
                return found
        if self.deferred is None:
            raise KeyError(name)
        return DeferredColumn(self.deferred, self.line_rows(), name)

    def late_events(self) -> DeferredColumn:
        """The events themselves, decoded when read (only `events_late`)."""
        return DeferredColumn(self.deferred, self.line_rows(), None)

    def line_rows(self) -> np.ndarray:
        return np.arange(self.length) if self.rows is None else self.rows

    def __iter__(self):
        raise RuntimeError("an event decoded for some keys only was read whole (projection check missed a use)")


class MapsView:
    """A column of maps (or nulls) that is read only by key, the maps never built: `key(name)` is
    the column of the values under `name` in each map (null where the map is null or lacks it), a
    MapsView again where those are maps. io/ocsf.py's DocumentsView is one: the OCSF documents of
    flat events, each value computed columnwise from the events' own columns. The planner's check
    (plan/rules/documents_by_key.py) proves that a search asks nothing else of it: map_get with a
    literal key, a dotted path, a ucast to a map with a null default, rows chosen by a filter, and
    the maps themselves (`maps`) for the records a sink writes.
    """

    __slots__ = ()
    dtype = np.dtype(object)

    def key(self, name: str) -> "np.ndarray | MapsView":
        raise NotImplementedError

    def maps(self) -> np.ndarray:
        """The maps themselves (null where a map is null), built for these rows only: a sink writes them."""
        raise NotImplementedError

    def entries(self) -> list[tuple[str, "np.ndarray | MapsView", np.ndarray]]:
        """(key, its column, where the map has it) for each key the maps may have, in the order
        `Batch.from_records` of the maps would give them."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, rows: np.ndarray) -> "MapsView":
        raise NotImplementedError

    # Operators hand an empty batch on as it is (`eval` sets nothing there), so a view can outlast
    # what the check follows in an empty batch only: there it is an empty column like any other.
    def __iter__(self):
        if len(self):
            raise RuntimeError("a column of maps read by key only was read whole (the documents_by_key check missed a use)")
        return iter(())

    def tolist(self) -> list:
        return list(self)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.array(self.tolist(), dtype=object)


def _absent_mask(batch: Batch, name: str) -> np.ndarray | None:
    if name not in batch.columns:
        return np.ones(batch.length, dtype=bool)
    return batch.absent.get(name)
