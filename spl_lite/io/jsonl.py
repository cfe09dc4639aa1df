"""Reading events from JSON-lines files (globs, `-`, .gz) and writing records as JSON lines."""
from __future__ import annotations

import codecs
import glob
import gzip
import io
import hashlib
import json
import os
import stat
import sys
import zlib
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, BinaryIO, Callable, Generator, Iterable, Iterator

import orjson

from ..core.errors import BAD_INPUT, SplError, StateError
from ..core.values import to_json_ready
from .decoding import JSON_TYPES, Decoder, WholeDecoder, decode_lines
from .evtx import is_evtx, read_batches as read_evtx_batches
from .framing import MAX_LINE_BYTES, Block, LineFramer, OverlongLine, in_batches

if TYPE_CHECKING:
    from ..core.batch import ProjectedMaps
    from .projection import BlockGatherer

# Events per batch, unless `--batch-size` sets it. Whole events are dicts of a few kB each; events
# decoded for the few keys a search reads (spl_lite/io/projection.py) take a few bytes a key, and the
# search runs faster over more of them at a time (numpy's cost per call is spread over more rows).
BATCH_SIZE = 2048
PROJECTED_BATCH_SIZE = 16384
# Lines decoded at a time by the projected decoder, and at most so many bytes: a block of a couple
# of megabytes decodes fastest (its bytes and the objects made from it stay in the caches, and the
# work per block is spread over enough lines). Against 1,024 lines: 0.90-0.97x the time on every
# shape, one or two workers; 4 MiB made OCSF documents with two workers 1.05x, and 4,096 NXLog
# records of 3.5 KB uncapped 1.09x. Blocks decoded one by one are gathered into batches (BlockGatherer).
DECODE_BLOCK_LINES = 4096
DECODE_BLOCK_BYTES = 2 << 20
# How much of the start of a file identifies it when a later run resumes (`--state`).
_HEAD_BYTES = 4096


# What `--input DIR` reads under DIR (at any depth), in name order.
EVENT_FILE_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz", ".evtx")


def expand_inputs(patterns: Iterable[str]) -> list[str]:
    """Paths for the given names and globs, in the order given; `-` is standard input."""
    paths: list[str] = []
    for pattern in patterns:
        if pattern != "-" and os.path.isdir(pattern):
            found = sorted(p for p in glob.glob(os.path.join(glob.escape(pattern), "**", "*"), recursive=True)
                           if p.endswith(EVENT_FILE_SUFFIXES) and os.path.isfile(p))
            if not found:
                raise SplError(BAD_INPUT, f"the directory `{pattern}` holds no event file (" +
                               ", ".join(f"*{suffix}" for suffix in EVENT_FILE_SUFFIXES) + ")")
            paths.extend(found)
            continue
        if pattern == "-" or os.path.exists(pattern):
            paths.append(pattern)
            continue
        matches = sorted(glob.glob(pattern, recursive=True))
        if not matches:
            raise SplError(BAD_INPUT, f"no input file matches `{pattern}`")
        paths.extend(matches)
    return paths


