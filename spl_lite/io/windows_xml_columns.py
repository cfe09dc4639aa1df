"""Raw Splunk XmlWinEventLog records (`{"_raw": "<Event xmlns=...>...</Event>", ...}`) read for the
SSA keys a plan needs without building an XML tree.

The event XML Windows renders has one layout: the System elements in schema order, then EventData
as a run of `<Data Name='...'>text</Data>`. One regular expression checks that a record's `_raw` is
exactly that layout, a subset of well-formed XML, and captures the System fields that decide the
record (provider, event id, channel) and make SSA keys (time, computer) and the EventData, whose
Data elements a second one reads. In that layout ElementTree (io/windows.py) builds the tree the
captures describe, so the values are the same once references (`&amp;`, `&#10;`) are decoded as
the XML parser decodes them. The normalising is windows_columns.py's, column by column.

A record outside the layout goes, alone, to io/windows.py: other System elements or attributes,
another attribute order, quoting other than the record's own, namespace prefixes, comments, CDATA,
processing instructions, a DOCTYPE, elements inside Data, self-closing Data, UserData, RenderingInfo,
whitespace before `<Event`, a carriage return anywhere or a tab or newline inside an attribute value
(the parser rewrites those), an undefined or invalid reference, a character XML forbids, `]]>`.
Classic WinEventLog text in `_raw` (a date line, `Key=Value` header lines, the rendered Message) is
read too: its header and, for a process creation, its Message parsed as io/windows.py parses them,
without decoding the rest of the line. A block is declined (None) when a line is no such record: a
`_raw` that is neither, a line with `input_event` or without `_raw` text, anything json_blocks.py
rejects.
"""
from __future__ import annotations

import re
from functools import lru_cache
from operator import attrgetter
from typing import Annotated

import msgspec

from ..core.batch import ProjectedMaps
from . import formats, windows
from .json_blocks import schema_records
from .windows_columns import WHOLE, data_fields_of, events_of

_NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"
# No JSON value passes: a line with `input_event` is a stream record (formats.kind_of), declined.
_ABSENT = Annotated[int, msgspec.Meta(ge=1, le=0)]


class _XmlRecord(msgspec.Struct, gc=False):
    raw: str = msgspec.field(name="_raw")
    input_event: _ABSENT = msgspec.field(default=None, name="input_event")


_RAW = attrgetter("raw")
_WHITESPACE = "[ \t\n]*"  # between elements: text and tails ElementTree keeps and io/windows.py never reads
# The System elements in the order Windows writes them, each with the attributes it may have (in
# that order, so no name twice) and the group capturing the value io/windows.py reads of it.
_SYSTEM = (
    ("Provider", (("Name", "provider"), ("Guid", None), ("EventSourceName", None)), None),
    ("EventID", (("Qualifiers", None),), "event_id"),
    ("Version", (), None),
    ("Level", (), None),
    ("Task", (), None),
    ("Opcode", (), None),
    ("Keywords", (), None),
    ("TimeCreated", (("SystemTime", "time"),), None),
    ("EventRecordID", (), None),
    ("Correlation", (("ActivityID", None), ("RelatedActivityID", None)), None),
    ("Execution", (("ProcessID", None), ("ThreadID", None), ("ProcessorID", None), ("SessionID", None),
                   ("KernelTime", None), ("UserTime", None), ("ProcessorTime", None)), None),
    ("Channel", (), "channel"),
    ("Computer", (), "computer"),
    ("Security", (("UserID", None),), None),
)


# Characters ElementTree reads otherwise than they stand, or rejects: a carriage return (line ends
# become `\n`), those XML forbids. No text or attribute value the layout accepts holds one.
_UNLIKE_ITSELF = "\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff"
_TEXT = f"[^<{_UNLIKE_ITSELF}]*"


