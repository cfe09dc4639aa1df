"""`fields a, b` keeps the listed fields in order; `fields - a, b` drops them."""
from __future__ import annotations

from dataclasses import dataclass

from ...syntax import ast
from ..logical import Node
from . import Command


@dataclass(frozen=True, kw_only=True)
class Fields(Node):
    command = "fields"
    drop: bool
    names: tuple[ast.Field, ...]

    @property
    def passes_through(self) -> bool:  # a drop passes every other field on
        return self.drop

    def reads(self) -> frozenset[str]:
        return frozenset() if self.drop else frozenset(f.name for f in self.names)

    def writes(self) -> frozenset[str]:
        return frozenset(f.name for f in self.names) if self.drop else frozenset()

    def expressions(self) -> tuple[ast.Expr, ...]:
        return () if self.drop else self.names

    def uses(self) -> frozenset[str]:
        return frozenset(f.path[0] for f in self.names if len(f.path) > 1 and not self.drop)

    def describe(self) -> str:
        return ("- " if self.drop else "") + ", ".join(f.name for f in self.names)


class FieldsCommand(Command):
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
        return planner.add(Fields, (input_id,), fields, node.span, drop=node.drop, names=node.names)

    @classmethod
    def references(cls, syntax, node: Fields):
        return ((field.name, field.span, ()) for field in node.names)
