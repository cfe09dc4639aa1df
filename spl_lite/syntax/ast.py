"""The syntax tree: small frozen dataclasses, each carrying the Span of text it came from."""
from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from operator import attrgetter
from typing import Any, Callable, Iterator, Union

from ..core.errors import Span


# ---- expressions ----
@dataclass(frozen=True)
class Literal:
    """A string, number, boolean or null written in the search."""

    value: Any
    span: Span


@dataclass(frozen=True)
class Regex:
    """A `/pattern/flags` literal; the pattern is kept as written (Java syntax)."""

    pattern: str
    flags: str
    span: Span


@dataclass(frozen=True)
class Duration:
    """`300s`, `10m`: a length of event time, in milliseconds."""

    millis: int
    text: str
    span: Span


@dataclass(frozen=True)
class Field:
    """A field reference; `a.b.c` reads key b, then c, of the map in field a (spec 2.6)."""

    path: tuple[str, ...]
    span: Span

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class ListLiteral:
    items: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class MapLiteral:
    entries: tuple[tuple["Expr", "Expr"], ...]
    span: Span


@dataclass(frozen=True)
class NamedArgument:
    name: str
    value: "Expr"
    span: Span


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple["Expr | NamedArgument", ...]
    span: Span
    name_span: Span


@dataclass(frozen=True)
class Unary:
    """`-x` (op "-") or `NOT x` (op "not")."""

    op: str
    operand: "Expr"
    span: Span


@dataclass(frozen=True)
class Logical:
    """`a AND b AND c` or `a OR b OR c`, flattened: corpus searches chain hundreds of ORs."""

    op: str
    operands: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class Binary:
    """Arithmetic, comparison and LIKE; `==` is stored as `=`; `NOT LIKE` is NOT around a LIKE."""

    op: str
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class In:
    value: "Expr"
    options: tuple["Expr", ...]
    negated: bool
    span: Span


@dataclass(frozen=True)
class IsNull:
    value: "Expr"
    negated: bool
    span: Span


@dataclass(frozen=True)
class Index:
    target: "Expr"
    index: "Expr"
    span: Span


Expr = Union[
    Literal, Regex, Duration, Field, ListLiteral, MapLiteral, Call, Unary, Logical, Binary, In, IsNull, Index
]


# ---- commands ----
@dataclass(frozen=True)
class Variable:
    """`$name`: a stored pipeline."""

    name: str
    span: Span


@dataclass(frozen=True)
class From:
    source: Call | Variable | Field
    span: Span


@dataclass(frozen=True)
class Into:
    sink: Call | Field
    span: Span


@dataclass(frozen=True)
class Assignment:
    target: Field
    value: Expr
    span: Span


@dataclass(frozen=True)
class Eval:
    assignments: tuple[Assignment, ...]
    span: Span


@dataclass(frozen=True)
class Where:
    predicate: Expr
    span: Span


@dataclass(frozen=True)
class SelectItem:
    value: Expr
    alias: Field | None
    span: Span


@dataclass(frozen=True)
class Select:
    items: tuple[SelectItem, ...]
    span: Span


@dataclass(frozen=True)
class Fields:
    """`fields a, b` keeps, `fields - a, b` drops."""

    drop: bool
    names: tuple[Field, ...]
    span: Span


@dataclass(frozen=True)
class RenameItem:
    old: Field
    new: Field
    span: Span


@dataclass(frozen=True)
class Rename:
    items: tuple[RenameItem, ...]
    span: Span


@dataclass(frozen=True)
class Union_:
    variables: tuple[Variable, ...]
    span: Span


@dataclass(frozen=True)
class Aggregation:
    call: Call
    alias: Field | None
    span: Span


@dataclass(frozen=True)
class Stats:
    aggregations: tuple[Aggregation, ...]
    group_by: tuple[Field | Call, ...]
    span: Span


@dataclass(frozen=True)
class KeywordArgument:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True)
class GenericCommand:
    """Any command without syntax of its own: `name key=value ... "positional"`."""

    name: str
    args: tuple[KeywordArgument | Literal | Regex, ...]
    span: Span
    name_span: Span


Command = Union[From, Into, Eval, Where, Select, Fields, Rename, Union_, Stats, GenericCommand]


@dataclass(frozen=True)
class Pipeline:
    commands: tuple[Command, ...]
    span: Span


