"""`| from $a | union $b, $c`: merges streams; per source record, branches in the order named (spec 5.8)."""
from __future__ import annotations

import numpy as np

from .. import ast
from ..runtime.batch import Batch
from ..runtime.operator import Operator
from . import Command


class _Union(Operator):
    def process_inputs(self, batches: list[Batch]) -> Batch:
        present = [(i, b) for i, b in enumerate(batches) if b.length]
        if len(present) <= 1:
            return present[0][1] if present else Batch.empty()
        merged = Batch.concat([b for _, b in present])
        branch = np.concatenate([np.full(b.length, i) for i, b in present])
        order = np.lexsort((branch, merged.row_ids))
        return merged.filter(order)


class Union(Command):
    name = "union"
    syntax = ast.Union_
    summary = "merge the records of `$variables` into this pipeline"
    usage = "union $variable [, $variable ...]"
    outputs = "the fields of every merged pipeline; each record keeps its own, and a field it lacks reads as null"

    @classmethod
    def plan(cls, node: ast.Union_, input_id, planner) -> int:
        inputs = (input_id,) + tuple(planner.variable(v) for v in node.variables)
        fields = _merged_fields([planner.node(i).fields for i in inputs])
        return planner.add("union", inputs, None, fields, node.span)

    @classmethod
    def operator(cls, params, context) -> Operator:
        return _Union()


def _merged_fields(field_lists):
    if any(f is None for f in field_lists):
        return None
    merged: dict[str, None] = {}
    for fields in field_lists:
        merged.update(dict.fromkeys(fields))
    return tuple(merged)
