"""Projection pushdown: decode only the event keys a plan reads.

Most detections read a handful of keys of each event, always as `map_get(input_event, "key")`,
and drop the event with a `select` before anything else sees it. For such a plan the reader
decodes each batch of lines with a msgspec schema of just those keys: the other keys of a line are
skipped by the parser, never becoming Python objects, which makes reading several times cheaper
than decoding whole events. The batch's `input_event` column is then a ProjectedMaps.

Whatever this fast path cannot decide exactly the same way as the whole-event path goes back to it,
batch by batch: a line that is not a valid JSON object, that is not one `{...}` on its own line, that
is not UTF-8, that holds an integer orjson would read differently or is nested near orjson's depth
limit, or that has a key by which it may be something other than an SSA event (OCSF, a raw Windows
record, an `input_event` that is not an object). SSA stream records, `{"id": ..., "input_event":
{...}, ...}`, are decoded in part too: their event is `input_event` (spec 7.1), read with a nested
schema of the same keys, the envelope's other keys skipped; a block may mix them with flat events,
line by line, as the whole-event path does. With `--input-format auto`, a block of raw Windows JSON
records (NXLog, EVTX as JSON, Sentinel, eqllib, Winlogbeat 6 and 7+) is read in part too, by
windows_columns.py, one of XmlWinEventLog or classic WinEventLog records by windows_xml_columns.py,
and one of OCSF documents by ocsf_columns.py, into the same keys of the SSA events they make. One
difference remains, documented: a number beyond double range in a key that is not read makes orjson
reject the line; msgspec skips the value unread and so
reads the line (telling it apart would cost a scan of every byte). A deferred key (deferred_keys)
is such a key until its rows are decoded late; one holding that number then reads as infinity.

Keys a search only carries towards its output past a filter are deferred: left in their lines and
decoded for the rows that are left when something reads them. Lines of a regular file are read again
from it then (the input must not be rewritten during a run); those of gzip or standard input are
kept in memory with their batch.
"""
from __future__ import annotations

import os
import re
from operator import attrgetter
from typing import Annotated, Optional, Union

import msgspec
import numpy as np
import orjson

from ..core.errors import BAD_INPUT, SplError
from ..core.batch import NULL_KINDS, TEXT_KINDS, ProjectedMaps, known, known_nulls, object_column
from .decoding import Decoded, Decoder, WholeDecoder
from .formats import NOT_FLAT_KEYS, SSA_KEYS
from .framing import Block
from .json_blocks import object_lines, schema_decode
from .windows_columns import WindowsJsonDecoder
from .windows_xml_columns import WindowsXmlDecoder
from .ocsf_columns import OcsfDecoder



# Any JSON value, but an integer only within int64: orjson reads larger ones as a double (or
# rejects them), which msgspec would not; such a line takes the whole-event path.
_VALUE = Union[str, Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)], float, bool, None, list, dict]
_TEXT = Optional[str]
# No JSON value passes this (every integer fails one bound), so a guard key anywhere fails the
# decode, which sends the block to the whole-event path without a check per line.
_ABSENT = Annotated[int, msgspec.Meta(ge=1, le=0)]
# msgspec cannot name a field with these characters; a key holding one is not projected.
_UNNAMEABLE = re.compile(r'["\\\x00-\x1f]')
_ORJSON_INT_MIN, _ORJSON_INT_MAX = -(2**63), 2**64 - 1
# Where a ValidationError says the value was: "... - at `$[12].process_id`".
_FAILED_KEY = re.compile(r"- at `\$\[\d+\]\.(.*)`$")


class _Present:
    """The value of a key decoded as rarely present (ProjectedDecoder._rare), wrapped: msgspec calls
    the decoder's hook for such a key only where a line has it, so a block none of whose lines has
    it costs nothing per line. One subclass per key and struct says which key and how it is checked."""

    __slots__ = ("value",)
    key: str
    text: bool

    def __init__(self, value):
        self.value = value


# Past this many changes of the rarely present keys, they stay as they are (a stream whose keys
# come and go block by block would otherwise rebuild the schema every block).
_RARE_CHANGES = 64


_FIRST_BLOCK = np.zeros(1, dtype=np.intp)
_EVENT = "input_event"
_RECORD = attrgetter("record")
# Keys inside a stream record's `input_event` that make `auto` convert the event (formats._event_kind).
_INNER_GUARD_KEYS = ("class_uid",)


