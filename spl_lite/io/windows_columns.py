"""Raw Windows JSON records read for the SSA keys a plan needs and normalised column by column.

NXLog, EVTX converted to JSON, Sentinel SecurityEvent exports and eqllib are flat JSON objects
whose System and EventData fields sit side by side. For a block of such lines this decoder reads,
with one msgspec schema, only the raw fields that the needed SSA keys come from (plus those that
say which shape a record is and whether it is a process creation), and builds each SSA key's
column from the raw columns once per distinct value (an image path's base name, a host's short
lower-cased name, an account name, a time), instead of a dict per record normalised field by
field. The result is what io/windows.py would make of each record, which tests check byte for byte.

What it cannot do exactly, record by record, it leaves to io/windows.py for that record alone
(its line parsed whole): a Log-Analytics `EventData` text, a rendered `Message` that would fill a
needed field the record lacks, a value whose normalising raises. A block it cannot read at all
is declined (None) and takes the whole-event path: a line that is not a raw record of these
shapes (Winlogbeat, `_raw` text, OCSF, stream records, SSA events), a value of a type other than
text, integer or null in a field it reads, anything the block checks of json_blocks.py reject.
"""
from __future__ import annotations

from typing import Annotated, Any, Callable, Union

import msgspec
import numpy as np
import orjson
from msgspec import UNSET

from ..core.batch import TEXT_KINDS, ProjectedMaps, known
from . import formats, windows
from .json_blocks import decode_lines, object_lines

_VALUE = Union[str, Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)], None, msgspec.UnsetType]
_PRESENCE = Union[msgspec.Raw, msgspec.UnsetType]  # only whether the key is there, or whether it holds text
_ABSENT = Annotated[int, msgspec.Meta(ge=1, le=0)]  # no JSON value passes: a line with this key is declined
# Lines with one of these keys are other shapes (formats.kind_of looks at them before the raw fields).
_OTHER_SHAPE_KEYS = ("_raw", "winlog", "event_data", "input_event", "class_uid")

# Keys whose values decide the shape (windows.detect_format), the event id and the provider and
# channel (windows._is_process_creation): one signature per record, decided once per distinct one.
_DETECTION = ("EventID", "EventId", "EventCode", "ProviderName", "Provider", "SourceName", "EventSourceName",
              "Channel", "LogName")
# Keys detect_format needs only the presence of.
_PRESENT = ("TenantId", "TimeGenerated", "Computer", "Hostname", "Image")
_HOST = ("Computer", "Hostname", "ComputerName", "computer_name")
_TIMES = tuple(dict.fromkeys(key for fmt in ("evtx", "nxlog", "sentinel", "eqllib") for key in windows._TIME_KEYS[fmt]))

SYSMON, SECURITY = windows.SYSMON_PROCESS_CREATE, windows.SECURITY_PROCESS_CREATE


def _basename_of(image: Any) -> str | None:
    return windows._basename(windows._text(image))


def _user_4688(target: Any, subject: Any) -> str | None:
    return windows._account_name(target) or windows._account_name(subject)


# Per SSA key and event id: the EventData fields it is made of and how (windows._from_sysmon,
# _from_4688 and _enriched, applied to one distinct value at a time). `_time` and the host come
# from System fields and are made apart.
_FROM_DATA: dict[int, dict[str, tuple[tuple[str, ...], Callable]]] = {
    SYSMON: {
        "process_name": (("Image",), _basename_of),
        "process": (("CommandLine",), windows._text),
        "process_path": (("Image",), windows._text),
        "parent_process_name": (("ParentImage",), windows._text),
        "parent_process": (("ParentCommandLine",), windows._text),
        "process_guid": (("ProcessGuid",), windows._text),
        "parent_process_guid": (("ParentProcessGuid",), windows._text),
        "process_id": (("ProcessId",), windows._as_int),
        "parent_process_id": (("ParentProcessId",), windows._as_int),
        "process_hash": (("Hashes",), windows._text),
        "dest_user_id": (("User",), windows._account_name),
    },
    SECURITY: {
        "process_name": (("NewProcessName",), _basename_of),
        "process": (("CommandLine",), windows._text),
        "process_path": (("NewProcessName",), windows._text),
        "parent_process_name": (("ParentProcessName",), windows._text),
        "process_id": (("NewProcessId",), windows._as_int),
        "parent_process_id": (("ProcessId",), windows._as_int),
        "dest_user_id": (("TargetUserName", "SubjectUserName"), _user_4688),
    },
}
# Of the keys of an enriched event, those neither made from EventData nor `_time`, `event_id`,
# `dest_device_id` or `_datamodels`: null for that event id.
_ENRICHED_KEYS = ("_time", "event_id", "process_name", "process", "process_path", "parent_process_name",
                  "parent_process", "process_guid", "parent_process_guid", "process_id", "parent_process_id",
                  "process_hash", "dest_device_id", "dest_user_id", "_datamodels")
