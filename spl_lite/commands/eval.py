"""`eval f1=e1, f2=e2`: computes fields left to right; later ones see earlier ones (spec 5.2)."""
from __future__ import annotations

from dataclasses import dataclass

from .. import ast
from ..runtime.batch import Batch
from ..runtime.expressions import compile_expression
from ..runtime.operator import Operator
from . import Command, shorten, source_text


@dataclass(frozen=True)
class EvalParams:
    assignments: tuple[tuple[str, ast.Expr], ...]
    texts: tuple[str, ...]


class _Eval(Operator):
    def __init__(self, params: EvalParams):
        self.steps = [(name, compile_expression(expr)) for name, expr in params.assignments]

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        columns = dict(batch.columns)
        current = Batch(columns, batch.row_ids, dict(batch.absent))
        for name, evaluate in self.steps:
            columns[name] = evaluate(current)  # `current` shares `columns`: later steps see this one
            current.absent.pop(name, None)  # an assigned field exists in every record
        return current


def add_fields(fields, names) -> tuple[str, ...] | None:
    """The output fields after setting `names`: existing ones keep their place, new ones append."""
    if fields is None:
        return None
    result = list(fields)
    for name in names:
        if name not in result:
            result.append(name)
    return tuple(result)


class Eval(Command):
    name = "eval"
    syntax = ast.Eval
    summary = "compute fields"
    usage = "eval field = expression [, field = expression ...]"
    outputs = "the input fields, plus each assigned field (set or replaced); a later assignment sees the earlier ones"

    @classmethod
    def plan(cls, node: ast.Eval, input_id, planner) -> int:
        for assignment in node.assignments:
            planner.check_expression(assignment.value)
        assignments = tuple((a.target.name, a.value) for a in node.assignments)
        fields = add_fields(planner.node(input_id).fields, [name for name, _ in assignments])
        texts = tuple(source_text(a.value.span, planner) for a in node.assignments)
        return planner.add("eval", (input_id,), EvalParams(assignments, texts), fields, node.span)

    @classmethod
    def describe(cls, params: EvalParams) -> str:
        return ", ".join(f"{name}={shorten(text, 40)}" for (name, _), text in zip(params.assignments, params.texts))

    @classmethod
    def operator(cls, params: EvalParams, context) -> Operator:
        return _Eval(params)