class ProjectedDecoder:
    """Decodes a batch of lines into a ProjectedMaps of `keys`, or None for the whole-event path.

    Each key is first decoded as text or null, which msgspec checks as it parses, so that the
    columns are known to hold only those (`ucast(..., "string", ...)` then has nothing to check);
    the first value of another type widens that key to any JSON value for the rest of the run.
    The `deferred` keys (see deferred_keys) are left in the lines, which the ProjectedMaps keeps.
    """

    def __init__(self, keys: frozenset[str], input_format: str = "auto", deferred: frozenset[str] = frozenset(),
                 events_late: bool = False, documents: bool = False):
        self.keys = tuple(sorted(keys))
        # Searches read OCSF documents made of these events (formats.DOCUMENT_KEYS): a block with a
        # line that may not be an SSA event (none of its SSA keys holds a value: absent and null
        # look alike here) takes the whole-event path, which tells them apart.
        self._ssa_keys = tuple(key for key in SSA_KEYS if key in keys) if documents else ()
        self.deferred = frozenset(deferred) & frozenset(keys) - frozenset(self._ssa_keys)
        self.events_late = events_late
        self.documents = documents
        self._decoded = tuple(key for key in self.keys if key not in self.deferred)
        guards = guard_keys(input_format)
        # A line with `input_event` as an object is a stream record, whose event that is (spec 7.1);
        # any other line is the event. Both are decoded with one schema: the keys at the top of the
        # line, and the same keys inside `input_event`, a nested struct (absent: a flat line). Only
        # an `input_event` that is not an object (which makes the line the event, holding that value)
        # fails the schema and takes the whole-event path.
        # Flat events are decoded with `input_event` as a guard key, as cheaply as before stream
        # records were read in part; the first block holding a stream record switches the schema
        # to the nested one for the rest of the run (_widen).
        self._records_possible = _EVENT in guards and _EVENT not in keys
        self._records = False
        self._all_guard_keys = guards
        self._guard_keys = guards
        # Inside a record, only `class_uid` changes what `auto` makes of the event (formats._convert).
        self._inner_guard_keys = tuple(key for key in _INNER_GUARD_KEYS if key in guards)
        self._text_keys = set(self._decoded)
        self._inner_text_keys = set(self._decoded)
        # Keys no line of the last block had (the registry keys of process events, and so on): most
        # keys of a library of searches. They are decoded through a hook (_Present) that notes the
        # lines having them, so that their all-null columns are made without reading every line.
        self._rare: frozenset[str] = frozenset()
        self._rare_changes = 0
        self._present: set[str] = set()
        self._decoder = self._build()
        self._getters = [attrgetter(f"k{i}") for i in range(len(self._decoded))]
        self._late = _LateDecoder(tuple(sorted(self.deferred)), self._records_possible, events_late) \
            if self.deferred or events_late else None
        # Raw records are recognised only by `auto` (formats.kind_of); their keys are all decoded at
        # once. Events a sink writes whole are decoded again from the lines, which only flat events
        # and stream records give as they are: a block of other records takes the whole-event path.
        raw = (WindowsJsonDecoder(frozenset(keys)), WindowsXmlDecoder(frozenset(keys)), OcsfDecoder(frozenset(keys))) \
            if input_format == "auto" and not events_late and not documents else ()
        self._decoders = (self._decode_flat, *(decoder.decode_block for decoder in raw))
        self._last = 0  # the one of _decoders that served the last block

    def _build(self) -> msgspec.json.Decoder:
        def kind(key: str, text: bool) -> type:
            if key in self._rare:
                return type("Present", (_Present,), {"__slots__": (), "key": key, "text": text})
            return _TEXT if text else _VALUE

        def fields(text_keys: set[str], guard_keys: tuple[str, ...]) -> list:
            read = [(f"k{i}", kind(key, key in text_keys), msgspec.field(default=None, name=key))
                    for i, key in enumerate(self._decoded)]
            return read + [(f"g{i}", _ABSENT, msgspec.field(default=None, name=key)) for i, key in enumerate(guard_keys)]

        outer = fields(self._text_keys, self._guard_keys)
        if self._records:
            inner = msgspec.defstruct("ProjectedInputEvent", fields(self._inner_text_keys, self._inner_guard_keys), gc=False)
            outer.append(("record", inner, msgspec.field(default=None, name=_EVENT)))
        present = self._present.add

        def hook(kind: type, value):
            """A rarely present key's value, checked as _TEXT or _VALUE would check it."""
            if not issubclass(kind, _Present):
                raise TypeError(f"unexpected type {kind!r}")
            if value is not None:
                if kind.text:
                    if value.__class__ is not str:
                        raise ValueError(f"Expected `str | null`, got `{type(value).__name__}`")
                elif value.__class__ is int and not -(2**63) <= value < 2**63:
                    raise ValueError("Expected `int` within 64 bits")
            present(kind.key)
            return kind(value)

        return msgspec.json.Decoder(msgspec.defstruct("ProjectedEvent", outer, gc=False), dec_hook=hook)

    def decode(self, block: Block) -> Decoded | None:
        """The decoder protocol (io/decoding.py): None declines the block to the whole-event path."""
        events = self.decode_block(block.data, None if block.path is None else (block.path, block.offset))
        if events is None:
            return None
        block.count = len(events)  # one event a line
        return Decoded(events, [])

    def decode_block(self, block: bytes, place: tuple[str, int] | None = None) -> ProjectedMaps | None:
        """The events of a block of whole JSON lines, or None if the block needs the whole-event path.

        With the `place` of the block, (path of a regular file, offset), the deferred keys are read
        back from the file for the rows that need them, and the block need not be kept. With `auto`,
        a block of raw Windows JSON records is read by the WindowsJsonDecoder (windows_columns.py),
        one of XmlWinEventLog records by the WindowsXmlDecoder (windows_xml_columns.py), one of OCSF
        documents by the OcsfDecoder (ocsf_columns.py); the decoder that served the last block is
        tried first."""
        decoders, last = self._decoders, self._last
        for which in (last, *(i for i in range(len(decoders)) if i != last)):
            found = decoders[which](block, place)
            if found is not None:
                self._last = which
                return found
        return None

    def _decode_flat(self, block: bytes, place: tuple[str, int] | None) -> ProjectedMaps | None:
        bounds = object_lines(block)
        if bounds is None:
            return None
        while True:
            self._present.clear()
            try:
                events = schema_decode(self._decoder, block)
                break
            except msgspec.ValidationError as error:  # also: a guard key is present
                if not self._widen(str(error)):
                    return None
            except (msgspec.DecodeError, RecursionError):
                return None
        count = len(events)
        if count != len(bounds[0]):  # two documents on one line
            return None
        values = {}
        records = list(map(_RECORD, events)) if self._records else None
        flat = count if records is None else records.count(None)
        if flat == count:  # flat events only
            sources, text_keys = events, self._text_keys
        elif flat == 0:  # stream records only: their events
            sources, text_keys = records, self._inner_text_keys
        else:  # some of each: each line's event
            sources = [event if record is None else record for event, record in zip(events, records)]
            text_keys = self._text_keys & self._inner_text_keys
        rare, present, absent = self._rare, self._present, set()
        for key, getter in zip(self._decoded, self._getters):
            if key in rare and key not in present:
                values[key] = known_nulls(count)
                absent.add(key)
                continue
            column = np.fromiter(map(getter, sources), dtype=object, count=count)
            if key in rare:
                column = object_column([None if value is None else value.value for value in column])
            if key not in text_keys and _holds_wide_integer(column):
                return None
            if count and column[0] is None and not np.count_nonzero(column != None):  # noqa: E711
                # A key no event of the block has (most keys of other event types): known to be
                # null, so nothing hashes or tests its rows one by one.
                values[key] = known(column, NULL_KINDS)
                absent.add(key)
            else:
                values[key] = known(column, TEXT_KINDS if key in text_keys else None)
        if count and absent != rare and self._rare_changes < _RARE_CHANGES:
            self._rare, self._rare_changes = frozenset(absent), self._rare_changes + 1
            self._decoder = self._build()
        if self._ssa_keys:
            unknown = np.ones(count, dtype=bool)
            for key in self._ssa_keys:
                unknown &= values[key] == None  # noqa: E711 (numpy compares element by element)
            if unknown.any():
                return None
        if self._late is None:
            lines = None
        elif place is None:
            lines = _Lines([block], _FIRST_BLOCK, *bounds, self._late)
        else:
            path, offset = place
            lines = self.file_lines(path, bounds[0] + offset, bounds[1] + offset)
        return ProjectedMaps(values, count, lines, events_late=self.events_late)

    def file_lines(self, path: str, starts: np.ndarray, ends: np.ndarray) -> "_FileLines":
        """The lines at these spans of a file, read when the deferred keys are."""
        return _FileLines(path, starts, ends, self._late)

    def _widen(self, message: str) -> bool:
        """After a value that is not text: decode its key as any JSON value from now on."""
        found = _FAILED_KEY.search(message)
        if found is None:
            return False  # not an object
        key, text_keys = found.group(1), self._text_keys
        if key == _EVENT and self._records_possible and not self._records:  # the first stream record
            self._records = True
            self._guard_keys = tuple(k for k in self._all_guard_keys if k != _EVENT)
            self._decoder = self._build()
            return True
        if self._records and key.startswith(_EVENT + "."):
            key, text_keys = key[len(_EVENT) + 1:], self._inner_text_keys
        if key not in text_keys:
            return False  # an integer beyond 64 bits, a guard key, `input_event` not an object
        text_keys.discard(key)
        self._decoder = self._build()
        return True


