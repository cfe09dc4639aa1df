"""`rename a AS b`: the value moves to the new name, keeping a's place (spec 5.5)."""
from __future__ import annotations

from dataclasses import dataclass

from .. import ast
import numpy as np

from ..runtime.batch import Batch
from ..runtime.operator import Operator
from . import Command


@dataclass(frozen=True)
class RenameParams:
    pairs: tuple[tuple[str, str], ...]


def renamed(names, pairs) -> list[str]:
    result = list(names)
    for old, new in pairs:
        if old in result and old != new:
            result = [n for n in result if n != new]
            result[result.index(old)] = new
    return result


class _Rename(Operator):
    def __init__(self, params: RenameParams):
        self.pairs = params.pairs

    def process(self, batch: Batch) -> Batch:
        for old, new in self.pairs:
            if old in batch.columns and old != new:
                batch = _rename(batch, old, new)
        return batch


def _rename(batch: Batch, old: str, new: str) -> Batch:
    """Per record: where `old` exists its value moves to `new` (replacing it); where it does not,
    the record is left as it is (spec 5.5), keeping any `new` it had."""
    value = batch.columns[old]
    old_absent = batch.absent.get(old)
    absent = {k: m for k, m in batch.absent.items() if k not in (old, new)}
    if old_absent is not None and old_absent.any():
        kept = batch.columns.get(new)
        if kept is not None:
            value = np.where(old_absent, kept, value)
        new_absent = batch.absent.get(new, np.zeros(batch.length, bool)) if kept is not None else None
        absent[new] = old_absent & (new_absent if new_absent is not None else True)
    columns = {(new if name == old else name): column for name, column in batch.columns.items() if name != new}
    columns[new] = value
    return Batch(columns, batch.row_ids, absent)


class Rename(Command):
    name = "rename"
    syntax = ast.Rename
    summary = "rename fields"
    usage = "rename field AS new_name [, field AS new_name ...]"
    outputs = "the input fields with the renamed ones under their new names; renaming an absent field does nothing"

    @classmethod
    def plan(cls, node: ast.Rename, input_id, planner) -> int:
        pairs = tuple((item.old.name, item.new.name) for item in node.items)
        before = planner.node(input_id).fields
        fields = None if before is None else renamed(before, pairs)
        return planner.add("rename", (input_id,), RenameParams(pairs), fields, node.span)

    @classmethod
    def describe(cls, params: RenameParams) -> str:
        return ", ".join(f"{old} AS {new}" for old, new in params.pairs)

    @classmethod
    def operator(cls, params: RenameParams, context) -> Operator:
        return _Rename(params)