def _open(path: str) -> BinaryIO:
    if path == "-":
        stream = sys.stdin.buffer
        # Peeking at the first bytes must not consume them; a stdin that cannot peek (one a caller
        # replaced with an in-memory stream) is given a buffer that can.
        return stream if hasattr(stream, "peek") else io.BufferedReader(stream)
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise SplError(BAD_INPUT, f"cannot read `{path}`: {error.strerror}") from None
    if handle.peek(2)[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        return gzip.GzipFile(fileobj=handle)
    encoding = _bom_encoding(handle.peek(4))
    if encoding is not None:  # PowerShell's `>` writes UTF-16 with a byte-order mark
        return Recoded(handle, encoding)
    return handle


_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _bom_encoding(head: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    return None


class Recoded:
    """A file with a byte-order mark (UTF-16, or UTF-8 with one) read as the UTF-8 bytes of its
    text, without the mark. Positions (tell, seek forwards) count those bytes, so a later run can
    resume it; it cannot be read by byte ranges."""

    _PIECE = 1 << 16

    def __init__(self, handle: BinaryIO, encoding: str):
        self.fileobj, self._encoding = handle, encoding
        # Bytes that are not text stay as they are in UTF-8 (a bad line), or become U+FFFD in UTF-16.
        self._errors = "surrogateescape" if encoding.startswith("utf-8") else "replace"
        self._decoder = codecs.getincrementaldecoder(encoding)(errors=self._errors)
        self._buffer = b""
        self._position = 0
        self._eof = False

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size and not self._eof:
            raw = self.fileobj.read(self._PIECE)
            self._eof = not raw
            text = self._decoder.decode(raw, final=self._eof)
            self._buffer += text.encode("utf-8", "surrogateescape" if self._errors == "surrogateescape" else "surrogatepass")

    def _take(self, size: int) -> bytes:
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        self._position += len(out)
        return out

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            while not self._eof:
                self._fill(len(self._buffer) + self._PIECE)
            return self._take(len(self._buffer))
        self._fill(size)
        return self._take(size)

    def readline(self, limit: int = -1) -> bytes:
        searched = 0
        while True:
            newline = self._buffer.find(b"\n", searched)
            if newline >= 0:
                end = newline + 1
                break
            searched = len(self._buffer)
            if self._eof or 0 <= limit <= searched:
                end = searched
                break
            self._fill(searched + self._PIECE)
        return self._take(end if limit < 0 else min(end, limit))

    def peek(self, size: int = 1) -> bytes:
        self._fill(max(size, 1))
        return self._buffer

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = 0) -> int:
        """Forwards only (or back to the start), reading what lies between."""
        if whence != 0:
            raise OSError("a recoded file is sought from its start only")
        if position < self._position:
            self.fileobj.seek(0)
            self.__init__(self.fileobj, self._encoding)
        while self._position < position:
            self._fill(min(position - self._position, self._PIECE))
            if not self._take(min(position - self._position, len(self._buffer))):
                break
        return self._position

    def close(self) -> None:
        self.fileobj.close()


@dataclass
class ReadCounters:
    lines: int = 0
    events: int = 0
    bad_lines: int = 0


@dataclass
class FileProgress:
    """How far into one input file the run got: `lines` and `offset` (bytes; uncompressed bytes for
    gzip) consumed, and what identifies the file: device, inode and a digest of its first bytes."""

    path: str
    lines: int = 0
    offset: int = 0
    dev: int = 0
    ino: int = 0
    head_len: int = 0
    head_sha256: str = ""


class TooManyBadLines(Exception):
    """More bad lines than `max_bad`; the events before the last one were yielded."""


@dataclass
class BadLine:
    """A rejected line, as `on_reject` receives it: where, why, and its bytes as read."""

    name: str
    line_no: int
    reason: str
    raw: bytes
    spool: "BinaryIO | None" = None  # an overlong line's bytes, in a temporary file (raw is then empty)
    length: int | None = None  # its length

    @property
    def size(self) -> int:
        return len(self.raw) if self.length is None else self.length


class EventReader:
    """Yields lists of decoded JSON objects, `batch_size` at a time, across all inputs in order.

    Input is cut into blocks of lines by a LineFramer (io/framing.py) and decoded by the `decoder`
    the physical plan chose (io/decoding.py). A decoder that reads only some keys (io/projection.py)
    gets blocks of about DECODE_BLOCK_LINES lines and yields, for the blocks it does not decline, a
    ProjectedMaps of just the keys the searches read instead of a list, several blocks to a batch
    (`batch_size` events, by default PROJECTED_BATCH_SIZE); a declined block is decoded whole.

    A line that is not a JSON object is skipped and reported through `on_bad_line` with its
    file and line number (and its bytes through `on_reject`); the run goes on, so one broken line
    never costs the rest, unless more than `max_bad` are (TooManyBadLines). A consumer that calls
    `commit()` after each batch has `progress()`: how far into each file it got, which a later
    reader given `resume=` continues from (--state).
    """

    # --provenance, --why (set by the driver, whole events only): `batch_lines` is (file, line number
    # of each event) of the batch last handed over; None where unknown (a JSON array file).
    track_lines = False
    batch_lines: "tuple[str, list[int]] | None" = None
    _pending_lines: "tuple[str, list[int]] | None" = None

    def __init__(
        self,
        paths: list[str],
        batch_size: int | None = None,
        on_bad_line: Callable[[str], None] | None = None,
        *,
        on_reject: Callable[[BadLine], None] | None = None,
        max_bad: int | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
        resume: list[dict] | None = None,
        on_notice: Callable[[str], None] | None = None,
        decoder: Decoder | None = None,
        whole_batch_size: int | None = None,
        projected_batch_size: int | None = None,
    ):
        self.paths = paths
        # `batch_size` if given, else what the physical plan chose, else the default of each kind
        self.batch_size = batch_size or whole_batch_size or BATCH_SIZE
        self.projected_batch_size = batch_size or projected_batch_size or PROJECTED_BATCH_SIZE
        self.on_bad_line = on_bad_line
        self.counters = ReadCounters()
        self.on_reject = on_reject  # gets every rejected line with its bytes (--dead-letter)
        self.max_bad = max_bad  # more bad lines than this stop the run (TooManyBadLines)
        self.max_line_bytes = max_line_bytes
        self.on_notice = on_notice  # messages about resuming that are not bad lines
        self.decoder = decoder or WholeDecoder()
        self._whole = WholeDecoder()  # for the blocks a projecting decoder declines
        self._block_lines = min(self.projected_batch_size, DECODE_BLOCK_LINES)
        # Progress of every file read, this run or (from `resume`) an earlier one; see progress().
        self._files: dict[str, FileProgress] = {}
        self._saved_by_inode: dict[tuple[int, int], list[FileProgress]] = {}
        for entry in resume or ():
            saved = FileProgress(**entry)
            self._files[saved.path] = saved
            self._saved_by_inode.setdefault((saved.dev, saved.ino), []).append(saved)
        self._uncommitted: tuple[FileProgress, int, int] | None = None
        # Files that gave no event, only bad lines: (name, bad lines, the first one's reason).
        self.eventless: list[tuple[str, int, str | None]] = []
        self._first_reason: str | None = None
        self._reached = (0, 0)  # (lines, offset) of the file being read, as far as handed over

    @property
    def projecting(self) -> bool:
        return self.decoder.keys is not None

    def batches(self) -> Iterator["list[dict] | ProjectedMaps"]:
        counters = self.counters
        for path in self.paths:
            events, bad = counters.events, counters.bad_lines
            self._first_reason = None
            yield from self._path_batches(path)
            if counters.events == events and counters.bad_lines > bad:
                self.eventless.append(("<stdin>" if path == "-" else path, counters.bad_lines - bad, self._first_reason))

    def framer(self, place: FileProgress, path: str | None = None) -> LineFramer:
        """A framer of one input from where `place` says it was left; `path` of a regular file lets
        deferred keys be read again from it."""
        return LineFramer(self.max_line_bytes, offset=place.offset, line=place.lines, path=path,
                          spool=self.on_reject is not None,
                          block_bytes=min(self._block_lines * 1024, DECODE_BLOCK_BYTES))

    def _path_batches(self, path: str) -> Iterator[list[dict]]:
        if is_evtx(path):  # binary Windows event log: its records, flattened (spl_lite.io.evtx)
            yield from self._evtx_batches(path)
            return
        stream = _open(path)
        name = "<stdin>" if path == "-" else path
        place = self._place(path, stream)
        try:
            head = stream.peek(64) if place.offset == 0 else b""
        except (OSError, EOFError, zlib.error):
            head = b""  # a damaged gzip file: reading it below says so
        if head.lstrip()[:1] == b"[":
            try:
                yield from self._array_batches(stream, name, place)
            finally:
                if path != "-":
                    stream.close()
            return
        # A regular file can be read again, so the deferred keys' lines need not be kept in memory.
        regular = place.ino != 0 and not isinstance(stream, (gzip.GzipFile, Recoded))
        framer = self.framer(place, path if regular else None)
        try:
            yield from self.framed(framer.read(stream), name, place, framer)
        except (OSError, EOFError, zlib.error) as error:
            if not isinstance(stream, gzip.GzipFile):
                raise SplError(BAD_INPUT, f"{name}: read failed after line {self.counters.lines}: {error}") from None
            # A truncated or damaged gzip file: keep every whole line before the damage.
            yield from self._salvage_gzip(path, name, place)
        finally:
            if path != "-":
                stream.close()

    def framed(self, items: Iterable[Block | OverlongLine], name: str, place: FileProgress,
               framer: LineFramer | None = None, start: tuple[int, int] | None = None
               ) -> Generator["list[dict] | ProjectedMaps", None, tuple[int, int]]:
        """The events of framed lines of one input, handed over with the place they reach (from
        `start`, (lines, offset), by default where `place` is); returns the place reached.

        Whole events come in batches of `batch_size` lines; a projecting decoder's blocks are
        gathered into batches (BlockGatherer), and `framer` reads its next block by the average
        line length seen. Blocks decoded before a read error are handed over before it is raised."""
        counters = self.counters
        self._reached = (place.lines, place.offset) if start is None else start
        gathered = None
        if self.projecting:
            from .projection import BlockGatherer  # loaded with the decoder already

            gathered = BlockGatherer(self.projected_batch_size)
        else:
            items = in_batches(items, self.batch_size)
        try:
            for item in items:
                if item.__class__ is OverlongLine:
                    yield from self._hand_over_gathered(gathered, place)
                    counters.lines += 1
                    self._reject(BadLine(name, item.line_no, item.reason, b"", item.spool, item.length))
                    self._reached = item.place_after()
                    yield from self._hand_over([], place, *self._reached)
                    continue
                decoded = self.decoder.decode(item) if gathered is not None else None
                if decoded is not None:
                    count = len(decoded.events)
                    counters.lines += count
                    self._reached = item.place_after(count)
                    if framer is not None:
                        framer.size_blocks(item.size, count, self._block_lines, DECODE_BLOCK_BYTES)
                    batch = gathered.add(decoded.events)
                    if batch is not None:
                        yield from self._hand_over(batch, place, *self._reached)
                    continue
                yield from self._hand_over_gathered(gathered, place)
                counters.lines += item.line_count()
                if framer is not None and gathered is not None:
                    framer.size_blocks(item.size, item.line_count(), self._block_lines, DECODE_BLOCK_BYTES)
                events, used = self._decode_whole(item, name)
                self._reached = item.place_after(used)
                yield from self._hand_over(events, place, *self._reached)
        except (OSError, EOFError, zlib.error):
            # Blocks decoded before the damage are output like any other.
            yield from self._hand_over_gathered(gathered, place)
            raise
        yield from self._hand_over_gathered(gathered, place)
        return self._reached

    def _array_batches(self, stream: BinaryIO, name: str, place: FileProgress) -> Iterator[list[dict]]:
        """A file that starts with `[`: one JSON array of objects (a common export), its objects the
        events, as one batch, read whole up to --max-line-bytes; if it is no JSON document, its lines."""
        limit = self.max_line_bytes
        try:
            data = stream.read(limit + 1)
        except (OSError, EOFError, zlib.error) as error:
            raise SplError(BAD_INPUT, f"`{name}`: read failed: {error}") from None
        if len(data) > limit:
            raise SplError(BAD_INPUT, f"`{name}` starts like a JSON array and is longer than {limit:,} bytes "
                                      f"(--max-line-bytes); as JSON lines it can be read at any size: jq -c '.[]'")
        try:
            items = orjson.loads(data)
        except orjson.JSONDecodeError:
            items = None
        if items.__class__ is not list:  # not one JSON document: read it by lines, like any other file
            framer = self.framer(place)
            yield from self.framed(framer.feed(data) + framer.end(), name, place)
            return
        events = []
        for number, item in enumerate(items, 1):
            if item.__class__ is dict:
                events.append(item)
            else:
                found = JSON_TYPES.get(type(item), "a value")
                self._reject(BadLine(name, number, f"item {number:,} of the JSON array is not an object ({found})",
                                     orjson.dumps(item)))
        self.counters.lines += len(items)
        # One batch: a later run resumes after the whole array or not at all.
        yield from self._hand_over(events, place, len(items), len(data))

    def _evtx_batches(self, path: str) -> Iterator[list[dict]]:
        """An EVTX file's records; on resume the records an earlier run consumed are skipped
        (`lines` counts records; EVTX cannot be entered in the middle)."""
        with open(path, "rb") as handle:
            place = self._place(path, handle, seek=False)
        skip = done = place.lines
        for events in read_evtx_batches(path, self.batch_size, self._bad):
            self.counters.lines += len(events)
            if skip:
                dropped = min(skip, len(events))
                events, skip = events[dropped:], skip - dropped
            if self.track_lines:  # EVTX: the n-th record of the file
                self._pending_lines = (path, list(range(done + 1, done + len(events) + 1)))
            done += len(events)
            yield from self._hand_over(events, place, done, 0)

    # ---- progress: which lines of which files the consumer has finished with (--state) ----

    def _hand_over(self, events: list[dict], place: FileProgress, lines: int, offset: int) -> Iterator[list[dict]]:
        """Yield a batch; its lines count as consumed once the consumer calls commit()."""
        self._uncommitted = (place, lines, offset)
        if self.track_lines:
            self.batch_lines, self._pending_lines = self._pending_lines, None
        if events:
            self.counters.events += len(events)
            yield events
        else:
            self.commit()
        if self.max_bad is not None and self.counters.bad_lines > self.max_bad:
            raise TooManyBadLines(f"more than {self.max_bad:,} bad lines (--max-bad)")

    def _hand_over_gathered(self, gathered: "BlockGatherer | None", place: FileProgress) -> Iterator[ProjectedMaps]:
        batch = None if gathered is None else gathered.take()
        if batch is not None:
            yield from self._hand_over(batch, place, *self._reached)

    def commit(self) -> None:
        """The last batch yielded has been processed and written: count its lines as consumed."""
        if self._uncommitted is not None:
            place, place.lines, place.offset = self._uncommitted
            self._uncommitted = None

    def progress(self) -> list[dict]:
        """Committed progress of every file, as JSON-ready dicts (resume=... of a later reader)."""
        return [asdict(place) for place in self._files.values()]

    def _place(self, path: str, stream, seek: bool = True, resume: bool = True) -> FileProgress:
        """The progress record for `path`, positioned where an earlier run (resume=...) stopped."""
        raw = getattr(stream, "fileobj", stream)  # the file under a GzipFile or Recoded
        try:
            info = os.fstat(raw.fileno())
        except (OSError, ValueError, AttributeError):
            info = None
        if path == "-" or info is None or not stat.S_ISREG(info.st_mode):
            return FileProgress(path)  # standard input and pipes are read in full, never resumed
        head = os.pread(raw.fileno(), _HEAD_BYTES, 0)
        key = os.path.abspath(path)
        place = FileProgress(key, 0, 0, info.st_dev, info.st_ino, len(head), hashlib.sha256(head).hexdigest())
        saved = self._resume_point(key, info, raw.fileno()) if resume else None
        self._files[key] = place
        if saved is not None and not seek:
            place.lines = saved.lines
        elif saved is not None and saved.offset:
            try:
                stream.seek(saved.offset)
                reached = (stream.tell() if isinstance(stream, (gzip.GzipFile, Recoded))
                           else min(saved.offset, info.st_size))
            except (OSError, EOFError, zlib.error):
                reached = -1
            if reached != saved.offset:
                # Reading it again from the start would count its lines twice on top of the saved state.
                raise StateError(f"`{path}` is shorter than when the state was saved ({saved.offset:,} bytes "
                                 "read then): it was truncated or rewritten; `--reset-state` discards the saved "
                                 "state and starts over")
            place.lines, place.offset = saved.lines, saved.offset
        return place

    def _resume_point(self, key: str, info: os.stat_result, fd: int) -> FileProgress | None:
        """What an earlier run read of this file: found by path, or by inode after a rename
        (rotation), and only if the first bytes are still the same."""
        by_path = self._files.get(key)
        candidates = ([by_path] if by_path else []) + self._saved_by_inode.get((info.st_dev, info.st_ino), [])
        for saved in candidates:
            if _head_matches(fd, saved):
                return saved
        if by_path is not None and by_path.offset:
            if (info.st_dev, info.st_ino) == (by_path.dev, by_path.ino):
                # The same file rewritten in place: reading it from the start would count its lines
                # again on top of the saved state. A new file under the name (rotation) is read whole.
                raise StateError(f"`{key}` was rewritten since the state was saved (its first bytes differ); "
                                 "`--reset-state` discards the saved state and starts over")
            self._warn(f"{key} is not the file read last time (its first bytes differ); reading it from the start")
        return None

    def _warn(self, message: str) -> None:
        if self.on_notice:
            self.on_notice(message)

    # ---- bad lines ----

    def _decode_whole(self, block: Block, name: str) -> tuple[list[dict], int]:
        """(events, lines used): all lines, or with --max-bad reached, those up to the last bad one."""
        events, bad = self._whole.decode(block)
        lines, first_line_no = block.lines, block.first_line
        if not bad:
            if self.track_lines:
                self._lines_of_batch(name, lines, first_line_no, set())
            return events, len(lines)
        allowed = None if self.max_bad is None else self.max_bad - self.counters.bad_lines
        if allowed is not None and len(bad) > allowed:
            # Stop right after the line that goes over the limit; what follows it is not consumed.
            used = bad[allowed][0] - first_line_no + 1
            events, bad = decode_lines(lines[:used], first_line_no)
        else:
            used = len(lines)
        for line_no, reason, raw in bad:
            self._reject(BadLine(name, line_no, reason, raw))
        if self.track_lines:
            self._lines_of_batch(name, lines[:used], first_line_no, {line_no for line_no, _, _ in bad})
        return events, used

    def _lines_of_batch(self, name: str, lines: list[bytes], first: int, bad: set[int]) -> None:
        """--provenance, --why: the line number of each event of the batch about to be handed over
        (decode_lines skips blank and bad lines)."""
        numbers = [first + i for i, line in enumerate(lines) if first + i not in bad and line.strip()]
        self._pending_lines = (name, numbers)

    def _reject(self, bad: BadLine) -> None:
        if self._first_reason is None:
            self._first_reason = f"line {bad.line_no}: {bad.reason}"
        self._bad(f"{bad.name}:{bad.line_no}: {bad.reason}")
        if self.on_reject:
            self.on_reject(bad)

    def _salvage_gzip(self, path: str, name: str, place: FileProgress) -> Iterator[list[dict]]:
        """Re-read a damaged gzip file with zlib, past what was already handed over, up to the damage;
        the piece of line cut off there (possibly empty) is one bad line."""
        lines, offset = self._reached
        framer = self.framer(FileProgress(path, lines, offset))
        chunks = _gunzip_salvage(path)
        error: list[str | None] = []

        def framed_chunks() -> Iterator[Block | OverlongLine]:
            skip = offset
            while True:
                try:
                    chunk = next(chunks)
                except StopIteration as stop:
                    error.append(stop.value)
                    if stop.value is None:  # the damage was elsewhere (zlib read it all)
                        yield from framer.end()
                    return
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                yield from framer.feed(chunk)

        yield from self.framed(framed_chunks(), name, place, start=(lines, offset))
        if error[0] is None:
            return
        line_no, offset, raw, spool, length = framer.cut_off()
        self.counters.lines += 1
        self._reject(BadLine(name, line_no, f"gzip data {error[0]}; the rest of the file cannot be read", raw,
                             spool, length if spool is not None else None))
        yield from self._hand_over([], place, line_no, offset + length)
        # Like zcat: what came before the damage was read and output, but the file is an input error.
        raise SplError(BAD_INPUT, f"`{name}`: gzip data {error[0]} after line {line_no - 1}; the lines before it "
                                  "were read, the rest of the file cannot be")

    def _bad(self, message: str) -> None:
        self.counters.bad_lines += 1
        if self.on_bad_line:
            self.on_bad_line(message)


def _head_matches(fd: int, saved: FileProgress) -> bool:
    head = os.pread(fd, saved.head_len, 0)
    return len(head) == saved.head_len and hashlib.sha256(head).hexdigest() == saved.head_sha256


def _gunzip_salvage(path: str, chunk_bytes: int = 1024):  # small: what comes before the damage gets out
    """Decompressed chunks of a gzip file (all members) as far as it can be read; returns (as
    StopIteration.value) what stopped it, or None when it read to a clean end."""
    with open(path, "rb") as handle:
        decompressor, fed = zlib.decompressobj(wbits=31), False
        for data in iter(lambda: handle.read(chunk_bytes), b""):
            while data:
                if not fed and not data.strip(b"\0"):
                    break  # zero padding after the last member, as gzip allows
                fed = True
                try:
                    out = decompressor.decompress(data)
                except zlib.error as error:
                    return f"is damaged ({error})"
                if out:
                    yield out
                if not decompressor.eof:
                    break
                data = decompressor.unused_data
                decompressor, fed = zlib.decompressobj(wbits=31), False
        if fed and not decompressor.eof:
            return "is truncated (it ends before the end-of-stream marker)"
        return None


def _json_default(value):
    if hasattr(value, "pattern"):
        return value.pattern
    raise TypeError


def encode_record(record: dict) -> bytes:
    """One JSON line; non-finite doubles become null and -0.0 becomes 0.0 (spec 4, 6.6)."""
    ready = to_json_ready(record)
    try:
        return orjson.dumps(ready, default=_json_default) + b"\n"
    except TypeError:
        # orjson stops at 254 levels of nesting; input may have up to 1,024 (orjson's read limit).
        # The standard library has no such limit; numbers may be spelt differently (1e+16 for 1e16).
        text = json.dumps(ready, default=_json_default, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8", "surrogatepass") + b"\n"