class BlockGatherer:
    """Decoded blocks gathered into batches of at least `rows` events (see DECODE_BLOCK_LINES)."""

    def __init__(self, rows: int):
        self.rows = rows
        self._parts: list[ProjectedMaps] = []
        self._count = 0

    def add(self, events: ProjectedMaps) -> ProjectedMaps | None:
        """The gathered batch once it holds `rows` events, else None. Blocks of raw records (with
        `skips`, every key decoded), of OCSF documents (their `kind`) and of flat lines (some keys
        deferred) are not gathered together: the batch before the change of shape is handed over."""
        if self._parts and ((self._parts[0].skips is None) != (events.skips is None)
                            or self._parts[0].kind != events.kind):
            gathered = self.take()
            self._parts, self._count = [events], len(events)
            return gathered
        self._parts.append(events)
        self._count += len(events)
        return self.take() if self._count >= self.rows else None

    def take(self) -> ProjectedMaps | None:
        """What is gathered, as one batch (None if nothing is), and start over."""
        if not self._parts:
            return None
        gathered = ProjectedMaps.concat(self._parts)
        self._parts, self._count = [], 0
        return gathered


def decoder_for(keys: "frozenset[str] | None", input_format: str = "auto",
                deferred: frozenset[str] = frozenset(), events_late: bool = False, documents: bool = False) -> Decoder:
    """Whole events (`keys` None), or the projection of `keys` with `deferred` (and with
    `events_late`, the events themselves) decoded late; `documents`: for OCSF documents made of them."""
    return WholeDecoder() if keys is None else ProjectedDecoder(keys, input_format, deferred, events_late, documents)


