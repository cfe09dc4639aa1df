"""Input formats: what shape each decoded line has, and the shape each source hands its search.

A line is one of
  * an SSA enriched event: flat, with `process_name` / `parent_process_name` / `process_path`;
  * an envelope `{"input_event": {...}, ...}`: a record of the SSA/BA stream (its event is the `input_event`);
  * an OCSF document: has `class_uid`;
  * a raw Windows record in any shape `spl_lite.io.windows.detect_format` knows (Sysmon, 4688);
  * anything else ("plain"): handed to every source as it is, as before formats existed.

The source decides the shape (`SourceSpec.shape`): "ssa" sources get enriched events, "ba"
(`read_ba_enriched_events`) OCSF documents or envelopes of them, "ocsf" (G4 `from source`) flat
OCSF documents. Raw records that are no process creation are skipped and counted by reason.
"""
from __future__ import annotations

from collections import Counter
from itertools import repeat

import numpy as np

from ..core.errors import BAD_INPUT, SplError
from ..core.batch import ProjectedMaps
from . import ocsf, windows

INPUT_FORMATS: dict[str, str] = {
    "auto": "each line recognised by its shape: SSA enriched event, {input_event} record, OCSF, raw Windows",
    "ssa": "SSA enriched events or {input_event} records, used as they are (no recognition: fastest)",
    "ocsf": "OCSF process documents (class_uid ...)",
    "windows": "raw Windows records in any known shape; Sysmon EID 1 and Security 4688 kept",
    "sysmon": "raw Windows records; only Sysmon EID 1 kept (for hosts that log both)",
    "winsec": "raw Windows records; only Security 4688 kept",
}
RAW_FORMATS = ("windows", "sysmon", "winsec")

# Skip reasons, as the run summary prints them.
NOT_PROCESS_CREATION = "not process creation"
UNREADABLE = "unreadable event data"
NOT_RAW = "not a raw Windows record"
OTHER_CHANNEL = {"sysmon": "not Sysmon (--input-format sysmon)", "winsec": "not Security 4688 (--input-format winsec)"}
_CHANNEL_EVENT_ID = {"sysmon": windows.SYSMON_PROCESS_CREATE, "winsec": windows.SECURITY_PROCESS_CREATE}

# Line kinds.
SSA, ENVELOPE, OCSF, RAW, PLAIN = "ssa", "envelope", "ocsf", "raw", "plain"
SSA_KEYS = ("process_name", "parent_process_name", "process_path")
# The keys a flat line's OCSF document and its kind (SSA or plain) are made of: a search reading the
# documents only by key (plan/rules/documents_by_key.py) is served by a projection of these.
DOCUMENT_KEYS = frozenset(ocsf.FROM_ENRICHED_KEYS) | frozenset(SSA_KEYS)
# Keys by which a line may be anything but a flat SSA/plain event: if no line of a batch has any of
# them, the whole batch is flat and needs no look at each line (checked at C speed, key by key).
NOT_FLAT_KEYS = ("input_event", "class_uid", "_raw", "winlog", "event_data", "EventID", "EventId")
_NOT_OCSF_KEYS = ("input_event", "_raw", "winlog", "event_data", "EventID", "EventId")


def _has_any(events: list[dict], keys: tuple[str, ...]) -> bool:
    contains = dict.__contains__
    return any(any(map(contains, events, repeat(key))) for key in keys)


def kind_of(event: dict) -> str:
    if event.get("input_event").__class__ is dict:
        return ENVELOPE
    if windows.detect_format(event) is not None:
        return RAW
    return _event_kind(event)


def _event_kind(event: dict) -> str:
    """OCSF, SSA or plain: the kinds an event inside an envelope, or on the flat fast path, can be."""
    if "class_uid" in event:
        return OCSF
    for key in SSA_KEYS:
        if key in event:
            return SSA
    return PLAIN


