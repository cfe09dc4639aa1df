"""The decoder protocol: `decode(block)` gives the block's events, or None when the decoder declines.

A run reads with one decoder, which the physical plan chooses (plan/physical.py): WholeDecoder, every
key of every line with orjson, which takes any block; or ProjectedDecoder (io/projection.py), only
the keys the searches read, which declines a block it cannot decode exactly as orjson would. A
declined block is decoded whole: whole decoding is the plain path beside every other.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Collection, NamedTuple, Protocol

import orjson

from .framing import Block

if TYPE_CHECKING:
    from ..core.batch import ProjectedMaps


class Decoded(NamedTuple):
    """A block's events (a list of whole events, or the ProjectedMaps of some keys), and its lines
    that are no JSON object as (line number, reason, the line's bytes)."""

    events: "list[dict] | ProjectedMaps"
    bad: list[tuple[int, str, bytes]]


class Decoder(Protocol):
    keys: "Collection[str] | None"  # the keys of each event it decodes; None: all of them
    deferred: frozenset[str]  # of those, the keys left in the lines until read

    def decode(self, block: Block) -> Decoded | None: ...


class WholeDecoder:
    """Every line whole, with orjson; never declines."""

    keys = None
    deferred: frozenset[str] = frozenset()

    def decode(self, block: Block) -> Decoded:
        return Decoded(*decode_lines(block.lines, block.first_line))


def decode_lines(lines: list[bytes], first_line_no: int) -> tuple[list[dict], list[tuple[int, str, bytes]]]:
    """(events, bad lines as (line number, reason, raw bytes)). All lines at C speed when they are
    all good; line by line only for lines with a bad one. Blank lines are skipped silently."""
    loads = orjson.loads
    try:
        events = [loads(line) for line in lines]
        if all(event.__class__ is dict for event in events):
            return events, []
    except orjson.JSONDecodeError:
        pass
    events, bad = [], []
    for line_no, line in enumerate(lines, first_line_no):
        if not line.strip():
            continue
        try:
            event = loads(line)
        except orjson.JSONDecodeError as error:
            bad.append((line_no, _json_error(error.args[0]), line))
            continue
        if event.__class__ is not dict:
            bad.append((line_no, f"expected a JSON object, found {JSON_TYPES.get(type(event), 'a value')}", line))
            continue
        events.append(event)
    return events, bad


JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true/false",
              type(None): "null"}


def _json_error(message: str) -> str:
    if "UTF-8" in message:
        return f"invalid UTF-8 ({message})"
    if "depth limit" in message or "recursion" in message.lower():
        return f"invalid JSON: nested deeper than orjson's 1,024 levels ({message})"
    return f"invalid JSON ({message})"
