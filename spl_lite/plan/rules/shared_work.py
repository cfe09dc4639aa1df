"""Work the searches of one run can share: expressions over their sources' columns.

A call that reads nothing but `input_event` (the `lower(ucast(map_get(input_event, ...)))` chains
every detection starts with) or a dotted path (`process.file.name`) depends only on the column it
reads; engine/sharing.py computes it once per batch for every search that has it, keyed by that
column and the expression's `structure`. `shared_expressions` says, before a run, which are shared.
"""
from __future__ import annotations

from dataclasses import fields

import orjson

from ...syntax import ast
from ..commands.source import Source
from ..logical import Plan

_SPAN_FIELDS = ("span", "name_span")


def structure(expr) -> tuple:
    """The expression as nested tuples of its class names and values, without positions."""

    def shape(node, values: list) -> tuple:
        kept = [v for f, v in zip(fields(node), values) if f.name not in _SPAN_FIELDS]
        return (type(node).__name__, *kept)

    return ast.fold(expr, shape)


def shareable_column(expr) -> str | None:
    """The column a shareable expression is computed from, else None."""
    if isinstance(expr, ast.Field):
        return expr.path[0] if len(expr.path) > 1 else None
    if isinstance(expr, ast.Call) and ast.field_names(expr) == {"input_event"}:
        return "input_event"
    return None


def shared_expressions(plans: list[Plan]) -> list[tuple[str, int]]:
    """(expression, how many searches have it) for each shareable expression of at least two of
    the plans over the same sources, most shared first."""
    found: dict[tuple, tuple[str, set[int]]] = {}
    for index, plan in enumerate(plans):
        sources = tuple(sorted(node.name for node in plan.nodes if isinstance(node, Source)))
        for node in plan.nodes:
            for expression in node.expressions():
                for part in ast.walk(expression):
                    if shareable_column(part) is not None:
                        found.setdefault((sources, structure(part)), (_text(part), set()))[1].add(index)
    shared = [(text, len(searches)) for text, searches in found.values() if len(searches) > 1]
    return sorted(shared, key=lambda item: (-item[1], item[0]))


def _text(expr) -> str:
    """The expression as a search would write it (calls, fields and literals are all there is to a
    shareable one)."""
    if isinstance(expr, ast.Field):
        return ".".join(expr.path)
    if isinstance(expr, ast.Literal):
        return "null" if expr.value is None else orjson.dumps(expr.value).decode()
    if isinstance(expr, ast.Call):
        return f"{expr.name}({', '.join(map(_text, expr.args))})"
    return "..."
