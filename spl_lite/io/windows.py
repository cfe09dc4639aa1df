"""Normalise raw Windows process-creation records (Sysmon EID 1, Security 4688) into SSA enriched events."""

from __future__ import annotations

import calendar
import functools
import re
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

_EVT_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
SYSMON_PROCESS_CREATE = 1
SECURITY_PROCESS_CREATE = 4688

# The raw shapes `detect_format` recognises, as found in the public corpus (shared/data/README.md).
FORMATS = {
    "xml": "Splunk XmlWinEventLog: `_raw` holds the <Event> XML",
    "wineventlog": "Splunk classic WinEventLog text in `_raw`: date line, Key=Value header, Message",
    "evtx": "EVTX converted to one flat object: System fields renamed, EventData at top level",
    "nxlog": "NXLog im_msvistalog JSON (OTRF/Mordor, Attack Range): flat, `Hostname`, `SourceName`",
    "winlogbeat": "Winlogbeat 6: `event_data` object, `computer_name`, `event_id`",
    "winlogbeat-ecs": "Winlogbeat 7+ (ECS): the same under `winlog`",
    "sentinel": "Microsoft Sentinel / Log Analytics export: `TimeGenerated`; EventData flat, XML or JSON text",
    "eqllib": "PowerShell export of Sysmon EventData (endgameinc/eqllib): `EventId`, no host",
}

# Envelope time keys tried in order, per format: Security 4688 has nothing else, Sysmon only lacks UtcTime
# when the record is broken.
_TIME_KEYS: dict[str, tuple[str, ...]] = {
    "xml": ("TimeCreated",),
    "evtx": ("TimeCreated",),
    # The forwarder's local time with no zone, read as UTC as the corpus README does; the SSA test harness
    # rewrote exactly this line to move events in time, a hint that SSA took `_time` from it.
    "wineventlog": ("_header_time",),
    "winlogbeat": ("@timestamp",),
    "winlogbeat-ecs": ("@timestamp",),
    # In the 2022 OTRF Log-Analytics exports TimeCreated is 4 to 16 hours off the Sysmon UtcTime of the same
    # records while TimeGenerated matches it (up to a 12-hour-clock slip); Sentinel defines it as UTC.
    "sentinel": ("TimeGenerated", "TimeCreated", "TimeCreatedUtc"),
    # OTRF's pipeline writes @timestamp in UTC; NXLog's EventTime is the collector's clock with no zone.
    "nxlog": ("@timestamp", "TimeCreated", "EventTime"),
    "eqllib": (),
}


def detect_format(record: dict) -> str | None:
    """The key of FORMATS naming the raw shape of a Windows event record, or None when it is none of them."""
    raw = record.get("_raw")
    if isinstance(raw, str):
        if raw.lstrip().startswith("<Event"):
            return "xml"
        # Other text in `_raw` (a Splunk export of some other log) is no Windows event.
        return "wineventlog" if "EventCode=" in raw else None
    if isinstance(record.get("winlog"), dict):
        return "winlogbeat-ecs"
    if isinstance(record.get("event_data"), dict) and "event_id" in record:
        return "winlogbeat"
    if "EventID" not in record:
        # endgameinc/eqllib exported Sysmon EventData with PowerShell: `EventId`, no System fields at all.
        return "eqllib" if "EventId" in record else None
    if "TenantId" in record or "TimeGenerated" in record:
        return "sentinel"
    if "ProviderName" in record and "Computer" in record:
        return "evtx"
    if "Hostname" in record or "SourceName" in record:
        return "nxlog"
    return None


def normalise(record: dict) -> dict | None:
    """Map one raw record to a flat SSA `input_event`, or None when it is not a process creation.

    Raises ValueError when a record of a known shape carries event XML or JSON that does not parse.
    """
    found = process_creation(record)
    return None if found is None else enriched(found)


