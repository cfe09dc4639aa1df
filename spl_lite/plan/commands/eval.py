"""`eval f1=e1, f2=e2`: computes fields left to right; later ones see earlier ones (spec 5.2)."""
from __future__ import annotations

from dataclasses import dataclass

from ...syntax import ast
from ..logical import Node
from ..planner import expression_fields
from . import Command, add_fields, shorten, source_text


@dataclass(frozen=True, kw_only=True)
class Eval(Node):
    command = "eval"
    passes_through = True
    assignments: tuple[tuple[str, ast.Expr], ...]
    texts: tuple[str, ...]

    def writes(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.assignments)

    def expressions(self) -> tuple[ast.Expr, ...]:
        return tuple(expression for _, expression in self.assignments)

    def describe(self) -> str:
        return ", ".join(f"{name}={shorten(text, 40)}" for (name, _), text in zip(self.assignments, self.texts))


class EvalCommand(Command):
    name = "eval"
    syntax = ast.Eval
    summary = "compute fields"
    usage = "eval field = expression [, field = expression ...]"
    outputs = "the input fields, plus each assigned field (set or replaced); a later assignment sees the earlier ones"

    @classmethod
    def plan(cls, node: ast.Eval, input_id, planner) -> int:
        assignments = tuple((a.target.name, planner.resolve(a.value)) for a in node.assignments)
        fields = add_fields(planner.node(input_id).fields, [name for name, _ in assignments])
        texts = tuple(source_text(a.value.span, planner) for a in node.assignments)
        return planner.add(Eval, (input_id,), fields, node.span, assignments=assignments, texts=texts)

    @classmethod
    def references(cls, syntax, node: Eval):
        set_before: list[str] = []
        for name, expression in node.assignments:
            for field in expression_fields(expression):
                yield field.name, field.span, tuple(set_before)
            set_before.append(name)
