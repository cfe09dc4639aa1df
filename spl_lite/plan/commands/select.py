"""`select f1, expr AS name, ...`: keeps only what it names, in that order (spec 5.4)."""
from __future__ import annotations

from dataclasses import dataclass

from ...syntax import ast
from ..logical import Node
from . import Command, source_text


@dataclass(frozen=True, kw_only=True)
class Select(Node):
    command = "select"
    items: tuple[tuple[str, ast.Expr], ...]

    def expressions(self) -> tuple[ast.Expr, ...]:
        return tuple(expression for _, expression in self.items)

    def uses(self) -> frozenset[str]:
        computed = [e for _, e in self.items if not (isinstance(e, ast.Field) and len(e.path) == 1)]
        return frozenset().union(*map(ast.field_names, computed))

    def describe(self) -> str:
        return ", ".join(name for name, _ in self.items)


class SelectCommand(Command):
    name = "select"
    syntax = ast.Select
    summary = "keep only the listed fields or expressions, in order"
    usage = "select expression [AS name] [, expression [AS name] ...]"
    outputs = "exactly the listed items, in order; a field keeps its name, another expression is named by its text"

    @classmethod
    def plan(cls, node: ast.Select, input_id, planner) -> int:
        items = []
        for item in node.items:
            value = planner.resolve(item.value)
            if item.alias is not None:
                name = item.alias.name
            elif isinstance(item.value, ast.Field):
                name = item.value.name
            else:
                name = " ".join(source_text(item.value.span, planner).split())
            items.append((name, value))
        return planner.add(Select, (input_id,), [n for n, _ in items], node.span, items=tuple(items))