def process_creation(record: dict, fmt: str | None = None) -> dict | None:
    """The facts of one raw process-creation record, before either output shape is chosen.

    Keys: those of `enriched` (`time_ms`, `image`, ... `host`, `user`) plus what only the OCSF shape
    carries: `format`, `computer` (as reported), `channel`, `record_id`, `process_user` and
    `actor_user` (`(name, domain, sid)` with the source's case; None parts unknown), `integrity`,
    `logon_id` (the creator's logon session; Sysmon's of the new process, the same one in practice).
    None when the record is not a Sysmon EID 1 or Security 4688; `fmt` skips `detect_format`.
    """
    fmt = fmt or detect_format(record)
    if fmt is None:
        return None
    if fmt == "xml":
        system, data = _parse_xml_event(record["_raw"])
    elif fmt == "wineventlog":
        # The EventData of classic text events exists only as the rendered Message, parsed below.
        system, data = _parse_wineventlog_header(record["_raw"]), {}
    elif fmt == "winlogbeat-ecs":
        winlog = record["winlog"]
        system = {
            "EventID": winlog.get("event_id"),
            "Provider": winlog.get("provider_name"),
            "Channel": winlog.get("channel"),
            "Computer": winlog.get("computer_name") or (record.get("host") or {}).get("name"),
            "RecordNumber": winlog.get("record_id"),
            "@timestamp": record.get("@timestamp"),
            "Message": record.get("message"),
        }
        data = winlog.get("event_data") or {}
    elif fmt == "winlogbeat":
        system = {
            "EventID": record.get("event_id"),
            "Provider": record.get("source_name"),
            "Channel": record.get("log_name"),
            "Computer": record.get("computer_name"),
            "RecordNumber": record.get("record_number"),
            "@timestamp": record.get("@timestamp"),
            "Message": record.get("message"),
        }
        data = record["event_data"]
    elif fmt == "nxlog":
        system = record
        # NXLog copies EventData values still XML-escaped (`1&gt; out.txt`); its own Message shows them plain.
        data = {k: xml_unescaped(v) if isinstance(v, str) else v for k, v in record.items()}
    else:
        system = record
        data = record
        embedded = record.get("EventData")
        if isinstance(embedded, str):
            # Log-Analytics exports keep EventData as an XML fragment or (Sentinel `Event` table) a JSON string.
            data = {**record, **_parse_embedded_event_data(embedded)}

    event_id = _as_int(_first(system, "EventID", "EventId", "EventCode"))
    if not _is_process_creation(event_id, system, data):
        return None
    message = system.get("Message")
    if isinstance(message, str):
        # NXLog merges EventData names into its own case-insensitively (Sysmon's `ProcessId` vanishes under
        # NXLog's `ProcessID`) and drops the fields of over-long events, so the rendered message fills gaps.
        parse = _parse_sysmon_message if event_id == SYSMON_PROCESS_CREATE else _parse_4688_message
        data = {**parse(message), **data}
    found = _from_sysmon(fmt, system, data) if event_id == SYSMON_PROCESS_CREATE else _from_4688(fmt, system, data)
    # The record as parsed, for `raw_fields` (--raw-fields): kept by reference, nothing copied here.
    found["parsed"] = (system, data)
    return found


# Not copied by raw_fields: the whole event again (text), and the rendered message (long, and
# parsed into the fields already).
_NOT_RAW_FIELDS = frozenset(("_raw", "Message", "message", "EventData"))


def raw_fields(found: dict) -> dict:
    """The raw record's own fields, System and EventData names as the source spells them
    (`IntegrityLevel`, `CurrentDirectory`, `LogonId`, `Computer`, `EventRecordID`, ...), for the
    fields normalising has no place for; `--raw-fields` puts them under `raw` in the SSA event."""
    system, data = found["parsed"]
    merged = {k: v for k, v in system.items() if k not in _NOT_RAW_FIELDS}
    merged.update((k, v) for k, v in data.items() if k not in _NOT_RAW_FIELDS)
    return merged