def guard_keys(input_format: str) -> tuple[str, ...]:
    """Keys by which a line is not a flat SSA event: a stream record, OCSF or a raw Windows record.
    With `--input-format ssa` lines are used as they are, so only a stream record ({"input_event":
    ...}) is different. A search reading one of them is not projected (plan/physical.py); the decoder
    reads `input_event` as a stream record's event and declines a block holding any other."""
    return ("input_event",) if input_format == "ssa" else NOT_FLAT_KEYS


class _LateDecoder:
    """Decodes the deferred keys of chosen lines, with the values the whole-event path would give:
    of the line, or with `records`, of its `input_event` where that is an object (a stream record).
    With `events`, the events themselves too (key None), as orjson reads them; the deferred keys
    are then read from those."""

    def __init__(self, keys: tuple[str, ...], records: bool = False, events: bool = False):
        self.keys = keys
        self.events = events
        fields = [(f"k{i}", _TEXT, msgspec.field(default=None, name=key)) for i, key in enumerate(keys)]
        self._records = records
        if records:
            inner = msgspec.defstruct("DeferredInputEvent", list(fields), gc=False)
            fields.append(("record", Optional[inner], msgspec.field(default=None, name=_EVENT)))
        self._text = msgspec.json.Decoder(msgspec.defstruct("DeferredKeys", fields, gc=False))
        self._getters = [attrgetter(f"k{i}") for i in range(len(keys))]

    def decode(self, lines: list[bytes]) -> dict[str | None, list]:
        if not self.events:
            try:
                events = self._text.decode_lines(b"\n".join(lines))
                if self._records:
                    events = [event if (record := event.record) is None else record for event in events]
                return {key: list(map(getter, events)) for key, getter in zip(self.keys, self._getters)}
            except msgspec.ValidationError:  # a value that is not text: read the lines as orjson does
                pass
        events = [_whole_event(line) for line in lines]
        if self._records:
            events = [inner if (inner := event.get(_EVENT)).__class__ is dict else event for event in events]
        found: dict[str | None, list] = {key: [event.get(key) for event in events] for key in self.keys}
        found[None] = events
        return found