class InputConverter:
    """One run's conversion of decoded lines into source shapes, with its counters.

    `lines` counts lines by kind, `normalised` the raw records turned into events, `skipped` the
    lines dropped, by reason.
    """

    def __init__(self, input_format: str = "auto"):
        if input_format not in INPUT_FORMATS:
            raise ValueError(f"unknown input format {input_format!r}; known: {', '.join(INPUT_FORMATS)}")
        self.input_format = input_format
        self.lines: Counter[str] = Counter()
        self.normalised = 0
        self.skipped: Counter[str] = Counter()

    def merge(self, other: "InputConverter") -> None:
        """Add the counts of a converter that ran elsewhere (a worker process)."""
        self.lines.update(other.lines)
        self.normalised += other.normalised
        self.skipped.update(other.skipped)

    def convert(self, events: list[dict] | ProjectedMaps) -> "Converted":
        fmt = self.input_format
        if events.__class__ is ProjectedMaps:  # lines read in part (spl_lite/io/projection.py)
            skips = events.skips
            if skips is None:  # flat SSA lines, or OCSF documents read as SSA events (`kind`)
                if fmt == "auto":
                    self.lines[events.kind or SSA] += len(events)
                return Converted(events, SSA)
            # Raw Windows records normalised column by column (spl_lite/io/windows_columns.py).
            self.lines[RAW] += len(events)
            kept = skips == None  # noqa: E711 (numpy compares element by element)
            self.skipped.update(skips[~kept].tolist())
            self.normalised += int(np.count_nonzero(kept))
            return Converted(events if kept.all() else events[kept], SSA)
        if fmt == "ssa":
            return Converted(events, None)  # every shape is the lines as they are: the old behaviour
        if fmt == "auto" and events:
            first = kind_of(events[0])
            if first in (SSA, PLAIN) and not _has_any(events, NOT_FLAT_KEYS):
                self.lines[SSA] += len(events)  # SSA and plain lines count together on this path
                return Converted(events, SSA)
            if (first == OCSF and all(map(dict.__contains__, events, repeat("class_uid")))
                    and not _has_any(events, _NOT_OCSF_KEYS)):
                self.lines[OCSF] += len(events)
                return Converted(events, OCSF)
        items: list[tuple[str, dict]] = []
        for event in events:
            kind = kind_of(event) if fmt == "auto" else self._forced_kind(event)
            if kind is None:
                continue
            self.lines[kind] += 1
            if kind == RAW:
                found = self._process_creation(event)
                if found is None:
                    continue
                self.normalised += 1
                items.append((RAW, found))
            else:
                items.append((kind, event))
        return Converted(items, None, mixed=True)

    def _forced_kind(self, event: dict) -> str | None:
        if self.input_format == "ocsf":
            return ENVELOPE if event.get("input_event").__class__ is dict else OCSF
        if windows.detect_format(event) is None:
            self.skipped[NOT_RAW] += 1
            return None
        return RAW

    def _process_creation(self, record: dict) -> dict | None:
        found, reason = read_process_creation(record)
        if found is None:
            self.skipped[reason] += 1
            return None
        wanted = _CHANNEL_EVENT_ID.get(self.input_format)
        if wanted is not None and found["event_id"] != wanted:
            self.skipped[OTHER_CHANNEL[self.input_format]] += 1
            return None
        return found


# What normalising a raw record may raise: the record is skipped as unreadable.
UNREADABLE_ERRORS = (ValueError, TypeError, AttributeError, KeyError)


def read_process_creation(record: dict) -> tuple[dict | None, str | None]:
    """The facts of a raw record (windows.process_creation) and None, or None and why it is skipped."""
    try:
        found = windows.process_creation(record)
    except UNREADABLE_ERRORS:
        # Event XML or JSON text that does not parse, or a known shape holding values of the wrong type.
        return None, UNREADABLE
    if found is None:
        return None, NOT_PROCESS_CREATION
    return found, None