def _from_sysmon(fmt: str, system: dict, data: dict) -> dict:
    process_user = _account(data.get("User"))
    return {
        # UtcTime is stamped by Sysmon itself at process start, in UTC; the envelope times are the log
        # write or collection time and, in several OTRF exports, local time mislabelled as UTC.
        "time_ms": _first_time(data.get("UtcTime"), *(system.get(key) for key in _TIME_KEYS[fmt])),
        "event_id": SYSMON_PROCESS_CREATE,
        "image": _text(data.get("Image")),
        "command_line": _text(data.get("CommandLine")),
        "parent_image": _text(data.get("ParentImage")),
        "parent_command_line": _text(data.get("ParentCommandLine")),
        "process_guid": _text(data.get("ProcessGuid")),
        "parent_process_guid": _text(data.get("ParentProcessGuid")),
        "process_id": _as_int(data.get("ProcessId")),
        "parent_process_id": _as_int(data.get("ParentProcessId")),
        "process_hash": _text(data.get("Hashes")),
        "host": _host(system),
        "user": _account_name(data.get("User")),
        **_context(fmt, system, "Microsoft-Windows-Sysmon/Operational"),
        "process_user": process_user,
        # Sysmon 13.30+ records the parent's account; before that the creator is taken to be the same user
        # (true except across runas, UAC elevation and services, which older Sysmon cannot tell apart).
        "actor_user": _account(data.get("ParentUser")) or process_user,
        "integrity": _integrity(data.get("IntegrityLevel")),
        "logon_id": _text(data.get("LogonId")),
    }


def _from_4688(fmt: str, system: dict, data: dict) -> dict:
    # The Target Subject is filled only when the new process runs under another account than its creator
    # (runas, services), so it names the new process's user when present; otherwise the creator's is it.
    user = _account_name(data.get("TargetUserName")) or _account_name(data.get("SubjectUserName"))
    subject = _account(data.get("SubjectUserName"), data.get("SubjectDomainName"), data.get("SubjectUserSid"))
    target = _account(data.get("TargetUserName"), data.get("TargetDomainName"), data.get("TargetUserSid"))
    return {
        "time_ms": _first_time(*(system.get(key) for key in _TIME_KEYS[fmt])),
        "event_id": SECURITY_PROCESS_CREATE,
        "image": _text(data.get("NewProcessName")),
        "command_line": _text(data.get("CommandLine")),
        # Only 4688 version 2 (Windows 10 / Server 2016 and later) has ParentProcessName; older ones give null.
        "parent_image": _text(data.get("ParentProcessName")),
        "parent_command_line": None,
        "process_guid": None,
        "parent_process_guid": None,
        "process_id": _as_int(data.get("NewProcessId")),
        "parent_process_id": _as_int(data.get("ProcessId")),
        "process_hash": None,
        "host": _host(system),
        "user": user,
        **_context(fmt, system, "Security"),
        "process_user": target or subject,
        "actor_user": subject,
        "integrity": _integrity(data.get("MandatoryLabel")),
        "logon_id": _text(data.get("SubjectLogonId")),
    }


def _context(fmt: str, system: dict, default_channel: str) -> dict:
    computer = _text(_first(system, "Computer", "Hostname", "ComputerName", "computer_name"))
    return {
        "format": fmt,
        "computer": computer.strip() if computer else None,
        # Sentinel's SecurityEvent table and the eqllib export name no channel; their event ids imply it.
        "channel": _text(_first(system, "Channel", "LogName")) or default_channel,
        "record_id": _as_int(_first(system, "EventRecordID", "RecordNumber", "record_number")),
    }


def enriched(found: dict) -> dict:
    """The SSA enriched event of a `process_creation` result."""
    return _enriched(**{key: found[key] for key in _ENRICHED_ARGS})


_ENRICHED_ARGS = (
    "time_ms", "event_id", "image", "command_line", "parent_image", "parent_command_line", "process_guid",
    "parent_process_guid", "process_id", "parent_process_id", "process_hash", "host", "user",
)


