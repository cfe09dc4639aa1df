"""`rename a AS b`: the value moves to the new name, keeping a's place (spec 5.5)."""
from __future__ import annotations

from dataclasses import dataclass

from ...syntax import ast
from ..logical import Node
from . import Command


@dataclass(frozen=True, kw_only=True)
class Rename(Node):
    command = "rename"
    passes_through = True
    pairs: tuple[tuple[str, str], ...]

    def reads(self) -> frozenset[str]:
        return frozenset(old for old, _ in self.pairs)

    def writes(self) -> frozenset[str]:
        return frozenset(name for pair in self.pairs for name in pair)

    def describe(self) -> str:
        return ", ".join(f"{old} AS {new}" for old, new in self.pairs)


def renamed(names, pairs) -> list[str]:
    result = list(names)
    for old, new in pairs:
        if old in result and old != new:
            result = [n for n in result if n != new]
            result[result.index(old)] = new
    return result


class RenameCommand(Command):
    name = "rename"
    syntax = ast.Rename
    summary = "rename fields"
    usage = "rename field AS new_name [, field AS new_name ...]"
    outputs = "the input fields with the renamed ones under their new names; renaming an absent field does nothing"

    @classmethod
    def plan(cls, node: ast.Rename, input_id, planner) -> int:
        pairs = tuple((item.old.name, item.new.name) for item in node.items)
        before = planner.node(input_id).fields
        fields = None if before is None else renamed(before, pairs)
        return planner.add(Rename, (input_id,), fields, node.span, pairs=pairs)

    @classmethod
    def references(cls, syntax: ast.Rename, node: Rename):
        set_before: list[str] = []
        for item in syntax.items:
            yield item.old.name, item.old.span, tuple(set_before)
            set_before.append(item.new.name)
