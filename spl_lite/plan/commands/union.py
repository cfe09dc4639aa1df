"""`| from $a | union $b, $c`: merges streams; per source record, branches in the order named (spec 5.8)."""
from __future__ import annotations

from dataclasses import dataclass

from ...syntax import ast
from ..logical import Node
from . import Command


@dataclass(frozen=True, kw_only=True)
class Union(Node):
    command = "union"
    order_sensitive = True  # records are merged in source order, branch by branch

    def reads(self) -> None:
        return None


class UnionCommand(Command):
    name = "union"
    syntax = ast.Union_
    summary = "merge the records of `$variables` into this pipeline"
    usage = "union $variable [, $variable ...]"
    outputs = "the fields of every merged pipeline; each record keeps its own, and a field it lacks reads as null"

    @classmethod
    def plan(cls, node: ast.Union_, input_id, planner) -> int:
        inputs = (input_id,) + tuple(planner.variable(v) for v in node.variables)
        fields = _merged_fields([planner.node(i).fields for i in inputs])
        return planner.add(Union, inputs, fields, node.span)


def _merged_fields(field_lists):
    if any(f is None for f in field_lists):
        return None
    merged: dict[str, None] = {}
    for fields in field_lists:
        merged.update(dict.fromkeys(fields))
    return tuple(merged)
