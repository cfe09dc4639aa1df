"""Framing: cutting input files into pieces of whole lines: byte ranges for workers and the blocks of a range."""
from __future__ import annotations

import codecs
import os
from typing import BinaryIO, Iterator

from .evtx import MAGIC as EVTX_MAGIC


def can_split(path: str) -> bool:
    """Only a plain file can be cut into byte ranges (not stdin, not gzip)."""
    if path == "-" or not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return False  # unreadable: the reader says so (exit 3)
    # An EVTX file is binary, not lines; a file with a byte-order mark is read recoded (UTF-16).
    return head[:2] not in (b"\x1f\x8b", codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) and head != EVTX_MAGIC \
        and not head.startswith(codecs.BOM_UTF8)


def byte_ranges(path: str, size: int) -> list[tuple[int, int]]:
    """[start, end) ranges covering the file, each ending just after a newline (or at EOF)."""
    total = os.path.getsize(path)
    ranges, start = [], 0
    with open(path, "rb") as handle:
        while start < total:
            end = _next_line_start(handle, min(start + size, total), total)
            ranges.append((start, end))
            start = end
    return ranges


def _next_line_start(handle, position: int, total: int, piece: int = 1 << 20) -> int:
    """Where the line holding byte `position` ends (just after its newline, or at EOF), found by
    reading a megabyte at a time: a file without newlines is never read into memory whole."""
    handle.seek(position)
    while position < total:
        chunk = handle.read(piece)
        if not chunk:
            break
        newline = chunk.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(chunk)
    return total


def range_blocks(handle: BinaryIO, start: int, end: int, lines: int) -> Iterator[bytes]:
    """The byte range [start, end) in pieces of about `lines` whole lines each (by the average line
    length of its start), read as they are needed rather than all at once."""
    sample = os.pread(handle.fileno(), min(end - start, 1 << 16), start)
    size = max(4096, lines * (len(sample) // max(sample.count(b"\n"), 1)))
    handle.seek(start)
    position = start
    while position < end:
        block = handle.read(min(size, end - position))
        if not block:
            break
        if not block.endswith(b"\n") and position + len(block) < end:
            block += handle.readline(end - position - len(block))
        position += len(block)
        yield block
