"""Work shared between the searches of one run: an expression over the columns of the source's
records (the same batch for every search: io/formats.py Converted.records) is computed once per
batch and read by every search that has it.

Shared are calls that read nothing but `input_event` (the `lower(ucast(map_get(input_event, ...)))`
chains every detection starts with) and dotted paths (`process.file.name`). A result is kept until the
batch is through every search (`clear`), keyed by the column it was computed from (held, so that its
identity stays its own) and the expression's structure (spans left out), with the per-record errors
its computation counted, which every search that reads it counts too.

A shared result holding only text and null is dictionary-encoded once (`encode_text`) when its
values repeat, so that every search's calls over it (`lower`, `like`, `match_regex`) run once per
distinct value of the batch rather than once per record.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Callable

import numpy as np

from ..core.batch import TEXT_KINDS, Batch, coded, encoding, kinds_of
from ..syntax import ast

_SPAN_FIELDS = ("span", "name_span")


def structure(expr) -> tuple:
    """The expression as nested tuples of its class names and values, without positions."""

    def shape(node, values: list) -> tuple:
        kept = [v for f, v in zip(fields(node), values) if f.name not in _SPAN_FIELDS]
        return (type(node).__name__, *kept)

    return ast.fold(expr, shape)


def shareable_column(expr) -> str | None:
    """The column a shareable expression is computed from, else None."""
    if isinstance(expr, ast.Field):
        return expr.path[0] if len(expr.path) > 1 else None
    if isinstance(expr, ast.Call) and ast.field_names(expr) == {"input_event"}:
        return "input_event"
    return None


def encode_text(column: np.ndarray) -> np.ndarray | None:
    """The column dictionary-encoded (each row's code is the first row with its value), when it
    holds only text and null and fewer distinct values than half its rows; else None."""
    if encoding(column) is not None:
        return column
    kinds = kinds_of(column)
    if kinds is not None and not kinds <= TEXT_KINDS:
        return None
    first_row: dict = {}
    rows = len(column)
    try:
        codes = np.fromiter(map(first_row.setdefault, column, range(rows)), dtype=np.intp, count=rows)
    except TypeError:  # an unhashable value (list, map)
        return None
    # 1, 1.0 and True are one key of a dict but three values: only str and None keys are exact.
    found = frozenset(map(type, first_row))
    if not found <= TEXT_KINDS or len(first_row) * 2 >= rows:
        return None
    return coded(np.asarray(column), codes, found)


class SharedWork:
    """Results of shareable expressions, per source column, for the searches of one run."""

    def __init__(self) -> None:
        self._by_column: dict[int, tuple[object, dict]] = {}
        self.computed = self.reused = 0
        # Expressions whose results did not repeat enough to be worth encoding: not tried again.
        self._unencoded: set[tuple] = set()

    def clear(self) -> None:
        """The batch is through every search: its columns and results can go."""
        self._by_column.clear()

    def wrap(self, expr, column_name: str, evaluate: Callable[[Batch], np.ndarray], errors) -> Callable:
        key = structure(expr)
        by_column = self._by_column

        def shared(batch: Batch) -> np.ndarray:
            column = batch.columns.get(column_name)
            if column is None:
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
            values = evaluate(batch)
            if key not in self._unencoded:
                encoded = encode_text(values)
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