class Converted:
    """One batch of lines; `shape(name)` gives the list a source of that shape reads, computed once."""

    __slots__ = ("_items", "_uniform", "_mixed", "_shapes", "_records", "_view", "length")

    def __init__(self, items: list, uniform: str | None, mixed: bool = False):
        self._items, self._uniform, self._mixed = items, uniform, mixed
        self._shapes: dict[str, list[dict]] = {}
        self._records: dict[tuple[str, int, bool], object] = {}
        self._view: ocsf.DocumentsView | None | bool = False  # False: not looked at yet
        self.length = len(items)

    def records(self, source, first_row_id: int, by_key: bool = False):
        """The Batch a source (io/sources.py SourceSpec) makes of these lines, made once: every search
        of a run reads the same batch, so work keyed by its columns is shared (engine/sharing.py).
        `by_key`: the search reads the source's OCSF documents only by key (the planner proved it), so
        flat events may be handed over as their DocumentsView instead of the documents."""
        key = (source.name, first_row_id, by_key)
        found = self._records.get(key)
        if found is None:
            view = self.documents_view() if by_key and source.shape != "ssa" else None
            events = self.shape(source.shape) if view is None else view
            found = self._records[key] = source.to_batch(events, first_row_id)
        return found

    def documents_view(self) -> "ocsf.DocumentsView | None":
        """The OCSF documents of these lines as columns, when they are all flat SSA events. Events
        decoded for the keys their documents are made of (DOCUMENT_KEYS) are SSA events each: the
        projected decoder hands over no others then (io/projection.py)."""
        if self._view is False:
            items = self._items
            if items.__class__ is ProjectedMaps:
                self._view = ocsf.DocumentsView.of(items) if items.kind is None and items.skips is None else None
            else:
                flat = not self._mixed and self._uniform == SSA and items.__class__ is list
                self._view = ocsf.DocumentsView.of(items) if flat and _all_ssa(items) else None
        return self._view

    def shape(self, name: str) -> list[dict]:
        found = self._shapes.get(name)
        if found is None:
            found = self._shapes[name] = self._build(name)
        return found

    def _build(self, name: str) -> list[dict]:
        if not self._mixed:
            uniform = self._uniform
            if uniform is None or (uniform == SSA and name == "ssa") or (uniform == OCSF and name != "ssa"):
                return self._items
            if uniform == SSA:  # flat events become the same OCSF documents for "ba" and "ocsf": convert once
                done = self._shapes.get("ocsf" if name == "ba" else "ba")
                if done is not None:
                    return done
                return _documents_of_flat(self._items)
            return [_convert(OCSF, e, name) for e in self._items]
        return [_convert(kind, e, name) for kind, e in self._items]


def _documents_of_flat(events: list[dict]) -> list[dict]:
    """The OCSF documents of a batch of flat lines (SSA or plain), as `_convert` makes them one by one:
    SSA events converted together (ocsf.from_enriched_events), plain ones as they are."""
    is_ssa = [_event_kind(e) == SSA for e in events]
    converted = iter(ocsf.from_enriched_events([e for e, ssa in zip(events, is_ssa) if ssa]))
    return [next(converted) if ssa else e for e, ssa in zip(events, is_ssa)]


def _all_ssa(events: list[dict]) -> bool:
    """Whether every one of these flat lines is an SSA event (no plain one), key by key at C speed."""
    ssa = np.zeros(len(events), dtype=bool)
    for key in SSA_KEYS:
        ssa |= np.fromiter(map(dict.__contains__, events, repeat(key)), dtype=bool, count=len(events))
    return bool(ssa.all())


def _convert(kind: str, value: dict, shape: str) -> dict:
    if kind == RAW:
        return windows.enriched(value) if shape == "ssa" else ocsf.from_process_creation(value)
    if kind == PLAIN:
        return value
    if kind == ENVELOPE:
        inner = value["input_event"]
        converted = _convert(_event_kind(inner), inner, shape)
        if shape == "ocsf":
            return converted  # G4 reads the event itself, not the stream record around it
        return value if converted is inner else {**value, "input_event": converted}
    if shape == "ssa":
        return ocsf.to_enriched(value) if kind == OCSF else value
    return ocsf.from_enriched(value) if kind == SSA else value


def check_inputs(paths: list[str], input_format: str) -> None:
    """EVTX files hold raw Windows records: they need a format that reads those."""
    from .evtx import is_evtx

    if input_format in ("ssa", "ocsf"):
        for path in paths:
            if is_evtx(path):
                raise SplError(
                    BAD_INPUT,
                    f"`{path}` is an EVTX file of raw Windows records; --input-format {input_format} cannot read it "
                    f"(use auto, {', '.join(RAW_FORMATS)})",
                )
