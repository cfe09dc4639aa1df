"""`where <predicate>`: keeps records whose predicate is exactly true (spec 5.3)."""
from __future__ import annotations

from dataclasses import dataclass

from .. import ast
from ..runtime.batch import Batch
from ..runtime.expressions import compile_predicate, keep_mask
from ..runtime.operator import Operator
from . import Command, shorten, source_text


@dataclass(frozen=True)
class WhereParams:
    predicate: ast.Expr
    text: str


class _Where(Operator):
    def __init__(self, params: WhereParams):
        self.predicate = compile_predicate(params.predicate)

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        keep = keep_mask(self.predicate(batch))
        return batch if keep.all() else batch.filter(keep)


class Where(Command):
    name = "where"
    syntax = ast.Where
    summary = "keep records whose predicate is true"
    usage = "where predicate"
    outputs = "the input fields, unchanged; only records whose predicate is exactly true pass (false and null do not)"

    @classmethod
    def plan(cls, node: ast.Where, input_id, planner) -> int:
        planner.check_expression(node.predicate)
        params = WhereParams(node.predicate, source_text(node.predicate.span, planner))
        return planner.add("where", (input_id,), params, planner.node(input_id).fields, node.span)

    @classmethod
    def describe(cls, params: WhereParams) -> str:
        return shorten(params.text, 80)

    @classmethod
    def operator(cls, params: WhereParams, context) -> Operator:
        return _Where(params)
