"""Framing: where a line of input ends, how long one may be, and where each line is.

Every reader of lines goes through a LineFramer: the reader of files and standard input, `--follow`,
the salvage of a damaged gzip file and the workers' byte ranges. Bytes go in as they are read
(`feed`, or `read` from a stream); out come Blocks of whole lines with their place (byte offset,
number of the first line, the path of a file they can be read again from), and an OverlongLine for
each line longer than the limit, which is read through without being held (spooled to a temporary
file when its bytes are wanted).
"""
from __future__ import annotations

import codecs
import os
from typing import BinaryIO, Iterable, Iterator

from .evtx import MAGIC as EVTX_MAGIC

# A longer line is rejected unread (`--max-line-bytes`); real events are a few kB.
MAX_LINE_BYTES = 16 << 20


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their newlines, split on \n only as reading a file by lines does (not on \r as
    bytes.splitlines would); a last line without a newline stays as it is."""
    lines = data.split(b"\n")
    last = lines.pop()
    lines = [line + b"\n" for line in lines]
    if last:
        lines.append(last)
    return lines


def too_long(length: int, limit: int) -> str:
    return f"line of {length:,} bytes is longer than the limit of {limit:,} (--max-line-bytes)"


class Block:
    """Whole lines of one input (the last may lack its newline at the end of input) and their place:
    `offset` of the first byte (uncompressed bytes for gzip), `first_line` its line number (from 1),
    `path` of the regular file the lines can be read again from (None: standard input, gzip, a
    recoded file, a growing file). Made from bytes or from lines; each form is made once, if asked for.
    `count`, the number of lines, is known once they are split or decoded (see `line_count`)."""

    __slots__ = ("_data", "_lines", "_size", "offset", "first_line", "path", "_count", "_framer")

    def __init__(self, data: bytes | None, offset: int, first_line: int, path: str | None = None,
                 lines: list[bytes] | None = None, framer: "LineFramer | None" = None):
        self._data, self._lines = data, lines
        self._size = None if data is None else len(data)
        self.offset, self.first_line, self.path = offset, first_line, path
        self._count = None if lines is None else len(lines)
        self._framer = framer  # to be told the count, which numbers the lines after these

    @property
    def count(self) -> int | None:
        return self._count

    @count.setter
    def count(self, lines: int) -> None:
        self._count = lines
        if self._framer is not None:
            self._framer._counted(self)
            self._framer = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = b"".join(self._lines)
        return self._data

    @property
    def lines(self) -> list[bytes]:
        if self._lines is None:
            self._lines = split_lines(self._data)
            self.count = len(self._lines)
        return self._lines

    @property
    def size(self) -> int:
        if self._size is None:
            self._size = sum(map(len, self._lines))
        return self._size

    def line_count(self) -> int:
        return self.count if self.count is not None else len(self.lines)

    def place_after(self, used: int) -> tuple[int, int]:
        """(lines, offset) of the input once the first `used` lines of this block are consumed."""
        if used == self.count:
            return self.first_line - 1 + used, self.offset + self.size
        return self.first_line - 1 + used, self.offset + sum(map(len, self.lines[:used]))


class OverlongLine:
    """A line longer than the limit, read through: its number, offset, length (with its newline)
    and, when its bytes were wanted, a temporary file holding them."""

    __slots__ = ("line_no", "offset", "length", "spool", "limit")

    def __init__(self, line_no: int, offset: int, length: int, spool: BinaryIO | None, limit: int):
        self.line_no, self.offset, self.length, self.spool, self.limit = line_no, offset, length, spool, limit

    @property
    def reason(self) -> str:
        return too_long(self.length, self.limit)

    def place_after(self) -> tuple[int, int]:
        return self.line_no, self.offset + self.length


class LineFramer:
    """Cuts one input into Blocks of whole lines and OverlongLines, numbering lines from `line` + 1
    and counting bytes from `offset` (where an earlier run stopped, or a worker's range starts).

    No line of a Block is longer than `max_line_bytes`: a longer one is held at most to that size,
    then read through (into a temporary file if `spool`) and handed on as an OverlongLine. A line
    whose newline has not come yet waits in the framer until it does, or until `end()` says the
    input is over (then it is the last line) or `cut_off()` takes it (a damaged gzip file).
    """

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES, *, offset: int = 0, line: int = 0,
                 path: str | None = None, spool: bool = False, block_bytes: int = 1 << 20):
        self.limit = max_line_bytes
        self.offset = offset  # of the first byte not yet handed on in a Block or OverlongLine
        self.path, self.spool = path, spool
        self.block_bytes = block_bytes  # read at a time by `read`
        self._lines = line  # lines before the next Block, once `_previous` is counted
        self._previous: Block | None = None
        self._pending: list[bytes] = []  # the start of a line whose newline has not come yet
        self._pending_bytes = 0
        self._through: tuple[int, BinaryIO | None] | None = None  # (length so far, spool) of an overlong line

    # ---- bytes in ----

    def feed(self, chunk: bytes) -> list[Block | OverlongLine]:
        """What `chunk`, the next bytes of the input, completes."""
        limit = self.limit
        if len(chunk) > limit:  # so that a line within one piece is never longer than the limit
            out: list[Block | OverlongLine] = []
            for start in range(0, len(chunk), limit):
                out += self.feed(chunk[start:start + limit])
            return out
        out = []
        if self._through is not None:
            newline = chunk.find(b"\n") + 1
            if not newline:
                self._read_through(chunk)
                return out
            self._read_through(chunk[:newline])
            out.append(self._overlong())
            chunk = chunk[newline:]
        end = chunk.rfind(b"\n") + 1
        if end:
            head = b""
            if self._pending:
                first = chunk.find(b"\n") + 1
                if self._pending_bytes + first > limit:
                    self._start_through()
                    self._read_through(chunk[:first])
                    out.append(self._overlong())
                    chunk, end = chunk[first:], end - first
                else:
                    head = b"".join(self._pending)
                    self._pending, self._pending_bytes = [], 0
            data = chunk if not head and end == len(chunk) else head + chunk[:end]
            if data:
                out.append(self._block(data))
            chunk = chunk[end:]
        if chunk:
            self._pending.append(chunk)
            self._pending_bytes += len(chunk)
            if self._pending_bytes > limit:  # not kept: memory stays bounded
                self._start_through()
        return out

    def end(self) -> list[Block | OverlongLine]:
        """The input is over: a line without a newline is its last line."""
        out: list[Block | OverlongLine] = []
        if self._through is not None:
            out.append(self._overlong())
        if self._pending:
            data = b"".join(self._pending)
            self._pending, self._pending_bytes = [], 0
            out.append(self._block(data))
        return out

    def cut_off(self) -> tuple[int, int, bytes, BinaryIO | None, int]:
        """The input broke off: (line number, offset, bytes, spool, length) of the piece after the last
        whole line (possibly empty), taken out of the framer."""
        line_no, offset = self._next_line_no() + 1, self.offset
        if self._through is not None:
            length, spool = self._through
            self._through = None
            return line_no, offset, b"", spool, length
        data = b"".join(self._pending)
        self._pending, self._pending_bytes = [], 0
        return line_no, offset, data, None, len(data)

    def read(self, stream: BinaryIO, end: int | None = None) -> Iterator[Block | OverlongLine]:
        """All of `stream` (up to byte `end` of it, from where it is), framed, then `end()`: blocks of
        about `block_bytes`, each read completed to the end of its last line, so that a block is
        handed on as read, without being copied."""
        limit = self.limit
        position = stream.tell() if end is not None else 0
        while end is None or position < end:
            size = min(self.block_bytes, limit)
            chunk = stream.read(size if end is None else min(size, end - position))
            if not chunk:
                break
            if not chunk.endswith(b"\n"):
                wanted = limit - (len(chunk) - chunk.rfind(b"\n") - 1) + 1
                chunk += stream.readline(wanted if end is None else min(wanted, end - position - len(chunk)))
            position += len(chunk)
            yield from self.feed(chunk)
        yield from self.end()

    def size_blocks(self, size: int, lines: int, lines_per_block: int, most_bytes: int) -> None:
        """Read the next block by the average line length seen in this one, up to `most_bytes`."""
        self.block_bytes = max(4096, min(most_bytes, lines_per_block * size // max(lines, 1)))

    # ---- what comes out ----

    def _next_line_no(self) -> int:
        """Lines before the next Block. A Block's lines are counted when its consumer splits or decodes
        them (counting newlines again would cost a pass over every byte), which tells the framer
        (`_counted`); one handed on uncounted is counted now."""
        if self._previous is not None:
            self._previous.line_count()
        return self._lines

    def _counted(self, block: Block) -> None:
        self._lines = block.first_line - 1 + block.count
        self._previous = None  # not kept: its bytes are freed as soon as its consumer is done

    def _block(self, data: bytes) -> Block:
        block = Block(data, self.offset, self._next_line_no() + 1, self.path, framer=self)
        self.offset += len(data)
        self._previous = block
        return block

    def _start_through(self) -> None:
        if self.spool:
            import tempfile  # here: only an overlong line is spooled, and start-up is spared its import

            spool = tempfile.TemporaryFile()
        else:
            spool = None
        if spool is not None:
            for piece in self._pending:
                spool.write(piece)
        self._through = (self._pending_bytes, spool)
        self._pending, self._pending_bytes = [], 0

    def _read_through(self, piece: bytes) -> None:
        length, spool = self._through
        if spool is not None:
            spool.write(piece)
        self._through = (length + len(piece), spool)

    def _overlong(self) -> OverlongLine:
        length, spool = self._through
        self._through = None
        self._lines = self._next_line_no() + 1
        line = OverlongLine(self._lines, self.offset, length, spool, self.limit)
        self.offset += length
        return line


def in_batches(items: Iterable[Block | OverlongLine], lines: int) -> Iterator[Block | OverlongLine]:
    """The same lines regrouped into Blocks of `lines` lines each (fewer at the end, or before an
    overlong line)."""
    carry: list[bytes] = []
    first = offset = 0
    path = None
    for item in items:
        if item.__class__ is OverlongLine:
            if carry:
                yield Block(None, offset, first, path, carry)
                carry = []
            yield item
            continue
        if not carry:
            first, offset, path = item.first_line, item.offset, item.path
        carry += item.lines
        while len(carry) >= lines:
            batch = Block(None, offset, first, path, carry[:lines])
            yield batch
            carry = carry[lines:]
            first, offset = first + lines, offset + batch.size
    if carry:
        yield Block(None, offset, first, path, carry)


# ---- byte ranges, for worker processes ----

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


def range_framer(handle: BinaryIO, start: int, end: int, lines: int, most_bytes: int | None = None,
                 max_line_bytes: int = MAX_LINE_BYTES) -> LineFramer:
    """A framer for the byte range [start, end) of a regular file, in blocks of about `lines` whole
    lines each (by the average line length of its start), and at most `most_bytes` when given;
    `handle` is left at `start`."""
    sample = os.pread(handle.fileno(), min(end - start, 1 << 16), start)
    size = max(4096, lines * (len(sample) // max(sample.count(b"\n"), 1)))
    if most_bytes is not None:
        size = max(4096, min(most_bytes, size))
    handle.seek(start)
    return LineFramer(max_line_bytes, offset=start, path=handle.name, block_bytes=size)
