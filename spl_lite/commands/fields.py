"""`fields a, b` keeps the listed fields in order; `fields - a, b` drops them."""
from __future__ import annotations

from dataclasses import dataclass

from .. import ast
from ..runtime.batch import Batch
from ..runtime.expressions import compile_expression
from ..runtime.operator import Operator
from . import Command


@dataclass(frozen=True)
class FieldsParams:
    drop: bool
    names: tuple[ast.Field, ...]


class _Keep(Operator):
    def __init__(self, params: FieldsParams):
        self.items = [(f.name, compile_expression(f)) for f in params.names]

    def process(self, batch: Batch) -> Batch:
        return Batch({name: evaluate(batch) for name, evaluate in self.items}, batch.row_ids)


class _Drop(Operator):
    def __init__(self, params: FieldsParams):
        self.names = {f.name for f in params.names}

    def process(self, batch: Batch) -> Batch:
        names = self.names
        columns = {k: v for k, v in batch.columns.items() if k not in names}
        return Batch(columns, batch.row_ids, {k: m for k, m in batch.absent.items() if k not in names})


class Fields(Command):
    name = "fields"
    syntax = ast.Fields
    summary = "keep (or with `-`, drop) the listed fields"
    usage = "fields [+] field [, field ...]  |  fields - field [, field ...]"
    outputs = "the listed fields only (in the listed order), or with `-` every field but the listed ones"

    @classmethod
    def plan(cls, node: ast.Fields, input_id, planner) -> int:
        names = tuple(f.name for f in node.names)
        before = planner.node(input_id).fields
        if node.drop:
            fields = None if before is None else tuple(f for f in before if f not in names)
        else:
            fields = names
        return planner.add("fields", (input_id,), FieldsParams(node.drop, node.names), fields, node.span)

    @classmethod
    def describe(cls, params: FieldsParams) -> str:
        return ("- " if params.drop else "") + ", ".join(f.name for f in params.names)

    @classmethod
    def operator(cls, params: FieldsParams, context) -> Operator:
        return _Drop(params) if params.drop else _Keep(params)