def _enriched(
    *,
    time_ms: int | None,
    event_id: int,
    image: str | None,
    command_line: str | None,
    parent_image: str | None,
    parent_command_line: str | None,
    process_guid: str | None,
    parent_process_guid: str | None,
    process_id: int | None,
    parent_process_id: int | None,
    process_hash: str | None,
    host: str | None,
    user: str | None,
) -> dict:
    return {
        # A string of epoch milliseconds, as in the one public SSA sample; detections parse_long() it.
        "_time": None if time_ms is None else str(time_ms),
        # A string: detections only ucast() it to string and copy it, never compare it as a number.
        "event_id": str(event_id),
        "process_name": _basename(image),
        "process": command_line,
        # The full image path (CIM), not the directory of the 2020 sample: folder regexes match either way.
        "process_path": image,
        # A full path with the source's case, as in the SSA sample; detections split and lower() it themselves.
        "parent_process_name": parent_image,
        "parent_process": parent_command_line,
        "process_guid": process_guid,
        "parent_process_guid": parent_process_guid,
        "process_id": process_id,
        "parent_process_id": parent_process_id,
        "process_hash": process_hash,
        # Entity ids are opaque to every detection and their SSA encoding changed over time, so they are the
        # readable primary artifacts: short lower-cased host name (the 2020 sample's `win-dc-6565071`) ...
        "dest_device_id": host,
        # ... and the bare lower-cased account name (the sample's `administrator`).
        "dest_user_id": user,
        "_datamodels": ["Endpoint_Processes"],
    }


def _is_process_creation(event_id: int | None, system: dict, data: dict) -> bool:
    source = " ".join(
        str(v) for v in (_first(system, "ProviderName", "Provider", "SourceName", "EventSourceName"),
                         _first(system, "Channel", "LogName")) if v
    ).lower()
    if event_id == SYSMON_PROCESS_CREATE:
        # Without any provider or channel (eqllib, some exports) EID 1 with an Image can only be Sysmon's.
        return "sysmon" in source if source else "Image" in data
    if event_id == SECURITY_PROCESS_CREATE:
        # Sentinel's SecurityEvent table has no provider column: the table itself is the Security log.
        return "security" in source if source else True
    return False


def _first_time(*values: Any) -> int | None:
    for value in values:
        parsed = _parse_time(value)
        if parsed is not None:
            return parsed
    return None


_ISO_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?\s*(Z|[+-]\d\d:?\d\d)?$"
)
_US_TIME = re.compile(r"(\d\d?)/(\d\d?)/(\d{4}) (\d\d?):(\d\d):(\d\d)(?:\.(\d+))?(?: ?([AaPp][Mm]))?$")