@dataclass(frozen=True)
class Binding:
    variable: Variable
    pipeline: Pipeline
    span: Span


@dataclass(frozen=True)
class Program:
    statements: tuple[Pipeline | Binding, ...]
    span: Span


_PARTS: dict[type, tuple[str, ...] | None] = {}


def node_fields(node_type: type) -> tuple[str, ...] | None:
    """The field names of an AST node class, None for any other type; looked up once per class
    (dataclasses.fields() per visit was a third of the planner's time over the corpus)."""
    try:
        return _PARTS[node_type]
    except KeyError:
        names = tuple(f.name for f in fields(node_type)) if is_dataclass(node_type) and node_type is not Span else None
        _PARTS[node_type] = names
        return names


_PARTS_REVERSED: dict[type, Callable[[Any], tuple] | None] = {}


def _parts_reversed(node_type: type) -> Callable[[Any], tuple] | None:
    """A function giving a node's fields, last first (what `walk` stacks); None for a non-node."""
    try:
        return _PARTS_REVERSED[node_type]
    except KeyError:
        names = node_fields(node_type)
        getter = None
        if names:
            several = attrgetter(*reversed(names))
            getter = several if len(names) > 1 else (lambda node, one=several: (one(node),))
        elif names is not None:
            getter = lambda node: ()  # noqa: E731 (a node without fields)
        _PARTS_REVERSED[node_type] = getter
        return getter


def walk(node: Any) -> Iterator[Any]:
    """Every AST node under `node`, itself first, depth-first without recursion."""
    stack = [node]
    pop, extend = stack.pop, stack.extend
    while stack:
        current = pop()
        kind = type(current)
        if kind is tuple:
            extend(reversed(current))
            continue
        parts = _PARTS_REVERSED.get(kind, _MISSING)
        if parts is _MISSING:
            parts = _parts_reversed(kind)
        if parts is None:
            continue
        yield current
        extend(parts(current))


_MISSING = object()


def fold(node: Any, combine: Callable[[Any, list[Any]], Any],
         settled: Callable[[Any], Any] | None = None) -> Any:
    """Bottom-up over `node` without recursion: each AST node's result is `combine(node, results of
    its fields, in field order)`; a tuple's is the tuple of its items' results; other values are
    their own result. `settled(node)`, when given and not None, is a node's result already known:
    what is under it is not visited."""
    results: list[Any] = []
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        is_tuple = type(current) is tuple
        parts_of = None
        if not is_tuple:
            parts_of = _PARTS_REVERSED.get(type(current), _MISSING)
            if parts_of is _MISSING:
                parts_of = _parts_reversed(type(current))
            if parts_of is None:
                results.append(current)
                continue
            if settled is not None and not children_done:
                known = settled(current)
                if known is not None:
                    results.append(known)
                    continue
        count = len(current) if is_tuple else len(node_fields(type(current)))
        if not children_done:
            stack.append((current, True))
            stack.extend([(part, False) for part in (reversed(current) if is_tuple else parts_of(current))])
            continue
        values = results[len(results) - count :] if count else []
        del results[len(results) - count :]
        results.append(tuple(values) if is_tuple else combine(current, values))
    return results[0]


def transform(node: Any, change: Callable[[Any], Any]) -> Any:
    """`node` rebuilt bottom-up with `change` applied to every AST node under it, without recursion."""

    def rebuild(current: Any, values: list[Any]) -> Any:
        parts = [getattr(current, name) for name in node_fields(type(current))]
        return change(type(current)(*values) if any(v is not p for v, p in zip(values, parts)) else current)

    return fold(node, rebuild)


def field_names(node: Any) -> frozenset[str]:
    """The top-level names of the fields read under `node` (`a` for `a.b.c`). Kept per node: the
    planner's rules ask it of the same expressions again and again (a library's set-up walked some
    200,000 nodes for it)."""
    found = _FIELD_NAMES.get(id(node))
    if found is not None and found[0] is node:
        return found[1]
    names = frozenset([each.path[0] for each in walk(node) if each.__class__ is Field])
    if len(_FIELD_NAMES) >= _FIELD_NAMES_KEPT:
        _FIELD_NAMES.clear()
    _FIELD_NAMES[id(node)] = (node, names)  # the node itself kept too, so that its id is not reused
    return names


_FIELD_NAMES: dict[int, tuple[Any, frozenset[str]]] = {}
_FIELD_NAMES_KEPT = 1 << 16
