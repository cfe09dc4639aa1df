"""Projection pushdown: which `input_event` keys a plan reads, when that is all it reads.

Most detections read a handful of keys of each event, always as `map_get(input_event, "key")`,
and drop the event before anything else sees it. For such a plan the input can be decoded for
just those keys (spl_lite/io/projection.py). Keys that are only carried to the output past a
filter are deferred: decoded for the rows that are left when something reads them. A plan whose
records reach a sink with their event in them (most G1 detections: filter, then write every field)
can be served too, the events then decoded whole for the records that reach the sink
(events_written).
"""
from __future__ import annotations

from operator import attrgetter

from ...functions.cast import ucast_only_checks
from ...io.sources import ENRICHED_FIELDS, SOURCES
from ...syntax import ast
from ..commands.eval import Eval
from ..commands.select import Select
from ..commands.sink import Sink
from ..commands.source import Source
from ..logical import Node, Plan

_EVENT = "input_event"
_DATAMODELS = "_datamodels"  # a record's field and, the same value, its event's key (io/sources.py)


def keys_read(plan: Plan) -> frozenset[str] | None:
    """The `input_event` keys the plan reads, when that is all it reads of its SSA source records
    (a projection can serve it), else None.

    Every path from each source goes through stateless nodes that read fields only through their
    expressions, use `input_event` only as `map_get(input_event, "literal")` and set none of the
    source's fields, until a node that keeps only fields it names (select, fields) cuts them off.
    """
    head = _head(plan)
    return None if head is None else head[0]


def events_written(plan: Plan) -> frozenset[str] | None:
    """The keys as keys_read finds them, also for a plan that needs its records' other fields: whose
    records reach a sink before any node cuts those off (the sink writes each event whole, decoded
    late for the records that reach it), that reads `_datamodels` (decoded as the event's key) or
    sets `body`, or that keeps state without holding the records. None where even that cannot
    serve the plan."""
    head = _head(plan, to_sinks=True)
    return None if head is None else head[0]


def _head(plan: Plan, to_sinks: bool = False) -> tuple[frozenset[str], list[Node]] | None:
    """(keys read, the nodes from the sources up to and including the cuts) for keys_read and,
    `to_sinks`, events_written."""
    keys: set[str] = set()
    nodes: dict[int, Node] = {}
    consumers = plan.consumers()
    sources = [node for node in plan.nodes if isinstance(node, Source)]
    if not sources:
        return None
    for source in sources:
        spec = SOURCES.get(source.name)
        if spec is None or spec.shape != "ssa" or spec.fields != ENRICHED_FIELDS:
            return None
        pending = list(consumers[source.id])
        if not pending:
            return None
        while pending:
            node = plan.nodes[pending.pop()]
            if to_sinks and isinstance(node, Sink):
                continue  # it writes the events whole (decoded late); nothing reads them after
            found = _keys_of_node(node, to_sinks)
            if found is None:
                return None
            node_keys, cuts = found
            keys |= node_keys
            nodes[node.id] = node
            if not cuts:
                following = consumers[node.id]
                if not following:
                    return None  # the records reach the end of the plan with the event in them
                pending.extend(following)
    return frozenset(keys), list(nodes.values())


def _keys_of_node(node: Node, to_sinks: bool = False) -> tuple[set[str], bool] | None:
    """(keys read, whether the node drops the source's fields), or None if it needs whole events.

    `to_sinks`, the records carry all the source's fields (io/sources.py): `_datamodels` may be
    read (decoded as the event's key of that name), `_datamodels` and `body` set or kept, and a
    node may keep state if it does not hold records that still carry the event past their batch.
    Only `input_event` is still read by key alone."""
    reads = node.reads()
    if reads is None or isinstance(node, Sink):
        return None
    cuts = not node.passes_through
    if not node.stateless and not (to_sinks and (cuts or not node.holds_records)):
        return None
    expressions = node.expressions()
    read_directly = reads - set().union(*map(ast.field_names, expressions))
    keys: set[str] = set()
    if to_sinks:
        keys |= read_directly & {_DATAMODELS}
        if _EVENT in read_directly:
            return None
    elif read_directly & set(ENRICHED_FIELDS):
        return None
    made = node.fields if cuts else node.writes()
    if made is None:
        return None
    set_fields = {name.split(".")[0] for name in made} & set(ENRICHED_FIELDS)
    if set_fields - ({"_datamodels", "body"} if to_sinks else set()):
        return None
    for expression in expressions:
        found = _keys_of_expression(expression, to_sinks)
        if found is None:
            return None
        keys |= found
    return keys, cuts


