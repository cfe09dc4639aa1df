"""The typed logical plan: one frozen node class per command, with declared properties.

A node says what it computes, never how: its inputs, its output fields (None where they depend on
the input), the fields it reads and sets, and properties that rewrites read instead of command
names. Nodes and their expressions (AST with spans) round-trip through JSON (`Plan.to_json`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from ..core.errors import Span
from ..syntax import ast

NODE_CLASSES: dict[str, type["Node"]] = {}


@dataclass(frozen=True, kw_only=True)
class Node:
    """One command of a plan.

    Properties, declared per class:
    - `stateless`: keeps nothing between batches; its output for a record depends on that record only.
    - `holds_records`: may output a record in a later batch than the one that brought it (windows).
    - `order_sensitive`: its output depends on the order records arrive in.
    - `passes_through`: every field it does not set reaches its output unchanged.
    - `filters`: may drop records.
    """

    id: int
    inputs: tuple[int, ...]
    fields: tuple[str, ...] | None
    span: Span | None = None

    command: ClassVar[str]
    stateless: ClassVar[bool] = True
    holds_records: ClassVar[bool] = False
    order_sensitive: ClassVar[bool] = False
    passes_through: ClassVar[bool] = False
    filters: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        NODE_CLASSES[cls.command] = cls

    def reads(self) -> frozenset[str] | None:
        """The top-level fields this node reads; None when it may read any (it keeps whole records)."""
        return frozenset().union(*(ast.field_names(e) for e in self.expressions()))

    def writes(self) -> frozenset[str]:
        """The fields this node sets (meaningful where `passes_through`)."""
        return frozenset()

    def uses(self) -> frozenset[str] | None:
        """The fields whose values this node computes with (None: any); a field it only passes on
        as it is (a bare field a `select` keeps) is read but not used. Deferred columns are decoded
        before the first node that uses them."""
        return self.reads()

    def expressions(self) -> tuple[ast.Expr, ...]:
        return ()

    def describe(self) -> str:
        return ""

    def to_json(self) -> dict:
        data = {"command": self.command}
        for field in dataclasses.fields(self):
            data[field.name] = to_data(getattr(self, field.name))
        return data


@dataclass(frozen=True)
class Plan:
    nodes: tuple[Node, ...]
    # What `check` warns of (fields that cannot exist where they are read); not part of the plan.
    warnings: tuple = dataclasses.field(default=(), compare=False, repr=False)

    def explain(self) -> str:
        """One line per node: id, command, what it does, its inputs, and the fields it outputs."""
        lines = []
        for node in self.nodes:
            inputs = ", ".join(f"#{i}" for i in node.inputs)
            fields = "(depends on input)" if node.fields is None else ", ".join(node.fields) or "-"
            parts = [f"#{node.id} {node.command}", node.describe(), f"<- {inputs}" if inputs else "", f"=> {fields}"]
            lines.append(" ".join(p for p in parts if p))
        return "\n".join(lines)

    @property
    def sinks(self) -> list[Node]:
        return [n for n in self.nodes if n.command == "into"]

    def consumers(self) -> dict[int, list[int]]:
        """{node id: the ids of the nodes reading it}."""
        found: dict[int, list[int]] = {node.id: [] for node in self.nodes}
        for node in self.nodes:
            for input_id in node.inputs:
                found[input_id].append(node.id)
        return found

    def is_chain(self) -> bool:
        """One source, each later node reading only the one before it."""
        return bool(self.nodes) and not self.nodes[0].inputs and all(
            n.inputs == (n.id - 1,) for n in self.nodes[1:]
        )

    def to_json(self) -> list[dict]:
        return [node.to_json() for node in self.nodes]

    @classmethod
    def from_json(cls, data: list[dict]) -> "Plan":
        nodes = []
        for item in data:
            node_class = NODE_CLASSES[item["command"]]
            values = {k: from_data(v) for k, v in item.items() if k != "command"}
            nodes.append(node_class(**values))
        return cls(tuple(nodes))


# ---- JSON round trip of nodes' values: AST nodes and spans are tagged with their class ----
_TAG = "$"


def _data_classes() -> dict[str, type]:
    classes = {name: value for name, value in vars(ast).items() if dataclasses.is_dataclass(value)}
    classes["Span"] = Span
    return classes


_CLASSES = _data_classes()


def to_data(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {_TAG: type(value).__name__}
        for field in dataclasses.fields(value):
            data[field.name] = to_data(getattr(value, field.name))
        return data
    if isinstance(value, (tuple, list)):
        return [to_data(item) for item in value]
    return value


def from_data(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(from_data(item) for item in value)
    if isinstance(value, dict) and _TAG in value:
        cls = _CLASSES[value[_TAG]]
        return cls(**{k: from_data(v) for k, v in value.items() if k != _TAG})
    return value
