"""`rename a AS b`: the value moves to the new name, keeping a's place (spec 5.5)."""
from __future__ import annotations

from dataclasses import dataclass

from .. import ast
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
        columns = batch.columns
        for old, new in self.pairs:
            if old in columns and old != new:
                columns = {
                    (new if name == old else name): column for name, column in columns.items() if name != new
                }
        return Batch(columns, batch.row_ids)


class Rename(Command):
    name = "rename"
    syntax = ast.Rename
    summary = "rename fields"

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