def _parse_time(value: Any) -> int | None:
    """Epoch ms from an ISO-like or `MM/DD/YYYY hh:mm:ss AM` time; text without a zone is read as UTC."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    m = _ISO_TIME.match(value)
    if m:
        year, month, day, hour, minute, second, frac, zone = m.groups()
    else:
        m = _US_TIME.match(value)
        if not m:
            return None
        month, day, year, hour, minute, second, frac, ampm = m.groups()
        zone = None
        if ampm:
            hour = str(int(hour) % 12 + (12 if ampm.upper() == "PM" else 0))
    seconds = calendar.timegm((int(year), int(month), int(day), int(hour), int(minute), int(second)))
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        seconds += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    # Truncate, never round: sub-ms digits (EVTX has 7-9) must not push an event into the next millisecond.
    return seconds * 1000 + int((frac or "0")[:3].ljust(3, "0"))


_DATE_FIELDS = ((0, 4), (5, 2), (8, 2))  # year, month, day of `YYYY-MM-DD`: first position, digits
# Hour, minute, second and the first three digits of a fraction: first position, digits, milliseconds.
_TIME_OF_DAY_FIELDS = ((11, 2, 3_600_000), (14, 2, 60_000), (17, 2, 1000), (20, 3, 1))


@functools.lru_cache(maxsize=None)
def _layout(length: int):
    """What a time text of this length (19 to 40 characters) in iso_times_ms's layouts is made of:
    per position, the bytes it may hold (one flat table indexed by position * 256 + byte, and each
    position's offset in it); and per position, its digit's weight in the year, month, day and the
    milliseconds of the day (a matrix of `length` rows, 4 columns). As floats: numpy multiplies
    float matrices with BLAS, integer ones in a loop several times slower, and every sum (below
    86,400,000 for the milliseconds) is a float exactly."""
    import numpy as np

    digits = list(range(48, 58))
    allowed = [digits] * length
    for position, chars in ((4, "-"), (7, "-"), (10, "T "), (13, ":"), (16, ":")):
        allowed[position] = list(map(ord, chars))
    # After the seconds: nothing, `Z`, or `.`/`,` and at least one digit up to the end or a final `Z`.
    if length == 20:
        allowed[19] = [ord("Z")]
    elif length > 20:
        allowed[19] = [ord("."), ord(",")]
        if length > 21:
            allowed[-1] = [*digits, ord("Z")]
    table = np.zeros((length, 256), dtype=bool)
    for position, chars in enumerate(allowed):
        table[position, chars] = True
    weights = np.zeros((length, 4), dtype=np.float64)
    for field, (first, count) in enumerate(_DATE_FIELDS):
        weights[first:first + count, field] = [10 ** (count - 1 - i) for i in range(count)]
    for first, count, unit in _TIME_OF_DAY_FIELDS:  # a fraction's digits beyond the third: truncated
        for i in range(min(count, length - first)):
            weights[first + i, 3] = 10 ** (count - 1 - i) * unit
    return table.ravel(), np.arange(length) * 256, weights


@functools.lru_cache(maxsize=1)
def _digit_values():
    """Each byte's value as a digit: 0 for any other, among them the only other byte a digit's
    position may hold, a final `Z`."""
    import numpy as np

    values = np.zeros(256, dtype=np.float64)
    values[48:58] = np.arange(10)
    return values


_PARSED_EACH_BELOW = 64


def _parse_time_or_none(value: Any) -> int | None:
    try:
        return _parse_time(value)
    except Exception:  # noqa: BLE001 - left undecided: the caller parses it alone again, as before, and decides
        return None


def iso_times_ms(values: list) -> list[int | None]:
    """What _parse_time gives each value, for the texts in the layouts raw logs mostly use
    (`YYYY-MM-DD[T ]hh:mm:ss`, then `.digits` and/or `Z`), computed for all of one length at once;
    None for every other value, which _parse_time decides (zones, other layouts, years or months
    it rejects). Fewer than _PARSED_EACH_BELOW values are parsed one by one (_parse_time), a value
    where that raises left None: numpy's set-up costs as much as about a hundred of them."""
    if len(values) < _PARSED_EACH_BELOW:
        return list(map(_parse_time_or_none, values))
    import numpy as np

    found: list[int | None] = [None] * len(values)
    try:
        # The common case, every value text of one length: one group, no look at each value.
        joined = "".join(values)
        sizes = set(map(len, values))
    except TypeError:  # a value that is not text
        sizes = ()
    if len(sizes) == 1:
        length = sizes.pop()
        groups = [(np.arange(len(values)), joined)] if 19 <= length <= 40 else []
    else:
        lengths = np.fromiter((len(value) if value.__class__ is str else 0 for value in values), dtype=np.intp,
                              count=len(values))
        groups = []
        # Not np.unique, whose first call imports numpy.ma (a twentieth of a run's start-up).
        for length in sorted(set(lengths[(lengths >= 19) & (lengths <= 40)].tolist())):
            positions = np.flatnonzero(lengths == length)
            groups.append((positions, "".join([values[p] for p in positions.tolist()])))
    for positions, joined in groups:
        length = len(joined) // len(positions)
        try:
            text = joined.encode("ascii")
        except UnicodeEncodeError:
            continue
        chars = np.frombuffer(text, dtype=np.uint8).reshape(len(positions), length)
        table, offsets, weights = _layout(length)
        ok = table[offsets + chars].all(axis=1)
        year, month, day, of_day = (_digit_values()[chars] @ weights).astype(np.int64).T
        ok &= (year >= 1) & (month >= 1) & (month <= 12)  # else calendar.timegm raises: _parse_time's answer
        # Days since 1970-01-01 of the month's first day (numpy's calendar is timegm's, the proleptic
        # Gregorian), plus the day as timegm adds it, whatever the month's length.
        month_starts = ((year - 1970) * 12 + month - 1).astype("datetime64[M]").astype("datetime64[D]")
        millis = (month_starts.astype(np.int64) + day - 1) * 86_400_000 + of_day
        if len(positions) == len(values) and ok.all():
            return millis.tolist()
        for position, value in zip(positions[ok].tolist(), millis[ok].tolist()):
            found[position] = value
    return found


def _parse_xml_event(raw: str) -> tuple[dict, dict]:
    root = _parse_xml(raw)
    system: dict[str, Any] = {}
    sys_el = root.find(f"{_EVT_NS}System")
    if sys_el is not None:
        for child in sys_el:
            tag = child.tag.removeprefix(_EVT_NS)
            if tag == "Provider":
                system["ProviderName"] = child.get("Name")
            elif tag == "TimeCreated":
                system["TimeCreated"] = child.get("SystemTime")
            else:
                system[tag] = child.text
    return system, _xml_data(root)


def xml_unescaped(text: str) -> str:
    """Text with XML's five predefined entities read back, `&amp;` last (`&amp;lt;` is `&lt;`), as
    xml.sax.saxutils.unescape does with the quotes added; not imported from there, as it pulls in
    urllib and http.client, a tenth of a run's start-up."""
    if "&" not in text:
        return text
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'")
            .replace("&amp;", "&"))