def _whole_event(line: bytes) -> dict:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        # Only a number beyond double range, which msgspec reads as infinity: the documented
        # difference of projected reading (module docstring), here in a key read late.
        return msgspec.json.decode(line)


class _LateLines:
    """Lines kept for the deferred keys; decodes the rows asked for.

    The columns of one batch are filtered alike, so the last rows decoded are usually asked for
    again by the next deferred column: they are decoded once for all deferred keys.
    """

    def __init__(self, late: _LateDecoder):
        self.late = late
        self._rows: np.ndarray | None = None
        self._decoded: dict[str | None, list] = {}

    def values(self, key: str | None, rows: np.ndarray) -> list:
        """Key `key` of the events on these rows; the events themselves for None (`events` decoders)."""
        if self._rows is None or not np.array_equal(self._rows, rows):
            self._decoded = self.late.decode(self._lines(rows))
            self._rows = rows
        decoded = self._decoded
        if key not in decoded and None in decoded:  # any key of the events decoded whole
            decoded[key] = [event.get(key) for event in decoded[None]]
        return decoded[key]

    def _lines(self, rows: np.ndarray) -> list[bytes]:
        raise NotImplementedError


class _Lines(_LateLines):
    """The lines of one or more blocks held in memory (read from a stream that cannot be read again)."""

    def __init__(self, blocks: list[bytes], firsts: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 late: _LateDecoder):
        super().__init__(late)
        # Line i is blocks[b][starts[i]:ends[i]] for the last b with firsts[b] <= i.
        self.blocks, self.firsts, self.starts, self.ends = blocks, firsts, starts, ends

    def __len__(self) -> int:
        return len(self.starts)

    def concat(self, parts: list["_Lines"]) -> "_Lines":
        blocks, firsts, first = [], [], 0
        for part in parts:
            blocks += part.blocks
            firsts.append(part.firsts + first)
            first += len(part)
        return _Lines(blocks, np.concatenate(firsts), np.concatenate([p.starts for p in parts]),
                      np.concatenate([p.ends for p in parts]), self.late)

    def _lines(self, rows: np.ndarray) -> list[bytes]:
        blocks, which = self.blocks, np.searchsorted(self.firsts, rows, side="right") - 1
        return [blocks[b][s:e] for b, s, e in zip(which.tolist(), self.starts[rows].tolist(), self.ends[rows].tolist())]


class _FileLines(_LateLines):
    """Lines at known spans of a regular file, read when asked for: only the lines of the records
    that reach a deferred column's use are read again, and no block is kept meanwhile. Workers send
    deferred columns to the main process as these spans."""

    # Spans closer than this are read with one pread.
    _GAP = 1 << 16

    def __init__(self, path: str, starts: np.ndarray, ends: np.ndarray, late: _LateDecoder):
        super().__init__(late)
        self.path, self.starts, self.ends = path, starts, ends

    def __len__(self) -> int:
        return len(self.starts)

    def concat(self, parts: list["_FileLines"]) -> "_FileLines":
        if any(part.path != self.path for part in parts):
            raise ValueError("lines of different files are not gathered together")
        return _FileLines(self.path, np.concatenate([p.starts for p in parts]), np.concatenate([p.ends for p in parts]),
                          self.late)

    def spans(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.starts[rows], self.ends[rows]

    def _lines(self, rows: np.ndarray) -> list[bytes]:
        starts, ends = self.spans(rows)
        order = np.argsort(starts, kind="stable")
        lines: list[bytes] = [b""] * len(rows)
        with open(self.path, "rb") as handle:
            group: list[int] = []
            for position in order.tolist() + [None]:
                if group and (position is None or starts[position] - ends[group[-1]] > self._GAP):
                    first, last = int(starts[group[0]]), int(ends[group[-1]])
                    data = os.pread(handle.fileno(), last - first, first)
                    if len(data) < last - first:
                        raise SplError(BAD_INPUT, f"{self.path} got shorter while it was read "
                                                  f"(at byte {len(data) + first:,})")
                    for i in group:
                        lines[i] = data[starts[i] - first: ends[i] - first]
                    group = []
                if position is not None:
                    group.append(position)
        return lines


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