def deferred_keys(plan: Plan) -> frozenset[str]:
    """Keys of a projected plan that are better decoded late, for the rows still there when
    something reads them (DeferredColumn): each is assigned on its own, `name =
    map_get(input_event, "key")` or under a `ucast` that only checks the type, to a field that
    nothing reads before a filter after the head has dropped rows. In the reference detection
    the command line and the device and user ids are decoded for a few dozen records per million.

    The rest of the plan must be one chain of nodes that hold no records between batches and say
    which fields they read, so that no kept block of lines outlives its batch.
    """
    head = _head(plan)
    if head is None:
        return frozenset()
    head_nodes = head[1]
    head_ids = {node.id for node in head_nodes}
    rest = [node for node in plan.nodes if node.id not in head_ids and not isinstance(node, Source)]
    if any(node.holds_records or (node.reads() is None and not isinstance(node, Sink)) for node in rest):
        return frozenset()
    if any(node.inputs != (previous.id,) for previous, node in zip([max(head_nodes, key=attrgetter("id"))] + rest, rest)):
        return frozenset()  # branches, or a head that is not one chain
    carried: dict[str, set[str]] = {}  # key -> the fields it is assigned to on its own
    blocked: set[str] = set()  # keys read some other way
    fields_read: set[str] = set()
    for node in head_nodes:
        expressions: list[ast.Expr] = []
        for name, expression in _assignments(node):
            key = _carried_key(expression)
            if key is None:
                expressions.append(expression)
            else:
                carried.setdefault(key, set()).add(name)
        for expression in expressions:
            blocked |= _keys_of_expression(expression) or set()
            fields_read |= ast.field_names(expression)
    fields = {name: key for key, names in carried.items() for name in names}
    for node in rest:
        if isinstance(node, Sink):
            return frozenset()  # no filter at all: every row is written
        fields_read |= _fields_read_by(node)
        if node.filters:
            break
        if isinstance(node, Select):  # bare fields go on, perhaps under other names
            fields = {alias: fields[e.path[0]] for alias, e in node.items
                      if isinstance(e, ast.Field) and e.path[0] in fields}
    blocked |= {fields[name] for name in fields_read if name in fields}
    return frozenset(key for key, names in carried.items() if key not in blocked and not names & fields_read)


def _assignments(node: Node) -> list[tuple[str | None, ast.Expr]]:
    """(field set, expression) of an eval; the reading expressions of any other node, setting none."""
    if isinstance(node, Eval):
        return list(node.assignments)
    return [(None, e) for e in _reading_expressions(node)]


def _reading_expressions(node: Node) -> tuple[ast.Expr, ...]:
    """The expressions of a node that read fields: the bare fields a select or `fields` keeps only
    pass their values on."""
    if node.passes_through:
        return node.expressions()
    return tuple(e for e in node.expressions() if not isinstance(e, ast.Field))


def _fields_read_by(node: Node) -> set[str]:
    if node.passes_through:
        return set(node.reads() or ())
    return set().union(*map(ast.field_names, _reading_expressions(node)))


def _carried_key(expression: ast.Expr) -> str | None:
    """The key of `map_get(input_event, "key")`, alone or under a ucast that only checks."""
    if isinstance(expression, ast.Call) and expression.name == "ucast" and len(expression.args) == 3:
        value, target, default = expression.args
        if not (isinstance(target, ast.Literal) and type(target.value) is str and isinstance(default, ast.Literal)):
            return None
        try:
            if not ucast_only_checks(target.value):
                return None
        except ValueError:
            return None
        expression = value
    return _event_key(expression)


def _keys_of_expression(expression: ast.Expr, source_fields: bool = False) -> set[str] | None:
    """Keys read as `map_get(input_event, "key")`; None if a source field is used any other way,
    but with `source_fields` (the records carry them, io/sources.py) only `input_event` is:
    `_datamodels` is read as its event's key of that name, and `body` as it is."""
    keys: set[str] = set()
    sanctioned: set[int] = set()
    nodes = list(ast.walk(expression))
    for node in nodes:
        key = _event_key(node)
        if key is not None:
            keys.add(key)
            sanctioned.add(id(node.args[0]))
    for node in nodes:
        if isinstance(node, ast.Field) and node.path[0] in ENRICHED_FIELDS and id(node) not in sanctioned:
            if not source_fields or node.path[0] == _EVENT:
                return None
            if node.path[0] == _DATAMODELS:
                keys.add(_DATAMODELS)
    return keys


def _event_key(node) -> str | None:
    """The key of `map_get(input_event, "key")`, if the node is that call."""
    if isinstance(node, ast.Call) and node.name == "map_get" and len(node.args) == 2:
        event, key = node.args
        if (isinstance(event, ast.Field) and event.path == (_EVENT,)
                and isinstance(key, ast.Literal) and type(key.value) is str):
            return key.value
    return None
