"""Filters known early: a `where` whose records are known before the command ahead of it runs."""
from __future__ import annotations

from ...syntax import ast
from ..logical import Plan


def filters_known_early(plan: Plan) -> dict[int, int]:
    """{node: the `where`-like filter right after it}, where the node passes every field it does not
    set through unchanged, keeps every record, and the filter, its only consumer, reads none of what
    it sets: which records the filter keeps is known before the node runs. The engine then applies
    the filter first and asks the node for the kept records' output only (a stateful node still
    sees every record)."""
    consumers = plan.consumers()
    found = {}
    for node in plan.nodes:
        if not node.filters or len(node.inputs) != 1:
            continue
        before = plan.nodes[node.inputs[0]]
        if before.id + 1 != node.id or len(consumers[before.id]) != 1 or not before.inputs:
            continue
        if before.passes_through and not before.filters and not before.holds_records:
            if not set().union(*map(ast.field_names, node.expressions())) & before.writes():
                found[before.id] = node.id
    return found
