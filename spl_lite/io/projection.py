"""Projection pushdown: decode only the event keys a plan reads.

Most detections read a handful of keys of each event, always as `map_get(input_event, "key")`,
and drop the event with a `select` before anything else sees it. For such a plan the reader
decodes each batch of lines with a msgspec schema of just those keys: the other keys of a line are
skipped by the parser, never becoming Python objects, which makes reading several times cheaper
than decoding whole events. The batch's `input_event` column is then a ProjectedMaps.

Whatever this fast path cannot decide exactly the same way as the whole-event path goes back to it,
batch by batch: a line that is not a valid JSON object, that is not one `{...}` on its own line, that
is not UTF-8, that holds an integer orjson would read differently or is nested near orjson's depth
limit, or that has a key by which it may be something other than a flat SSA event (an
`{"input_event": ...}` record, OCSF, a raw Windows record). One difference remains, documented: a
number beyond double range in a key that is not read makes orjson reject the line; msgspec skips
the value unread and so reads the line (telling it apart would cost a scan of every byte).
"""
from __future__ import annotations

import re
import sys
from typing import Annotated, Optional, Union

from operator import attrgetter

import msgspec
import numpy as np

from .. import ast
from ..plan import Plan
from ..runtime.batch import TEXT_KINDS, ProjectedMaps, known
from .formats import NOT_FLAT_KEYS
from .sources import ENRICHED_FIELDS, SOURCES

_EVENT = "input_event"
# Commands that, before the event is dropped, may read it through the expressions they hold.
_EXPRESSION_COMMANDS = ("eval", "where")


def keys_read(plan: Plan) -> frozenset[str] | None:
    """The `input_event` keys the plan reads, when that is all it reads of its SSA source records
    (a projection can serve it), else None.

    The check is deliberately narrow: every path from each source goes through `eval` / `where`
    only, which may use `input_event` only as `map_get(input_event, "literal")` and assign none of
    the source's fields, until a `select` or `fields` keeps fields that are none of them.
    """
    keys: set[str] = set()
    consumers: dict[int, list[int]] = {}
    for node in plan.nodes:
        for input_id in node.inputs:
            consumers.setdefault(input_id, []).append(node.id)
    sources = [node for node in plan.nodes if node.command == "from"]
    if not sources:
        return None
    for source in sources:
        spec = SOURCES.get(source.params.name)
        if spec is None or spec.shape != "ssa" or spec.fields != ENRICHED_FIELDS:
            return None
        pending = list(consumers.get(source.id, ()))
        if not pending:
            return None
        while pending:
            node = plan.nodes[pending.pop()]
            found = _keys_of_node(node)
            if found is None:
                return None
            node_keys, cuts = found
            keys |= node_keys
            if not cuts:
                following = consumers.get(node.id, ())
                if not following:
                    return None  # the records reach the end of the plan with the event in them
                pending.extend(following)
    return frozenset(keys)


def _keys_of_node(node) -> tuple[set[str], bool] | None:
    """(keys read, whether the node drops the source's fields), or None if it needs whole events."""
    params = node.params
    if node.command == "eval":
        if any(name.split(".")[0] in ENRICHED_FIELDS for name, _ in params.assignments):
            return None
        expressions = [expr for _, expr in params.assignments]
        cuts = False
    elif node.command == "where":
        expressions, cuts = [params.predicate], False
    elif node.command == "select":
        if any(name.split(".")[0] in ENRICHED_FIELDS for name, _ in params.items):
            return None
        expressions, cuts = [expr for _, expr in params.items], True
    elif node.command == "fields" and not params.drop:
        expressions, cuts = list(params.names), True
    else:
        return None
    keys: set[str] = set()
    for expression in expressions:
        found = _keys_of_expression(expression)
        if found is None:
            return None
        keys |= found
    return keys, cuts


def _keys_of_expression(expression: ast.Expr) -> set[str] | None:
    """Keys read as `map_get(input_event, "key")`; None if a source field is used any other way."""
    keys: set[str] = set()
    sanctioned: set[int] = set()
    nodes = list(ast.walk(expression))
    for node in nodes:
        if isinstance(node, ast.Call) and node.name == "map_get" and len(node.args) == 2:
            event, key = node.args
            if (isinstance(event, ast.Field) and event.path == (_EVENT,)
                    and isinstance(key, ast.Literal) and type(key.value) is str):
                keys.add(key.value)
                sanctioned.add(id(event))
    for node in nodes:
        if isinstance(node, ast.Field) and node.path[0] in ENRICHED_FIELDS and id(node) not in sanctioned:
            return None
    return keys


# Any JSON value, but an integer only within int64: orjson reads larger ones as a double (or
# rejects them), which msgspec would not; such a line takes the whole-event path.
_VALUE = Union[str, Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)], float, bool, None, list, dict]
_TEXT = Optional[str]
# No JSON value passes this (every integer fails one bound), so a guard key anywhere fails the
# decode, which sends the block to the whole-event path without a check per line.
_ABSENT = Annotated[int, msgspec.Meta(ge=1, le=0)]
# msgspec cannot name a field with these characters; a key holding one is not projected.
_UNNAMEABLE = re.compile(r'["\\\x00-\x1f]')
_DEFAULT_RECURSION_LIMIT = 1000
_ORJSON_INT_MIN, _ORJSON_INT_MAX = -(2**63), 2**64 - 1
# Where a ValidationError says the value was: "... - at `$[12].process_id`".
_FAILED_KEY = re.compile(r"- at `\$\[\d+\]\.(.*)`$")


