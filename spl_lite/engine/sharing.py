"""Work shared between the searches of one run: an expression over one column is computed once per
batch and read by every search whose batch holds that very column object: a column of the source's
records (the same batch for every search: io/formats.py Converted.records), or a shared result a
search's `eval` named (so the chains after it are shared too).

What can be shared is decided in plan/rules/shared_work.py (expressions reading one field), and
`explain` of several searches lists what is shared over the sources' columns. A result is kept until
the batch is through every search (`clear`), keyed by the column it was computed from (held, so that
its identity stays its own) and the expression's structure (spans and the column's name left out),
with the per-record errors its computation counted, which every search that reads it counts too.

A shared result holding only text and null is dictionary-encoded once per column object
(`encode_text`; several expressions can give the same decoded column) when its values repeat, so
that every search's calls over it (`lower`, `like`, `match_regex`) run once per distinct value of
the batch rather than once per record. A condition over such a column (a whole
`where` on one field: its comparisons and the ANDs and ORs joining them; plan/rules/shared_work.py
condition_per_value) is evaluated once over the column's distinct values, and its result spread to
the rows by their codes.
"""
from __future__ import annotations

import functools
from bisect import bisect_right
from typing import Callable

import numpy as np

from ..core.batch import (NULL_KINDS, TEXT_KINDS, Batch, MapsView, coded, distinct_values, encoding, kinds_of,
                          known_nulls, values_in_use)
from ..plan.rules.shared_work import condition_per_value, dotted_names, structure


def encode_text(column: np.ndarray) -> np.ndarray | None:
    """The column dictionary-encoded (each row's code is the first row with its value), when it
    holds only text and null and fewer distinct values than half its rows; else None."""
    if encoding(column) is not None:
        return column
    if isinstance(column, MapsView):
        return None
    if column.dtype != object:
        return None
    kinds = kinds_of(column)
    if kinds is not None and not kinds <= TEXT_KINDS:
        return None
    rows = len(column)
    if kinds is not None and kinds <= NULL_KINDS and rows > 1:
        return known_nulls(rows)
    first_row: dict = {}
    try:
        codes = np.fromiter(map(first_row.setdefault, column, range(rows)), dtype=np.intp, count=rows)
    except TypeError:  # an unhashable value (list, map)
        return None
    # 1, 1.0 and True are one key of a dict but three values: only str and None keys are exact.
    found = frozenset(map(type, first_row))
    if not found <= TEXT_KINDS or len(first_row) * 2 >= rows:
        return None
    return coded(np.asarray(column), codes, found)


def _distinct_lists(column: np.ndarray) -> tuple[list[tuple], np.ndarray] | None:
    """(the distinct lists of a column of lists, as tuples; each row's code among them), or None."""
    if set(map(type, column)) != {list}:
        return None
    index: dict[tuple, int] = {}
    try:
        codes = np.fromiter((index.setdefault(items, len(index)) for items in map(tuple, column)), dtype=np.intp,
                            count=len(column))
    except TypeError:  # an unhashable item (a map)
        return None
    return list(index), codes


# After this many literals looked for in one column's values, the pairs of neighbouring characters
# in each value are tabled (_Searchable.candidates), which then picks the few values that may hold a
# literal in microseconds rather than a scan of all of them (~0.2 ms for 4,000 command lines).
_TABLE_AFTER = 16
_PAIR_BUCKETS = 512


def _pair_buckets(data: np.ndarray) -> np.ndarray:
    """The bucket of each pair of neighbouring bytes of `data` (ASCII)."""
    return ((data[:-1].astype(np.uint16) * 61) ^ data[1:]) & (_PAIR_BUCKETS - 1)


@functools.lru_cache(maxsize=4096)
def _literal_buckets(text: str) -> np.ndarray:
    """The distinct pair buckets of a literal (searches look for the same few hundred in every batch)."""
    return np.unique(_pair_buckets(np.frombuffer(text.encode("ascii"), dtype=np.uint8)))