def _parse_xml(text: str) -> ET.Element:
    # Imported here: of the raw shapes, only XML records parsed whole need it.
    import xml.etree.ElementTree as ET

    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"malformed Windows event XML: {exc}") from exc


def _xml_data(element: ET.Element) -> dict[str, str]:
    return {d.get("Name"): d.text or "" for d in element.iter(f"{_EVT_NS}Data") if d.get("Name")}


def _parse_embedded_event_data(text: str) -> dict:
    text = text.strip()
    if text.startswith("<"):
        return _xml_data(_parse_xml(text))
    if text.startswith("{"):
        parsed = orjson.loads(text)
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _parse_wineventlog_header(raw: str) -> dict:
    """The header of Splunk classic WinEventLog text: a date line, `Key=Value` lines, then `Message=` to the end."""
    first, _, rest = raw.partition("\n")
    header: dict[str, Any] = {"_header_time": first.strip()}
    lines = rest.split("\n")
    for i, line in enumerate(lines):
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key == "Message":
            header["Message"] = "\n".join([value, *lines[i + 1:]])
            break
        header[key.strip()] = value.strip()
    return header


_4688_SECTIONS = {"subject": "Subject", "creator subject": "Subject", "target subject": "Target"}
_4688_SUBJECT_LABELS = {
    "security id": "UserSid",
    "account name": "UserName",
    "account domain": "DomainName",
    "logon id": "LogonId",
}
_4688_PROCESS_LABELS = {
    "new process id": "NewProcessId",
    "new process name": "NewProcessName",
    "token elevation type": "TokenElevationType",
    "mandatory label": "MandatoryLabel",
    "creator process id": "ProcessId",
    "creator process name": "ParentProcessName",
    "process command line": "CommandLine",
}


def _parse_4688_message(message: str) -> dict[str, str]:
    """Recover 4688 EventData from the rendered message (indented `Label:  value` lines under section titles)."""
    data: dict[str, str] = {}
    section = ""
    for line in message.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        # Windows indents with tabs; some hand-copied Splunk samples indent with spaces.
        if not line[0].isspace():
            section = line.strip().rstrip(":").lower()
            continue
        label, sep, value = line.strip(" \t").partition(":")
        if not sep:
            continue
        label = label.strip().lower()
        value = value.lstrip("\t ")
        prefix = _4688_SECTIONS.get(section)
        if prefix and label in _4688_SUBJECT_LABELS:
            data[prefix + _4688_SUBJECT_LABELS[label]] = value
        elif label in _4688_PROCESS_LABELS:
            data[_4688_PROCESS_LABELS[label]] = value
    return data


