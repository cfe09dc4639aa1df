"""Documents read by key: which OCSF-shaped sources of a plan use their documents only by key.

Flat SSA events reach the OCSF sources (`read_ba_enriched_events`, G4 `from source`) as documents
(io/ocsf.py from_enriched). Where a search reads those documents only key by key, down to values
that are no maps, they can be handed over as columns computed from the events' own
(io/ocsf.py DocumentsView), none of them built. This check proves it, source by source.

From the source on, it follows the fields holding a map of the document (`input_event`; the
document's maps `metadata`, `device`, `process`, `actor` of `from source`) and those an `eval` sets
to one of their maps, each with its place in the document. Each use of such a field must be a key
lookup (`map_get(f, "literal")`, a dotted path `f.a.b`) or a `ucast(f, "map<...>", null)`, again
looked up, or assigned by `eval` to another field; a lookup ending on a value (not a map) is an
ordinary column from there on. The fields can only pass through `eval`, `where` and `fields -`
until a `fields` or `select` that does not keep them, or a sink, which writes the maps it gets
(built then, for the records written only: core/batch.py Batch.records); anything else (a
function given the map, a comparison, a stateful command, a union) makes the source read whole
documents.
"""
from __future__ import annotations

from ...functions.cast import parse_type
from ...io.formats import DOCUMENT_KEYS
from ...io.ocsf import MAP_PATHS
from ...io.sources import SOURCES
from ...syntax import ast
from ..commands.eval import Eval
from ..commands.fields import Fields
from ..commands.select import Select
from ..commands.sink import Sink
from ..commands.source import Source
from ..commands.where import Where
from ..logical import Node, Plan


class _Whole(Exception):
    """A document is used other than by key."""


class _Map:
    """An expression's value: the map at `path` of each document."""

    __slots__ = ("path",)

    def __init__(self, path: tuple[str, ...]):
        self.path = path


def document_keys(plan: Plan, read_by_key: frozenset[int] | None = None) -> frozenset[str] | None:
    """The keys of the flat events a plan reads, when it reads only OCSF-shaped sources and each
    of them only by key (`read_by_key`: sources_read_by_key of the plan, if known): those its
    documents are made of (formats.DOCUMENT_KEYS), so that a projection of them serves it
    (plan/physical.py). None for any other plan."""
    sources = [node for node in plan.nodes if isinstance(node, Source)]
    if not sources or any(SOURCES[node.name].shape == "ssa" for node in sources):
        return None
    if (sources_read_by_key(plan) if read_by_key is None else read_by_key) != {node.id for node in sources}:
        return None
    return DOCUMENT_KEYS


def sources_read_by_key(plan: Plan) -> frozenset[int]:
    """The ids of the plan's OCSF-shaped sources whose documents every path of the plan reads only by key."""
    found = set()
    for node in ocsf_sources(plan):
        try:
            _follow(plan, node)
        except _Whole:
            continue
        found.add(node.id)
    return frozenset(found)


def ocsf_sources(plan: Plan) -> list[Source]:
    """The plan's sources of OCSF documents (flat events are converted for them)."""
    return [node for node in plan.nodes if isinstance(node, Source) and SOURCES[node.name].shape != "ssa"]


def _follow(plan: Plan, source: Source) -> dict[int, dict[str, tuple[str, ...]]]:
    """The fields holding maps of the source's documents after each node; raises _Whole unless
    every use of them is by key."""
    if SOURCES[source.name].shape == "ocsf":  # `from source`: the document's top-level keys are the fields
        held = {path[0]: path for path in MAP_PATHS if len(path) == 1}
    else:
        held = {"input_event": ()}
    maps_of: dict[int, dict[str, tuple[str, ...]]] = {source.id: held}
    for node in plan.nodes:
        if node.id == source.id:
            continue
        inputs = [maps_of[i] for i in node.inputs if maps_of.get(i)]
        if not inputs:
            continue
        if len(node.inputs) > 1:
            raise _Whole
        maps_of[node.id] = _through(node, dict(inputs[0]))
    return maps_of


def _through(node: Node, held: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The fields holding maps after `node`, given those before it."""
    if isinstance(node, Eval):
        for name, expression in node.assignments:
            if "." in name:
                raise _Whole  # a field named `a.b` would be read instead of the path a.b
            value = _value_of(expression, held)
            if value is None:
                held.pop(name, None)
            else:
                held[name] = value.path
        return held
    if isinstance(node, Where):
        for expression in node.expressions():
            if _value_of(expression, held) is not None:
                raise _Whole
        return held
    if isinstance(node, Fields) and node.drop:
        for field in node.names:
            held.pop(field.name, None)
        return held
    if isinstance(node, Sink):
        return {}
    if isinstance(node, (Fields, Select)):
        for expression in node.expressions():
            if _value_of(expression, held) is not None:
                raise _Whole  # the output would hold the map
        return {}
    raise _Whole


def _value_of(expression: ast.Expr, held: dict[str, tuple[str, ...]]) -> _Map | None:
    """The map of the documents `expression` is, None for a value that is not one of them; raises
    _Whole where a map is used other than by key."""
    if not ast.field_names(expression) & held.keys():
        return None

    def combine(node, parts: list) -> _Map | None:
        if isinstance(node, ast.Field):
            path = held.get(node.path[0])
            if path is None:
                return None
            return _looked_up(path, node.path[1:])
        if isinstance(node, ast.Call):
            arguments = parts[1]
            if node.name == "for_each" and ast.field_names(node) & held.keys():
                raise _Whole  # its body reads outer fields row by row
            if arguments and isinstance(arguments[0], _Map) and not any(isinstance(a, _Map) for a in arguments[1:]):
                if node.name == "map_get" and _literal_text(node.args[1]):
                    return _looked_up(arguments[0].path, (node.args[1].value,))
                if node.name == "ucast" and _to_map_or_null(node.args):
                    return arguments[0]
        if any(isinstance(part, _Map) for part in _flat(parts)):
            raise _Whole
        return None

    return ast.fold(expression, combine)


def _looked_up(path: tuple[str, ...], keys: tuple[str, ...]) -> _Map | None:
    for key in keys:
        path += (key,)
        if path not in MAP_PATHS:
            return None  # a value (or null): an ordinary column from here on
    return _Map(path)


def _literal_text(expression: ast.Expr) -> bool:
    return isinstance(expression, ast.Literal) and type(expression.value) is str


def _to_map_or_null(arguments: tuple) -> bool:
    """`ucast(x, "map<...>", null)`: a map or null passes as it is."""
    if len(arguments) != 3 or not _literal_text(arguments[1]):
        return False
    if not (isinstance(arguments[2], ast.Literal) and arguments[2].value is None):
        return False
    try:
        return parse_type(arguments[1].value) == "map"
    except (TypeError, ValueError):
        return False


def _flat(parts) -> list:
    found, stack = [], list(parts)
    while stack:
        part = stack.pop()
        if isinstance(part, tuple):
            stack.extend(part)
        else:
            found.append(part)
    return found