class _Searchable:
    """The values of a TextIndex as searched: their texts (ASCII-lowered when ignoring case), joined
    into one string, and which of them this cannot tell."""

    __slots__ = ("texts", "joined", "ends", "unsure", "looked_for", "_pairs")

    def __init__(self, values: np.ndarray, ignore_case: bool):
        texts = ["" if v is None else v for v in values]
        unsure = np.zeros(len(texts), dtype=bool)
        if ignore_case:  # only ASCII lowers exactly as (?i) folds; the others are tested one by one
            ascii = np.fromiter(map(str.isascii, texts), dtype=bool, count=len(texts))
            unsure = ~ascii
            texts = [t.lower() if a else "" for t, a in zip(texts, ascii)]
        self.texts, self.unsure = texts, unsure
        self.joined = "\n".join(texts)
        # A text without a line break found in the joined string lies within one value.
        # (a list: bisect finds a position's value in it without numpy's per-call cost)
        self.ends = np.cumsum(np.fromiter(map(len, texts), dtype=np.intp, count=len(texts)) + 1).tolist()
        self.looked_for = 0
        self._pairs: np.ndarray | None = None

    def candidates(self, text: str) -> np.ndarray:
        """The values that may hold `text` (ASCII, two characters or more): those having every pair
        of neighbouring characters it has, by bucket (a value that is not ASCII always may)."""
        if self._pairs is None:
            texts = self.texts
            ascii = np.fromiter(map(str.isascii, texts), dtype=bool, count=len(texts))
            plain = [t if a else "" for t, a in zip(texts, ascii)]
            data = np.frombuffer("\n".join(plain).encode("ascii"), dtype=np.uint8)
            lengths = np.fromiter(map(len, plain), dtype=np.intp, count=len(plain))
            # Each pair counts for the value its first character is in (the separator for the one
            # before it): a pair across two values only makes a value a candidate needlessly.
            value_of = np.repeat(np.arange(len(plain)), lengths + 1)[: max(len(data) - 1, 0)]
            self._pairs = np.zeros((_PAIR_BUCKETS, len(plain)), dtype=bool)
            self._pairs[_pair_buckets(data), value_of] = True
            self._pairs[:, ~ascii] = True
        return np.flatnonzero(np.logical_and.reduce(self._pairs[_literal_buckets(text)], axis=0))


