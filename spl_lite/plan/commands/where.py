"""`where <predicate>`: keeps records whose predicate is exactly true (spec 5.3)."""
from __future__ import annotations

from dataclasses import dataclass

from ...syntax import ast
from ..logical import Node
from . import Command, shorten, source_text


@dataclass(frozen=True, kw_only=True)
class Where(Node):
    command = "where"
    passes_through = True
    filters = True
    predicate: ast.Expr
    text: str

    def expressions(self) -> tuple[ast.Expr, ...]:
        return (self.predicate,)

    def describe(self) -> str:
        return shorten(self.text, 80)


class WhereCommand(Command):
    name = "where"
    syntax = ast.Where
    summary = "keep records whose predicate is true"
    usage = "where predicate"
    outputs = "the input fields, unchanged; only records whose predicate is exactly true pass (false and null do not)"

    @classmethod
    def plan(cls, node: ast.Where, input_id, planner) -> int:
        predicate = planner.resolve(node.predicate)
        text = source_text(node.predicate.span, planner)
        return planner.add(Where, (input_id,), planner.node(input_id).fields, node.span, predicate=predicate, text=text)
