"""Columnar batches: the unit in which records flow between operators."""
from __future__ import annotations

from typing import Iterator

import numpy as np


def null_column(length: int) -> np.ndarray:
    return np.full(length, None, dtype=object)


def object_column(values) -> np.ndarray:
    """A column from a sequence of Python values; lists stay values (numpy would make them a 2-D array)."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    return np.fromiter(values, dtype=object, count=len(values))


class Batch:
    """Named object columns of equal length, plus each row's position in the source stream.

    Field order is the dict's order and is the order fields are written out. `row_ids` lets a
    union put the records of its branches back into source order (spec 5.8).
    """

    __slots__ = ("columns", "row_ids")

    def __init__(self, columns: dict[str, np.ndarray], row_ids: np.ndarray):
        self.columns = columns
        self.row_ids = row_ids

    @property
    def length(self) -> int:
        return len(self.row_ids)

    def column(self, name: str) -> np.ndarray:
        found = self.columns.get(name)
        return found if found is not None else null_column(self.length)

    def with_column(self, name: str, values: np.ndarray) -> "Batch":
        columns = dict(self.columns)
        columns[name] = values
        return Batch(columns, self.row_ids)

    def filter(self, keep: np.ndarray) -> "Batch":
        """Rows where the boolean mask is true (or the rows at the given indices)."""
        return Batch({name: col[keep] for name, col in self.columns.items()}, self.row_ids[keep])

    def records(self) -> Iterator[dict]:
        names = list(self.columns)
        for row in zip(*(self.columns[n] for n in names)):
            yield dict(zip(names, row))

    @staticmethod
    def empty() -> "Batch":
        return Batch({}, np.empty(0, dtype=np.int64))

    @staticmethod
    def concat(batches: list["Batch"]) -> "Batch":
        batches = [b for b in batches if b.length]
        if not batches:
            return Batch.empty()
        if len(batches) == 1:
            return batches[0]
        names: dict[str, None] = {}
        for batch in batches:
            names.update(dict.fromkeys(batch.columns))
        columns = {name: np.concatenate([b.column(name) for b in batches]) for name in names}
        return Batch(columns, np.concatenate([b.row_ids for b in batches]))

    @staticmethod
    def from_records(records: list[dict], first_row_id: int = 0) -> "Batch":
        """Columns are the union of the records' keys, in first-seen order; missing keys are null."""
        names: dict[str, None] = {}
        for record in records:
            names.update(dict.fromkeys(record))
        columns = {name: object_column([r.get(name) for r in records]) for name in names}
        return Batch(columns, np.arange(first_row_id, first_row_id + len(records), dtype=np.int64))