_SYSMON_LINE = re.compile(r"([A-Za-z]+): ?(.*)$")


def _parse_sysmon_message(message: str) -> dict[str, str]:
    """Recover Sysmon EventData from its rendered message (`Name: value` lines after a title line)."""
    data: dict[str, str] = {}
    key = None
    for line in message.replace("\r\n", "\n").split("\n")[1:]:
        m = _SYSMON_LINE.match(line)
        if m:
            key, value = m.groups()
            data[key] = value
        elif key is not None:
            # A command line with embedded newlines continues on lines that carry no `Name:` prefix.
            data[key] += "\n" + line
    return data


def _first(mapping: dict, *keys: str) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return value
    return None


def _text(value: Any) -> str | None:
    # Splunk extracts no field for an empty value; null also keeps `isnull()` / `!= null` tests meaningful.
    # Sysmon writes `-` where it knows no value (ParentImage of a process whose parent it never saw).
    if value is None:
        return None
    value = str(value)
    return value if value.strip() not in ("", "-") else None


def _as_int(value: Any) -> int | None:
    """Ints from Sysmon's decimal and 4688's `0x` hex id strings, or from ints already parsed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    value = value.strip()
    try:
        return int(value, 16) if value[:2].lower() == "0x" else int(value)
    except ValueError:
        return None


def _basename(path: str | None) -> str | None:
    if path is None:
        return None
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1] or None


_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _host(system: dict) -> str | None:
    name = _text(_first(system, "Computer", "Hostname", "ComputerName", "computer_name"))
    if name is None:
        return None
    name = name.strip().lower()
    # Short and lower-cased: the corpus reports one host both as `win-dc-4473022` and as its FQDN.
    return name if _IPV4.fullmatch(name) else name.split(".")[0]


def _account(name: Any, domain: Any = None, sid: Any = None) -> tuple[str | None, str | None, str | None] | None:
    """(name, domain, SID) of an account as the source wrote it; `DOMAIN\\name` is split. None when nameless."""
    text = _text(name)
    if text is None:
        return None
    found_domain, _, bare = text.strip().rpartition("\\")
    bare = bare.strip()
    if bare in ("", "-"):
        return None
    domain = _text(domain) or found_domain or None
    sid = _text(sid)
    # WinEventLog text renders the SID as `DOMAIN\\user`; S-1-0-0 is the NULL SID of an empty Target Subject.
    sid = sid.strip() if sid and sid.strip().upper().startswith("S-1-") and sid.strip() != "S-1-0-0" else None
    return bare, None if domain in (None, "-") else domain.strip(), sid


_INTEGRITY_SIDS = {
    "S-1-16-0": "Untrusted", "S-1-16-4096": "Low", "S-1-16-8192": "Medium", "S-1-16-8448": "Medium Plus",
    "S-1-16-12288": "High", "S-1-16-16384": "System", "S-1-16-20480": "Protected",
}


def _integrity(value: Any) -> str | None:
    """Sysmon's `High`; 4688's label SID `S-1-16-12288` or rendered `Mandatory Label\\High Mandatory Level`."""
    text = _text(value)
    if text is None:
        return None
    text = text.strip()
    if text.upper().startswith("S-1-16-"):
        return _INTEGRITY_SIDS.get(text.upper(), text)
    return text.rsplit("\\", 1)[-1].removesuffix(" Mandatory Level")


def _account_name(value: Any) -> str | None:
    name = _text(value)
    if name is None:
        return None
    name = name.rsplit("\\", 1)[-1].strip().lower()
    # `-` is how 4688 writes an empty Target Subject.
    return None if name in ("", "-") else name