def _value(quote: str) -> str:
    """An attribute value in these quotes, but for the tab and newline the parser turns into spaces."""
    return f"[^{quote}<\t\n{_UNLIKE_ITSELF}]*"


@lru_cache(maxsize=None)
def _layout(quote: str) -> re.Pattern:
    """The whole record, with attribute values in these quotes (compiled at first use: a run of
    other shapes spares the time)."""
    value = _value(quote)

    def attribute(name: str, group: str | None) -> str:
        captured = f"(?P<{group}>{value})" if group else value
        return f"(?: {name}={quote}{captured}{quote})?"

    def element(tag: str, attributes: tuple, group: str | None) -> str:
        text = f"(?P<{group}>{_TEXT})" if group else _TEXT
        return (f"(?:{_WHITESPACE}<{tag}{''.join(attribute(*a) for a in attributes)}"
                f"(?:/>|>{text}</{tag}>))?")

    data = f"<Data Name={quote}{value}{quote}>{_TEXT}</Data>"
    return re.compile(
        f"<Event xmlns={quote}{re.escape(_NAMESPACE)}{quote}>{_WHITESPACE}<System>"
        f"{''.join(element(*e) for e in _SYSTEM)}{_WHITESPACE}</System>"
        f"(?:{_WHITESPACE}(?:<EventData>(?P<data>(?:{_WHITESPACE}{data})*){_WHITESPACE}</EventData>"
        f"|<EventData/>))?{_WHITESPACE}</Event>{_WHITESPACE}")


def _data(quote: str, names: tuple[str, ...]) -> re.Pattern:
    """(Name, text) of the Data elements with these names in an EventData the layout accepted
    (three times faster than reading every one)."""
    return re.compile(f"<Data Name={quote}({'|'.join(map(re.escape, names))}){quote}>([^<]*)")


_QUOTES = ("'", '"')
# A Data name spelled with a reference, which the names looked for would miss: the record goes whole.
_NAME_REFERENCE = re.compile("<Data Name=(?:'[^'&]*|\"[^\"&]*)&")
_START = "<Event xmlns="
# Digits bounded: a longer reference (beyond Unicode anyway) is not matched, so the record goes whole.
_REFERENCE = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,10})|#x([0-9a-fA-F]{1,8}));")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _is_xml_char(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD \
        or 0x10000 <= code <= 0x10FFFF


def _references_readable(raw: str) -> bool:
    """Whether every `&` starts a predefined entity or a reference to a character XML allows, and
    none is in a Data name (the names looked for would miss it)."""
    found = _REFERENCE.findall(raw)
    if len(found) != raw.count("&") or _NAME_REFERENCE.search(raw):
        return False
    return all(name or _is_xml_char(int(decimal) if decimal else int(hexadecimal, 16))
               for name, decimal, hexadecimal in found)


def _dereference(match: re.Match) -> str:
    name, decimal, hexadecimal = match.groups()
    return _ENTITIES[name] if name else chr(int(decimal) if decimal else int(hexadecimal, 16))


def _decoded(text: str | None) -> str | None:
    return text if text is None or "&" not in text else _REFERENCE.sub(_dereference, text)


