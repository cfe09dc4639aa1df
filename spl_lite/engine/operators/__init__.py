"""One operator per logical node class: what each command does to batches of records.

`build(node, context)` makes the operator of a node; each module registers its builders with
`@builds(NodeClass)`.
"""
from __future__ import annotations

from importlib import import_module
from typing import Callable

from ...plan.logical import Node
from ..operator import Operator

_BUILDERS: dict[type[Node], Callable[[Node, object], Operator]] = {}


def builds(node_class: type[Node]):
    def register(builder):
        _BUILDERS[node_class] = builder
        return builder

    return register


def build(node: Node, context) -> Operator:
    return _BUILDERS[type(node)](node, context)


for _module in ("records", "stats", "streaming"):
    import_module(f"{__name__}.{_module}")