_NOT_TEXT = frozenset(("process_id", "parent_process_id", "_datamodels"))
_DATAMODELS = "_datamodels"
# The plan of a row left to io/windows.py alone.
_WHOLE = object()


class WindowsJsonDecoder:
    """Decodes a block of raw Windows JSON lines into a ProjectedMaps of the SSA `keys`, one row a
    line, with `skips` naming the lines that are no process creation; None: the block needs the
    whole-event path. Shaped like ProjectedDecoder.decode_block."""

    def __init__(self, keys: frozenset[str]):
        self.keys = tuple(sorted(keys))
        data_fields = {"Image"}
        for key in self.keys:
            for by_id in _FROM_DATA.values():
                data_fields.update(by_id.get(key, ((), None))[0])
        self._data_fields = {event_id: tuple(sorted({f for key in self.keys for f in by_id.get(key, ((), None))[0]}))
                             for event_id, by_id in _FROM_DATA.items()}
        # UtcTime is always read: a time that does not parse makes the whole-event path skip the record.
        data_fields.add("UtcTime")
        read = dict.fromkeys((*_DETECTION, *_PRESENT, *_HOST, *_TIMES, *sorted(data_fields)))
        self._fields = tuple(read)
        schema = [(f"f{i}", _VALUE, msgspec.field(default=UNSET, name=name)) for i, name in enumerate(self._fields)]
        schema += [("message", _PRESENCE, msgspec.field(default=UNSET, name="Message")),
                   ("event_data", _PRESENCE, msgspec.field(default=UNSET, name="EventData"))]
        schema += [(f"g{i}", _ABSENT, msgspec.field(default=None, name=name)) for i, name in enumerate(_OTHER_SHAPE_KEYS)]
        self._decoder = msgspec.json.Decoder(msgspec.defstruct("RawWindowsRecord", schema, gc=False))
        self._index = {name: i for i, name in enumerate(self._fields)}
        self._plans: dict[tuple, tuple] = {}  # per distinct signature (see _plan)

    def decode_block(self, block: bytes, place: tuple[str, int] | None = None) -> ProjectedMaps | None:
        """The SSA events of a block of raw records (`place` is not needed: no key is deferred)."""
        bounds = object_lines(block)
        if bounds is None:
            return None
        try:
            records = decode_lines(self._decoder, block)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            return None
        count = len(records)
        if count != len(bounds[0]):  # two documents on one line
            return None
        columns = {name: [getattr(r, f"f{i}") for r in records] for name, i in self._index.items()}
        plans = self._row_plans(records, columns)
        if plans is None:
            return None
        values = {key: np.full(count, None, dtype=object) for key in self.keys}
        skips = np.full(count, None, dtype=object)
        whole: list[int] = []
        groups: dict[tuple[str, int], list[int]] = {}
        for row, plan in enumerate(plans):
            if plan[0] is _WHOLE:
                whole.append(row)
            elif plan[0] is None:
                groups.setdefault(plan[1:], []).append(row)
            else:
                skips[row] = plan[0]
        for (fmt, event_id), rows in groups.items():
            whole += self._fill(values, skips, fmt, event_id, rows, columns)
        for row in whole:
            event = _whole_record(block[bounds[0][row]:bounds[1][row]])
            if event is None:
                return None
            found, reason = event
            skips[row] = reason
            if found is not None:
                enriched = windows.enriched(found)
                for key in self.keys:
                    values[key][row] = enriched.get(key)
        return ProjectedMaps({key: known(column, None if key in _NOT_TEXT else TEXT_KINDS)
                              for key, column in values.items()}, count, skips=skips)

    def _row_plans(self, records: list, columns: dict[str, list]) -> list[tuple] | None:
        """Per row: (None, fmt, event id) for a process creation made here, (reason,) for a record
        that is none, (_WHOLE,) for one left to io/windows.py; None if a line is no raw record."""
        present = [[value is not UNSET for value in columns[name]] for name in _PRESENT]
        message_text = [m is not UNSET and memoryview(m)[:1] == b'"' for m in (r.message for r in records)]
        event_data_text = [d is not UNSET and memoryview(d)[:1] == b'"' for d in (r.event_data for r in records)]
        # Which data fields each row lacks matters only where a rendered Message would fill them.
        lacking = [tuple(value is UNSET for value in values)
                   for values in zip(*(columns[name] for name in self._fields if name not in _DETECTION))]
        plans = []
        plan_of = self._plans
        for signature in zip(*(columns[name] for name in _DETECTION), *present, message_text, event_data_text, lacking):
            plan = plan_of.get(signature)
            if plan is None:
                plan = plan_of[signature] = self._plan(signature)
            if plan is False:
                return None
            plans.append(plan)
        return plans

    def _plan(self, signature: tuple) -> tuple | bool:
        detection = dict(zip(_DETECTION, signature))
        present = signature[len(_DETECTION):len(_DETECTION) + len(_PRESENT)]
        message_text, event_data_text, lacking = signature[-3:]
        system = {key: value for key, value in detection.items() if value is not UNSET}
        system.update((key, "") for key, there in zip(_PRESENT, present) if there and key not in system)
        fmt = windows.detect_format(system)
        if fmt not in ("evtx", "nxlog", "sentinel", "eqllib"):
            return False  # not a raw record of these shapes (`formats.kind_of` would say so too)
        if event_data_text:
            return (_WHOLE,)  # Log-Analytics EventData text, merged into the fields (windows.process_creation)
        event_id = windows._as_int(windows._first(system, "EventID", "EventId", "EventCode"))
        data = {"Image": ""} if present[_PRESENT.index("Image")] else {}
        if not windows._is_process_creation(event_id, system, data):
            return (formats.NOT_PROCESS_CREATION,)
        if message_text:
            missing = dict(zip((name for name in self._fields if name not in _DETECTION), lacking))
            needed = self._data_fields[event_id] + (("UtcTime",) if event_id == SYSMON else ())
            if any(missing[name] for name in needed):
                return (_WHOLE,)  # the rendered message fills fields the record lacks
        return (None, fmt, event_id)

    def _fill(self, values: dict[str, np.ndarray], skips: np.ndarray, fmt: str, event_id: int, rows: list[int],
              columns: dict[str, list]) -> list[int]:
        """Fill the rows of one shape and event id; the rows whose normalising raised, to be made whole."""
        failed: set[int] = set()
        index = np.array(rows, dtype=np.intp)

        def column(name: str, data: bool) -> list:
            found = [columns[name][row] for row in rows]
            found = [None if value is UNSET else value for value in found]
            if data and fmt == "nxlog":
                # NXLog copies EventData values XML-escaped (windows.process_creation).
                from xml.sax.saxutils import unescape

                found = _per_distinct(lambda v: unescape(v, windows._XML_QUOTES) if isinstance(v, str) else v, found)[0]
            return found

        def made(function: Callable, *inputs: list) -> list:
            result, raised = _per_distinct_tuple(function, inputs)
            failed.update(rows[i] for i in raised)
            return result

        times = [column(name, False) for name in windows._TIME_KEYS[fmt]]
        if event_id == SYSMON:
            times.insert(0, column("UtcTime", True))
        # Always made: a time that raises makes the record unreadable whatever the plan reads.
        millis = made(windows._first_time, *times)
        for key in self.keys:
            if key == "_time":
                found = [None if ms is None else str(ms) for ms in millis]
            elif key == "event_id":
                found = [str(event_id)] * len(rows)
            elif key == "dest_device_id":
                found = made(lambda *host: windows._host(dict(zip(_HOST, host))), *(column(n, False) for n in _HOST))
            elif key == _DATAMODELS:
                found = [["Endpoint_Processes"] for _ in rows]
            elif key in _FROM_DATA[event_id]:
                names, function = _FROM_DATA[event_id][key]
                found = made(function, *(column(name, True) for name in names))
            else:
                continue  # null (np.full above): not made for this event id, or no key of an enriched event
            target = values[key]
            target[index] = _object_array(found)
        return sorted(failed)


def _object_array(items: list) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _per_distinct(function: Callable, values: list) -> tuple[list, list[int]]:
    return _per_distinct_tuple(function, (values,))


def _per_distinct_tuple(function: Callable, inputs: tuple[list, ...]) -> tuple[list, list[int]]:
    """function(*row) for each row of the input columns, called once per distinct row; and the
    positions where it raised what makes the whole-event path skip a record."""
    done: dict = {}
    result, raised = [], []
    for position, row in enumerate(zip(*inputs)):
        try:
            value = done[row]
        except KeyError:
            try:
                value = function(*row)
            except formats.UNREADABLE_ERRORS:
                value = _RAISED
            done[row] = value
        if value is _RAISED:
            raised.append(position)
            value = None
        result.append(value)
    return result, raised


_RAISED = object()


def _whole_record(line: bytes) -> tuple[dict | None, str | None] | None:
    """(facts, None) or (None, reason) of one raw record as the whole-event path reads it; None if
    that path would not read the line as a raw record at all."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None  # a number beyond double range: orjson decides, on the whole-event path
    if formats.kind_of(event) != formats.RAW:
        return None
    return formats.read_process_creation(event)