class WindowsXmlDecoder:
    """Decodes a block of XmlWinEventLog lines into a ProjectedMaps of the SSA `keys`, one row a
    line, with `skips` naming the lines that are no process creation; None: the block needs the
    whole-event path. Shaped like ProjectedDecoder.decode_block."""

    def __init__(self, keys: frozenset[str]):
        self.keys = tuple(sorted(keys))
        self._data_names = tuple(sorted(set().union(*data_fields_of(self.keys).values())))
        # Image too: its presence tells Sysmon records without provider or channel (windows._is_process_creation).
        self._needed_data = {quote: _data(quote, ("Image", *self._data_names)) for quote in _QUOTES}
        self._decoder = msgspec.json.Decoder(_XmlRecord)
        self._plans: dict[tuple, tuple] = {}  # per distinct (provider, event id, channel, has Image)

    def decode_block(self, block: bytes, place: tuple[str, int] | None = None) -> ProjectedMaps | None:
        """The SSA events of a block of XmlWinEventLog records (`place` is not needed: no key is deferred)."""
        decoded = schema_records(self._decoder, block)
        if decoded is None:
            return None
        records, bounds = decoded
        # One row a record: its plan, TimeCreated, Computer, then the needed Data fields (None: absent).
        rows: list[tuple] = []
        names = self._data_names
        left_whole = ((WHOLE,), None, None, *(None for _ in names))
        plan_of, plan, needed = self._plans, self._plan, self._needed_data
        for raw in map(_RAW, records):
            quote = raw[len(_START):len(_START) + 1] if raw.startswith(_START) else None
            found = _layout(quote).fullmatch(raw) if quote in _QUOTES else None
            if found is None and not raw.lstrip().startswith("<Event"):
                if "EventCode=" not in raw:
                    return None  # no Windows event (windows.detect_format): another shape of line
                rows.append(self._classic_row(raw))
                continue
            references = "&" in raw
            if found is None or "]]>" in raw or (references and not _references_readable(raw)):
                rows.append(left_whole)
                continue
            provider, event_id, time, channel, computer, event_data = found.group(
                "provider", "event_id", "time", "channel", "computer", "data")
            fields = dict(needed[quote].findall(event_data)) if event_data else {}
            if references:
                provider, event_id, time, channel, computer = map(_decoded, (provider, event_id, time, channel,
                                                                              computer))
                fields = {name: _decoded(text) for name, text in fields.items()}
            # An element with no text gives None on the whole-event path, as one that is absent.
            signature = (provider, event_id or None, channel or None, "Image" in fields)
            row_plan = plan_of.get(signature)
            if row_plan is None:
                row_plan = plan_of[signature] = plan(*signature)
            rows.append((row_plan, time, computer or None, *map(fields.get, names)))
        plans, times, computers, *data = zip(*rows)
        absent = (None,) * len(rows)
        columns = {"TimeCreated": times, "_header_time": times, "Computer": computers, "Hostname": absent,
                   "ComputerName": absent, "computer_name": absent, **dict(zip(names, data))}
        return events_of(self.keys, plans, lambda fmt: columns, block, bounds)

    def _classic_row(self, raw: str) -> tuple:
        """The row of classic WinEventLog text (windows.process_creation): the header's fields, and
        EventData as the rendered Message gives it, parsed only for a process creation."""
        system = windows._parse_wineventlog_header(raw)
        event_id = windows._as_int(windows._first(system, "EventID", "EventId", "EventCode"))
        if not windows._is_process_creation(event_id, system, {}):
            return (formats.NOT_PROCESS_CREATION,), None, None, *(None for _ in self._data_names)
        message = system.get("Message")
        parse = windows._parse_sysmon_message if event_id == windows.SYSMON_PROCESS_CREATE \
            else windows._parse_4688_message
        data = parse(message) if isinstance(message, str) else {}
        # The host as io/windows.py finds it among the header's names, put where `_host` looks first.
        computer = windows._first(system, "Computer", "Hostname", "ComputerName", "computer_name")
        return ((None, "wineventlog", event_id), system["_header_time"], computer,
                *map(data.get, self._data_names))

    @staticmethod
    def _plan(provider: str | None, event_id: str | None, channel: str | None, has_image: bool) -> tuple:
        """(None, "xml", event id) for a process creation, else (reason,), as io/windows.py decides."""
        system = {key: value for key, value in (("ProviderName", provider), ("EventID", event_id),
                                                ("Channel", channel)) if value is not None}
        number = windows._as_int(event_id)
        if not windows._is_process_creation(number, system, {"Image": ""} if has_image else {}):
            return (formats.NOT_PROCESS_CREATION,)
        return (None, "xml", number)
