"""Blocks of JSON lines that a msgspec decoder can read exactly as orjson reads each line.

Shared by the decoders that read only some keys of each line (projection.py, windows_columns.py):
they decode a whole block at once, and return "declined" (None) for any block where that might
differ from the whole-event path, which then reads it line by line.
"""
from __future__ import annotations

import sys

import msgspec
import numpy as np

_DEFAULT_RECURSION_LIMIT = 1000


def object_lines(block: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """Where each line starts and ends (before its newline), if every line starts with `{` and
    ends with `}` (before an optional `\r`) and the block is UTF-8, else None.

    msgspec reads a block as a stream of documents, wherever the newlines are; orjson reads line by
    line. In this shape no document can span two lines (the next line would have to go on with `,`
    or a closing bracket) and every line starts one, so if msgspec finds as many documents as there
    are lines, they are the lines. A blank line or a document spread over several lines fails the
    shape; two documents on one line, the count."""
    if not block:
        return None
    data = np.frombuffer(block, dtype=np.uint8)
    newlines = np.array(_newlines(block), dtype=np.intp)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    if starts[-1] == len(data):  # the block ends with a newline: no line after it
        starts, ends = starts[:-1], ends[:-1]
    last = ends - 1
    last[data[np.maximum(last, 0)] == 13] -= 1  # before a \r
    if (ends > starts).all() and (last >= starts).all() and (data[starts] == 123).all() and (data[last] == 125).all():
        # orjson rejects a line that is not UTF-8 even where the key is unread; msgspec skips it unread.
        return (starts, ends) if block.isascii() or is_utf8(data) else None
    return None


def _newlines(block: bytes) -> list[int]:
    # memchr from line to line: lines are long, so this beats comparing every byte in numpy.
    found, find = [], block.find
    at = find(b"\n")
    while at != -1:
        found.append(at)
        at = find(b"\n", at + 1)
    return found


def is_utf8(data: np.ndarray) -> bool:
    """Whether these bytes are UTF-8. An ASCII byte is a character of its own and never part of a
    longer sequence, so the bytes are UTF-8 exactly when each run of non-ASCII bytes between them
    is; the runs (usually a small part of the text) are checked together, a space between each."""
    high = np.flatnonzero(data >= 0x80)
    if not len(high):
        return True
    run_starts = np.flatnonzero(np.diff(high) > 1) + 1
    runs = np.insert(data[high], run_starts, 0x20)
    try:
        runs.tobytes().decode()
    except UnicodeDecodeError:
        return False
    return True


def schema_decode(decoder: msgspec.json.Decoder, block: bytes) -> list:
    """The documents of a block. msgspec nests as deep as Python's recursion limit allows, which a
    run raises above 1,024 (values.py); under the default limit it stops short of orjson's 1,024
    levels, so a line nested that deep raises RecursionError and is left to orjson, which decides."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_DEFAULT_RECURSION_LIMIT)
    try:
        return decoder.decode_lines(block)
    finally:
        sys.setrecursionlimit(limit)


def schema_records(decoder: msgspec.json.Decoder, block: bytes) -> tuple[list, tuple[np.ndarray, np.ndarray]] | None:
    """A block decoded with a schema, one record a line, with each line's bounds; None where that
    cannot be exact: not one `{...}` object a line, a value the schema refuses, two documents on a line."""
    bounds = object_lines(block)
    if bounds is None:
        return None
    try:
        records = schema_decode(decoder, block)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None
    return (records, bounds) if len(records) == len(bounds[0]) else None