class TextIndex:
    """The distinct values of a text column, searched for literals without a Python call per value:
    joined into one string (ASCII-lowered too, when asked), where a literal is one C-level `find`
    per occurrence, or, once many literals were looked for, by a table of the character pairs in
    each value: `match_regex(cmd, /(?i)mimikatz/)` over a batch's command lines."""

    def __init__(self, values: np.ndarray, codes: np.ndarray | None):
        self.values, self.codes = values, codes  # codes: each row's value, None when values are the rows
        self.nulls = np.asarray(values == None, dtype=bool)  # noqa: E711
        self.has_nulls = bool(self.nulls.any())
        self._searchable: dict[bool, _Searchable] = {}

    def containing(self, text: str, ignore_case: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """(the values holding `text`, the values this cannot tell: not ASCII when ignoring case);
        None for a text with a line break (the separator)."""
        if "\n" in text:
            return None
        searchable = self._searchable.get(ignore_case)
        if searchable is None:
            searchable = self._searchable[ignore_case] = _Searchable(self.values, ignore_case)
        hits = np.zeros(len(self.values), dtype=bool)
        if not text:
            hits[:] = True
            return hits, searchable.unsure
        searchable.looked_for += 1
        if searchable.looked_for > _TABLE_AFTER and len(text) > 1 and text.isascii():
            texts = searchable.texts
            candidates = searchable.candidates(text)
            hits[candidates] = [text in texts[position] for position in candidates.tolist()]
            return hits, searchable.unsure
        joined, ends = searchable.joined, searchable.ends
        find, position = joined.find, joined.find(text)
        while position >= 0:
            value = bisect_right(ends, position)
            hits[value] = True
            position = find(text, ends[value])
        return hits, searchable.unsure

    @staticmethod
    def of(column: np.ndarray) -> "TextIndex":
        encoded = encoding(column)
        return TextIndex(column, None) if encoded is None else TextIndex(*values_in_use(*encoded))


class SharedWork:
    """Results of shareable expressions, per source column, for the searches of one run."""

    def __init__(self) -> None:
        self._by_column: dict[int, tuple[object, dict]] = {}
        self.computed = self.reused = 0
        self.by_distinct_value = 0  # of the computed: evaluated over a column's distinct values
        # Expressions whose results did not repeat enough to be worth encoding: not tried again.
        self._unencoded: set[int] = set()
        # Several expressions give the very same column (`map_get(input_event, "cmd_line")`, and
        # `process.cmd_line` of the OCSF view over it): it is encoded once, by its identity.
        self._encodings: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self._keys: dict[tuple, int] = {}
        self._structures: dict[tuple[int, str], tuple] = {}  # structure()'s memo over the compiled expressions
        self._text_indexes: dict[int, tuple[np.ndarray, TextIndex]] = {}
        self._distinct: dict[int, tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]] = {}
        self._lists: dict[int, tuple[np.ndarray, tuple[list[tuple], np.ndarray] | None]] = {}

    def clear(self) -> None:
        """The batch is through every search: its columns and results can go."""
        self._by_column.clear()
        self._encodings.clear()
        self._text_indexes.clear()
        self._distinct.clear()
        self._lists.clear()

    def lists_holding(self, column: np.ndarray, text: str) -> np.ndarray | None:
        """Where each row's list holds `text` (`"Endpoint_Processes" IN (_datamodels)`), tested once per
        distinct list of the column, which is found once for every search; None unless every value
        is a list of hashable items."""
        found = self._lists.get(id(column))
        if found is None or found[0] is not column:
            found = self._lists[id(column)] = (column, _distinct_lists(column))
        if found[1] is None:
            return None
        lists, codes = found[1]
        return np.fromiter((text in items for items in lists), dtype=bool, count=len(lists))[codes]

    def text_index(self, column: np.ndarray) -> TextIndex:
        """The TextIndex of a column, made once for every search that looks for text in it."""
        found = self._text_indexes.get(id(column))
        if found is None or found[0] is not column:
            found = self._text_indexes[id(column)] = (column, TextIndex.of(column))
        return found[1]

    def wrap(self, expr, column_name: str, evaluate: Callable[[Batch], np.ndarray], errors, form: str,
             overridden_by: frozenset[str] | None = None) -> Callable:
        """`evaluate` of `expr` over the column `column_name`, computed once per batch and column;
        `form` tells apart what differs for one expression (values, truth, a path's walk); the
        fields of `overridden_by` (by default the dotted names it reads), when a batch has them,
        are read instead of the column, and the expression is then computed for that batch alone."""
        # A number per distinct key: looking up a nested tuple would hash all of it every time.
        key = self._keys.setdefault((form, structure(expr, column_name, self._structures)), len(self._keys))
        by_column = self._by_column
        dotted = tuple(dotted_names(expr) if overridden_by is None else overridden_by)
        per_value = condition_per_value(expr)

        def shared(batch: Batch) -> np.ndarray:
            columns = batch.columns
            column = columns.get(column_name)
            if column is None or dotted and any(name in columns for name in dotted):
                return evaluate(batch)
            entry = by_column.get(id(column))
            if entry is None:
                entry = by_column[id(column)] = (column, {})
            results = entry[1]
            found = results.get(key)
            if found is not None:
                values, count, examples = found
                if count:
                    errors.merge(count, examples)
                self.reused += 1
                return values
            count_before, examples_before = errors.count, dict(errors.examples)
            values = self._per_distinct_value(evaluate, column_name, column) if per_value else None
            if values is None:
                values = evaluate(batch)
            if key not in self._unencoded:
                encoded = self._encoded(values)
                if encoded is None:
                    self._unencoded.add(key)
                else:
                    values = encoded
            count = errors.count - count_before
            examples = {m: n - examples_before.get(m, 0) for m, n in errors.examples.items()
                        if n != examples_before.get(m, 0)} if count else {}
            results[key] = (values, count, examples)
            self.computed += 1
            return values

        return shared

    def _encoded(self, values: np.ndarray) -> np.ndarray | None:
        """encode_text of a result, once per column object and batch."""
        found = self._encodings.get(id(values))
        if found is None or found[0] is not values:
            found = self._encodings[id(values)] = (values, encode_text(values))
        return found[1]

    def _per_distinct_value(self, evaluate: Callable[[Batch], np.ndarray], column_name: str,
                            column: np.ndarray) -> np.ndarray | None:
        """`evaluate` over the distinct values of `column` (dictionary-encoded text), spread to its
        rows; None where the column is not such."""
        distinct = self._distinct_values(column)
        if distinct is None:
            return None
        values, codes = distinct
        results = evaluate(Batch({column_name: values}, np.arange(len(values))))
        self.by_distinct_value += 1
        if results.dtype != object:
            return results[codes]
        return coded(np.asarray(results), codes, frozenset(map(type, results)))

    def _distinct_values(self, column: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(the values in use of a dictionary-encoded text column, each row's code among them), made
        once per column, so that what is computed over them is shared too; None for any other
        column, or one whose values repeat too little to gain."""
        found = self._distinct.get(id(column))
        if found is None or found[0] is not column:
            encoded, kinds, in_use = encoding(column), kinds_of(column), None
            if encoded is not None and kinds is not None and kinds <= TEXT_KINDS:
                values, codes = values_in_use(*encoded)
                if len(values) * 2 < len(codes):
                    in_use = distinct_values(values, kinds, len(codes)), codes
            found = self._distinct[id(column)] = (column, in_use)
        return found[1]
