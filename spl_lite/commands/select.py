"""`select f1, expr AS name, ...`: keeps only what it names, in that order (spec 5.4)."""
from __future__ import annotations

from dataclasses import dataclass

from .. import ast
from ..runtime.batch import Batch
from ..runtime.expressions import compile_expression
from ..runtime.operator import Operator
from . import Command, source_text


@dataclass(frozen=True)
class SelectParams:
    items: tuple[tuple[str, ast.Expr], ...]


class _Select(Operator):
    def __init__(self, params: SelectParams):
        self.items = [(name, compile_expression(expr)) for name, expr in params.items]

    def process(self, batch: Batch) -> Batch:
        return Batch({name: evaluate(batch) for name, evaluate in self.items}, batch.row_ids)


class Select(Command):
    name = "select"
    syntax = ast.Select
    summary = "keep only the listed fields or expressions, in order"
    usage = "select expression [AS name] [, expression [AS name] ...]"
    outputs = "exactly the listed items, in order; a field keeps its name, another expression is named by its text"

    @classmethod
    def plan(cls, node: ast.Select, input_id, planner) -> int:
        items = []
        for item in node.items:
            planner.check_expression(item.value)
            if item.alias is not None:
                name = item.alias.name
            elif isinstance(item.value, ast.Field):
                name = item.value.name
            else:
                name = " ".join(source_text(item.value.span, planner).split())
            items.append((name, item.value))
        params = SelectParams(tuple(items))
        return planner.add("select", (input_id,), params, [n for n, _ in items], node.span)

    @classmethod
    def describe(cls, params: SelectParams) -> str:
        return ", ".join(name for name, _ in params.items)

    @classmethod
    def operator(cls, params: SelectParams, context) -> Operator:
        return _Select(params)
