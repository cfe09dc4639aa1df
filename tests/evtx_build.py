"""Write a small but well-formed EVTX file, so the EVTX path is tested on a real file without shipping one.

No public EVTX sample of Sysmon or 4688 is on PyPI to test with, so this builds one from the format
(one file header, one 64 KiB chunk, records of binary XML): each record is a template instance
whose template is defined inline (as Windows writes the first record of each shape) and whose
values are substitutions with their Windows types: EventID UInt16, TimeCreated FILETIME,
EventRecordID UInt64, process ids UInt32, everything else UTF-16 text. Checksums are real CRC32s.
"""
from __future__ import annotations

import struct
import uuid
import zlib
from datetime import datetime, timezone

EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
_CHUNK = 65536
_RECORDS_START = 512

# substitution value types
_STRING, _UINT16, _UINT32, _UINT64, _FILETIME = 0x01, 0x06, 0x08, 0x0A, 0x11


def _filetime(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc)
    epoch = datetime(1601, 1, 1, tzinfo=timezone.utc)
    delta = moment - epoch
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def _name_hash(name: str) -> int:
    value = 0
    for unit in struct.unpack(f"<{len(name)}H", name.encode("utf-16-le")):
        value = (value * 65599 + unit) & 0xFFFFFFFF
    return value & 0xFFFF


class _Record:
    """Binary XML of one record, written at a known offset of its chunk (names and templates point there)."""

    def __init__(self, base: int):
        self.base = base  # chunk offset of self.buf[0]
        self.buf = bytearray()
        self.values: list[tuple[int, bytes]] = []

    def pos(self) -> int:
        return self.base + len(self.buf)

    def u8(self, v: int) -> None:
        self.buf += struct.pack("<B", v)

    def u16(self, v: int) -> None:
        self.buf += struct.pack("<H", v)

    def u32(self, v: int) -> None:
        self.buf += struct.pack("<I", v)

    def placeholder(self) -> int:
        at = len(self.buf)
        self.u32(0)
        return at

    def patch(self, at: int, value: int) -> None:
        self.buf[at:at + 4] = struct.pack("<I", value)

    def name(self, text: str) -> None:
        self.u32(self.pos() + 4)  # the name follows inline, at the offset it names
        self.u32(0)
        self.u16(_name_hash(text))
        self.u16(len(text))
        self.buf += text.encode("utf-16-le") + b"\0\0"

    def substitution(self, value) -> None:
        if isinstance(value, tuple):
            kind, value = value
        else:
            kind = _STRING
        packed = {
            _STRING: lambda v: str(v).encode("utf-16-le"),
            _UINT16: lambda v: struct.pack("<H", v),
            _UINT32: lambda v: struct.pack("<I", v),
            _UINT64: lambda v: struct.pack("<Q", v),
            _FILETIME: lambda v: struct.pack("<Q", _filetime(v)),
        }[kind](value)
        self.u8(0x0D)  # normal substitution
        self.u16(len(self.values))
        self.u8(kind)
        self.values.append((kind, packed))

    def element(self, tag: str, attributes: dict | None = None, content=None) -> None:
        """`content`: a value (substituted), a list of child (tag, attributes, content) triples, or None."""
        self.u8(0x41 if attributes else 0x01)
        self.u16(0xFFFF)  # dependency identifier: none
        size_at = self.placeholder()
        start = len(self.buf)
        self.name(tag)
        if attributes:
            list_at = self.placeholder()
            list_start = len(self.buf)
            items = list(attributes.items())
            for i, (key, value) in enumerate(items):
                self.u8(0x46 if i < len(items) - 1 else 0x06)
                self.name(key)
                self.substitution(value)
            self.patch(list_at, len(self.buf) - list_start)
        if content is None:
            self.u8(0x03)  # close empty element
        else:
            self.u8(0x02)  # close start element
            if isinstance(content, list):
                for child in content:
                    self.element(*child)
            else:
                self.substitution(content)
            self.u8(0x04)  # end element
        self.patch(size_at, len(self.buf) - start)

    def event(self, system: list, data: dict) -> bytes:
        self.buf += b"\x0f\x01\x01\x00"  # fragment header
        self.u8(0x0C)  # template instance
        self.u8(0x01)
        self.u32(0)  # template id
        self.u32(self.pos() + 4)  # the definition follows inline
        self.u32(0)  # next template
        self.buf += uuid.uuid4().bytes_le
        size_at = self.placeholder()
        start = len(self.buf)
        self.buf += b"\x0f\x01\x01\x00"
        event_data = [("Data", {"Name": (_STRING, key)}, value) for key, value in data.items()]
        self.element("Event", {"xmlns": (_STRING, EVENT_NS)}, [("System", None, system), ("EventData", None, event_data)])
        self.u8(0x00)  # end of template
        self.patch(size_at, len(self.buf) - start)
        self.u32(len(self.values))
        for kind, packed in self.values:
            self.u16(len(packed))
            self.u8(kind)
            self.u8(0)
        for _, packed in self.values:
            self.buf += packed
        self.u8(0x00)  # end of record fragment
        return bytes(self.buf)