class ProjectedDecoder:
    """Decodes a batch of lines into a ProjectedMaps of `keys`, or None for the whole-event path.

    Each key is first decoded as text or null, which msgspec checks as it parses, so that the
    columns are known to hold only those (`ucast(..., "string", ...)` then has nothing to check);
    the first value of another type widens that key to any JSON value for the rest of the run.
    """

    def __init__(self, keys: frozenset[str], input_format: str = "auto"):
        self.keys = tuple(sorted(keys))
        self._guard_keys = guard_keys(input_format)
        self._text_keys = set(self.keys)
        self._decoder = self._build()
        self._getters = [attrgetter(f"k{i}") for i in range(len(self.keys))]

    def _build(self) -> msgspec.json.Decoder:
        read = [(f"k{i}", _TEXT if key in self._text_keys else _VALUE, msgspec.field(default=None, name=key))
                for i, key in enumerate(self.keys)]
        guards = [(f"g{i}", _ABSENT, msgspec.field(default=None, name=key)) for i, key in enumerate(self._guard_keys)]
        return msgspec.json.Decoder(msgspec.defstruct("ProjectedEvent", read + guards, gc=False))

    def decode_block(self, block: bytes) -> ProjectedMaps | None:
        """The events of a block of whole JSON lines, or None if the block needs the whole-event path."""
        lines = _object_lines(block)
        if not lines:
            return None
        if not block.isascii():
            try:
                block.decode()  # orjson rejects a line that is not UTF-8 even where the key is unread
            except UnicodeDecodeError:
                return None
        # msgspec nests as deep as Python's recursion limit allows, which a run raises above 1,024
        # (values.py); under the default limit it stops short of orjson's 1,024 levels, so a line
        # nested that deep is left to orjson, which decides.
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(_DEFAULT_RECURSION_LIMIT)
        try:
            while True:
                try:
                    events = self._decoder.decode_lines(block)
                    break
                except msgspec.ValidationError as error:  # also: a guard key is present
                    if not self._widen(str(error)):
                        return None
                except (msgspec.DecodeError, RecursionError):
                    return None
        finally:
            sys.setrecursionlimit(limit)
        count = len(events)
        if count != lines:  # two documents on one line
            return None
        values = {}
        for key, getter in zip(self.keys, self._getters):
            column = np.fromiter(map(getter, events), dtype=object, count=count)
            if key not in self._text_keys and _holds_wide_integer(column):
                return None
            values[key] = known(column, TEXT_KINDS if key in self._text_keys else None)
        return ProjectedMaps(values, count)

    def _widen(self, message: str) -> bool:
        """After a value that is not text: decode its key as any JSON value from now on."""
        found = _FAILED_KEY.search(message)
        if found is None or found.group(1) not in self._text_keys:
            return False  # not an object, or an integer beyond 64 bits
        self._text_keys.discard(found.group(1))
        self._decoder = self._build()
        return True


def guard_keys(input_format: str) -> tuple[str, ...]:
    """Keys that send a block to the whole-event path: they make a line a stream record, OCSF or a
    raw Windows record. With `--input-format ssa` lines are used as they are, so only a stream record
    ({"input_event": ...}) is different."""
    return ("input_event",) if input_format == "ssa" else NOT_FLAT_KEYS


def _object_lines(block: bytes) -> int:
    """The number of lines if every line starts with `{` and ends with `}` (before an optional
    `\r`), else 0.

    msgspec reads a block as a stream of documents, wherever the newlines are; orjson reads line by
    line. In this shape no document can span two lines (the next line would have to go on with `,`
    or a closing bracket) and every line starts one, so if msgspec finds as many documents as there
    are lines, they are the lines. A blank line or a document spread over several lines fails the
    shape; two documents on one line, the count."""
    data = np.frombuffer(block, dtype=np.uint8)
    if not len(data):
        return 0
    newlines = np.flatnonzero(data == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    if starts[-1] == len(data):  # the block ends with a newline: no line after it
        starts, ends = starts[:-1], ends[:-1]
    last = ends - 1
    last[data[np.maximum(last, 0)] == 13] -= 1  # before a \r
    if (ends > starts).all() and (last >= starts).all() and (data[starts] == 123).all() and (data[last] == 125).all():
        return len(starts)
    return 0


def _holds_wide_integer(values: np.ndarray) -> bool:
    """Whether a list or map among the values holds an integer orjson would read as a double
    (beyond 64 bits); the schema bounds only top-level integers."""
    stack = [v for v in values if v.__class__ is list or v.__class__ is dict]
    while stack:
        value = stack.pop()
        for item in value.values() if value.__class__ is dict else value:
            kind = item.__class__
            if kind is int and not _ORJSON_INT_MIN <= item <= _ORJSON_INT_MAX:
                return True
            if kind is list or kind is dict:
                stack.append(item)
    return False


def decoder_for(plans: list[Plan], input_format: str) -> ProjectedDecoder | None:
    """The projected decoder serving every plan of a run, if the input format allows one: only
    SSA-shaped lines can be read in part (`auto` and `ssa`); the others convert whole records."""
    if input_format not in ("auto", "ssa") or not plans:
        return None
    keys: set[str] = set()
    for plan in plans:
        found = keys_read(plan)
        if found is None:
            return None
        keys |= found
    if any(_UNNAMEABLE.search(key) for key in keys) or keys & set(guard_keys(input_format)):
        return None  # a search reading `_raw` or `EventID` reads raw records, which are converted whole
    return ProjectedDecoder(frozenset(keys), input_format)
