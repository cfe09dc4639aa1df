"""Work the searches of one run can share: expressions over one column.

An expression that reads one field and nothing else (the `lower(ucast(map_get(input_event, ...)))`
chains every detection starts with, a dotted path `process.file.name`, `x LIKE "7z%"`) depends only
on that column; engine/sharing.py computes it once per batch for every search whose batch holds the
very same column object, keyed by that column and the expression's `structure` with the field's
name left out. So a result shared once is shared again downstream: `eval pf = process.file` gives
every search the same column, and `pf.path`, `lower(pf.name)` over it are shared too, whatever each
search named it. `shared_expressions` says, before a run, which expressions over the sources'
own columns are shared (those further down depend on the run).
"""
from __future__ import annotations

import orjson

from ...functions import FUNCTIONS
from ...syntax import ast
from ..commands.source import Source
from ..logical import Plan

_SPAN_FIELDS = ("span", "name_span")


def structure(expr, column: str | None = None, known: dict | None = None) -> tuple:
    """The expression as nested tuples of its class names and values, without positions; with
    `column`, the fields reading it without its name (the column itself stands for it). `known`
    keeps the structures of the nodes met, so that asking for each node of a chain in turn (as the
    compiler does, inner ones first) walks each node once."""

    def shape(node, values: list) -> tuple:
        if column is not None and type(node) is ast.Field and node.path[0] == column:
            found = ("Field", node.path[1:])
        else:
            kept = [_value(v) for name, v in zip(ast.node_fields(type(node)), values) if name not in _SPAN_FIELDS]
            found = (type(node).__name__, *kept)
        if known is not None:
            known[id(node), column] = (node, found)  # the node is held: its id stays its own
        return found

    def settled(node) -> tuple | None:
        found = known.get((id(node), column))
        return found[1] if found is not None and found[0] is node else None

    return ast.fold(expr, shape, None if known is None else settled)


def _value(value) -> object:
    """A value of a node as a key: tagged with its type, as 1, 1.0 and True are one key of a dict
    but three values (and 0.0 and -0.0 two: a float by its text)."""
    if value.__class__ is tuple:
        return value
    return (value.__class__.__name__, repr(value) if value.__class__ is float else value)


# for_each and the iterator(list, "var") it takes (no function of its own) bind a variable.
_BINDING = frozenset(("for_each", "iterator"))


def shareable_column(expr) -> str | None:
    """The one column a shareable expression is computed from, else None: a dotted path, or any
    other expression but a bare field or literal reading one field, calling nothing whose value
    changes between calls (`time()`) and binding no variable (`for_each`)."""
    if isinstance(expr, ast.Field):
        return expr.path[0] if len(expr.path) > 1 else None
    column = None
    # One walk that stops at a second field (most large expressions, a `create_map` of many
    # fields, read several): a compiler asks this of every node of every expression.
    for part in ast.walk(expr):
        kind = type(part)
        if kind is ast.Field:
            if column is None:
                column = part.path[0]
            elif part.path[0] != column:
                return None
        elif kind is ast.Call and (part.name in _BINDING or not FUNCTIONS[part.name].params):
            return None
    return column



# The calls a condition evaluated per distinct value may hold: over a dictionary-encoded column,
# the plain path runs them once per distinct value too (memoised, or the text searched for in
# every distinct value at once), so both make the same results and count the same record errors.
_PER_VALUE_CALLS = frozenset(("match_regex", "match", "like"))
_PER_VALUE_NODES = (ast.Logical, ast.In, ast.IsNull, ast.Field, ast.Literal, ast.Regex)


def condition_per_value(expr) -> bool:
    """Whether a shareable expression is a condition (comparisons with `=`, `!=`, `like`, `in`,
    `is null`, match_regex and like, joined by and, or, xor, not) that gives one field's rows what it
    gives that field's distinct values: it can be evaluated per distinct value (engine/sharing.py)."""
    for part in ast.walk(expr):
        kind = type(part)
        if kind is ast.Binary:
            if part.op not in ("=", "!=", "like"):
                return False
        elif kind is ast.Unary:
            if part.op != "not":
                return False
        elif kind is ast.Call:
            if part.name not in _PER_VALUE_CALLS:
                return False
        elif kind not in _PER_VALUE_NODES:
            return False
    return True


def dotted_names(expr) -> frozenset[str]:
    """The dotted paths an expression reads (`a.b`): a field literally of that name, where a batch
    has one, is read instead (spec 2.6), so the expression is then not the column's alone."""
    return frozenset(part.name for part in ast.walk(expr) if isinstance(part, ast.Field) and len(part.path) > 1)


def shared_expressions(plans: list[Plan]) -> list[tuple[str, int]]:
    """(expression, how many searches have it) for each expression over the sources' columns that
    at least two of the plans over the same sources have, most shared first."""
    found: dict[tuple, tuple[str, set[int]]] = {}
    known: dict = {}  # structure()'s memo: an expression's parts come after it, their structures known
    for index, plan in enumerate(plans):
        sources = tuple(sorted(node.name for node in plan.nodes if isinstance(node, Source)))
        for node in plan.nodes:
            for expression in node.expressions():
                for part in ast.walk(expression):
                    if _over_the_source(part):
                        found.setdefault((sources, structure(part, None, known)), (_text(part), set()))[1].add(index)
    shared = [(text, len(searches)) for text, searches in found.values() if len(searches) > 1]
    return sorted(shared, key=lambda item: (-item[1], item[0]))


def _over_the_source(expr) -> bool:
    """Shared whatever the searches do before it: a dotted path, or a call reading only the event."""
    if isinstance(expr, ast.Field):
        return len(expr.path) > 1
    return isinstance(expr, ast.Call) and shareable_column(expr) == "input_event"


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