def _typed(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return (_UINT32 if 0 <= value < 2**32 else _UINT64, value)
    return (_STRING, value)


def _system(flat: dict) -> list:
    """The <System> children of a flat record (popping their keys), in the order Windows writes them."""
    def attrs(**names):
        found = {attr: _typed(flat.pop(key)) for attr, key in names.items() if key in flat}
        return found or None

    children = [("Provider", attrs(Name="ProviderName", Guid="ProviderGuid"), None),
                ("EventID", None, (_UINT16, flat.pop("EventID")))]
    children += [(key, None, _typed(flat.pop(key))) for key in ("Version", "Level", "Task", "Opcode", "Keywords")
                 if key in flat]
    children.append(("TimeCreated", {"SystemTime": (_FILETIME, flat.pop("TimeCreated"))}, None))
    children.append(("EventRecordID", None, (_UINT64, flat.pop("EventRecordID"))))
    execution = attrs(ProcessID="ExecutionProcessID", ThreadID="ExecutionThreadID")
    if execution:
        children.append(("Execution", execution, None))
    children += [(key, None, _typed(flat.pop(key))) for key in ("Channel", "Computer")]
    security = attrs(UserID="SecurityUserID")
    if security:
        children.append(("Security", security, None))
    return children


def _chunk(records: list[bytes], first_number: int) -> bytes:
    chunk = bytearray(_CHUNK)
    offset = last_offset = _RECORDS_START
    for record in records:
        chunk[offset:offset + len(record)] = record
        last_offset, offset = offset, offset + len(record)
    last = first_number + len(records) - 1
    struct.pack_into("<8sQQQQIIII", chunk, 0, b"ElfChnk\0", first_number, last, first_number, last, 128,
                     last_offset, offset, zlib.crc32(chunk[_RECORDS_START:offset]))
    struct.pack_into("<I", chunk, 124, zlib.crc32(bytes(chunk[:120]) + bytes(chunk[128:512])))
    return bytes(chunk)


def write_evtx(path, records: list[dict]) -> None:
    """Each record flat, as the corpus's EVTX conversion made them (`ProviderName`, `EventID`, `TimeCreated`,
    `EventRecordID`, `Channel`, `Computer`, ... then the EventData names); `_source_file` is left out."""
    chunks, pending, used = [], [], _RECORDS_START
    number = first = 1
    for flat in records:
        flat = {k: v for k, v in flat.items() if k != "_source_file" and v is not None}
        system = _system(flat)
        data = {key: _typed(value) for key, value in flat.items()}
        written = _filetime(datetime.now(timezone.utc).isoformat())
        for _ in range(2):
            body = _Record(used + 24).event(system, data)
            size = 24 + len(body) + 4
            if used + size <= _CHUNK:
                break
            chunks.append(_chunk(pending, first))  # full: this record opens the next chunk
            pending, used, first = [], _RECORDS_START, number
        else:
            raise ValueError("record too large for a chunk")
        pending.append(struct.pack("<4sIQQ", b"**\0\0", size, number, written) + body + struct.pack("<I", size))
        used += size
        number += 1
    if pending:
        chunks.append(_chunk(pending, first))
    header = bytearray(4096)
    struct.pack_into("<8sQQQIHHHH", header, 0, b"ElfFile\0", 0, len(chunks) - 1, number, 128, 2, 3, 4096,
                     len(chunks))
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    with open(path, "wb") as handle:
        handle.write(bytes(header) + b"".join(chunks))
