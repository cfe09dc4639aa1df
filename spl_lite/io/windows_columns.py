"""Raw Windows JSON records read for the SSA keys a plan needs and normalised column by column.

NXLog, EVTX converted to JSON, Sentinel SecurityEvent exports and eqllib are flat JSON objects
whose System and EventData fields sit side by side; Winlogbeat 6 keeps EventData in `event_data`,
Winlogbeat 7+ (ECS) both in `winlog`. For a block of such lines this decoder reads,
with one msgspec schema, only the raw fields that the needed SSA keys come from (plus those that
say which shape a record is and whether it is a process creation), and builds each SSA key's
column from the raw columns once per distinct value (an image path's base name, a host's short
lower-cased name, an account name, a time), instead of a dict per record normalised field by
field. The result is what io/windows.py would make of each record, which tests check byte for byte.

What it cannot do exactly, record by record, it leaves to io/windows.py for that record alone
(its line parsed whole): a Log-Analytics `EventData` text, a rendered `Message` that would fill a
needed field the record lacks, a value whose normalising raises. A block it cannot read at all
is declined (None) and takes the whole-event path: a line that is not a raw record of these
shapes (`_raw` text, OCSF, stream records, SSA events), a value of a type other than
text, integer or null in a field it reads, anything the block checks of json_blocks.py reject.
"""
from __future__ import annotations

from itertools import chain, repeat
from operator import is_not, itemgetter
from typing import Annotated, Any, Callable, Sequence, Union

import msgspec
import numpy as np
import orjson
from msgspec import UNSET
from msgspec.structs import astuple

from ..core.batch import TEXT_KINDS, ProjectedMaps, known, null_column, object_column
from . import formats, windows
from .json_blocks import schema_records

_VALUE = Union[str, Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)], None, msgspec.UnsetType]
_PRESENCE = Union[msgspec.Raw, msgspec.UnsetType]  # only whether the key is there, or whether it holds text
_ABSENT = Annotated[int, msgspec.Meta(ge=1, le=0)]  # no JSON value passes: a line with this key is declined
# Lines with one of these keys are other shapes (formats.kind_of looks at them before the raw fields).
_OTHER_SHAPE_KEYS = ("_raw", "input_event", "class_uid")

# Keys whose values decide the shape (windows.detect_format), the event id and the provider and
# channel (windows._is_process_creation): one signature per record, decided once per distinct one.
# The last three are Winlogbeat 6's, whose EventData is the `event_data` object.
_DETECTION = ("EventID", "EventId", "EventCode", "ProviderName", "Provider", "SourceName", "EventSourceName",
              "Channel", "LogName", "event_id", "source_name", "log_name")
_WINLOGBEAT_SYSTEM = {"EventID": "event_id", "Provider": "source_name", "Channel": "log_name"}
# Keys detect_format needs only the presence of.
_PRESENT = ("TenantId", "TimeGenerated", "Computer", "Hostname", "Image")
_HOST = ("Computer", "Hostname", "ComputerName", "computer_name")
_FORMATS = ("evtx", "nxlog", "sentinel", "eqllib", "winlogbeat", "winlogbeat-ecs")
# Winlogbeat 7+ (ECS): the System fields windows.process_creation reads inside `winlog`.
_ECS_SYSTEM = {"EventID": "event_id", "Provider": "provider_name", "Channel": "channel"}
_TIMES = tuple(dict.fromkeys(key for fmt in _FORMATS for key in windows._TIME_KEYS[fmt]))

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
WHOLE = object()


class WindowsJsonDecoder:
    """Decodes a block of raw Windows JSON lines into a ProjectedMaps of the SSA `keys`, one row a
    line, with `skips` naming the lines that are no process creation; None: the block needs the
    whole-event path. Shaped like ProjectedDecoder.decode_block."""

    def __init__(self, keys: frozenset[str]):
        self.keys = tuple(sorted(keys))
        self._data_fields = data_fields_of(self.keys)
        # Image first: its presence alone tells Sysmon records without provider or channel (d0 below).
        data_fields = ["Image", *sorted(set().union(*self._data_fields.values()) - {"Image"})]
        self._fields = tuple(dict.fromkeys((*_DETECTION, *_PRESENT, *_HOST, *_TIMES, *data_fields)))
        schema = [(f"f{i}", _VALUE, msgspec.field(default=UNSET, name=name)) for i, name in enumerate(self._fields)]
        inner = msgspec.defstruct("WinlogbeatEventData", [(f"d{i}", _VALUE, msgspec.field(default=UNSET, name=name))
                                                          for i, name in enumerate(data_fields)], gc=False)
        self._no_event_data = inner()
        self._data_names = tuple(data_fields)
        winlog = msgspec.defstruct("Winlog", [
            *((key, _VALUE, msgspec.field(default=UNSET)) for key in (*_ECS_SYSTEM.values(), "computer_name")),
            # `event_data or {}` (windows.process_creation): anything but an object or null is declined.
            ("event_data", Union[inner, None, msgspec.UnsetType], msgspec.field(default=UNSET))], gc=False)
        self._no_winlog = winlog()
        schema += [("message", _PRESENCE, msgspec.field(default=UNSET, name="Message")),
                   ("event_data_text", _PRESENCE, msgspec.field(default=UNSET, name="EventData")),
                   ("winlogbeat_message", _PRESENCE, msgspec.field(default=UNSET, name="message")),
                   # Anything but an object in `event_data` fails the schema: the block is declined.
                   ("event_data", Union[inner, msgspec.UnsetType], msgspec.field(default=UNSET, name="event_data")),
                   # Anything but an object in `winlog` fails the schema too; `host` is read only if needed.
                   ("winlog", Union[winlog, msgspec.UnsetType], msgspec.field(default=UNSET, name="winlog")),
                   ("host", _PRESENCE, msgspec.field(default=UNSET, name="host"))]
        schema += [(f"g{i}", _ABSENT, msgspec.field(default=None, name=name)) for i, name in enumerate(_OTHER_SHAPE_KEYS)]
        self._decoder = msgspec.json.Decoder(msgspec.defstruct("RawWindowsRecord", schema, gc=False))
        # The record's fields in schema order, as `_columns` names them.
        self._names = (*self._fields, "message", "event_data_text", "winlogbeat_message", "event_data", "winlog",
                       "host", *(f"g{i}" for i in range(len(_OTHER_SHAPE_KEYS))))
        self._ecs_names = (*_ECS_SYSTEM.values(), "computer_name", "event_data")
        self._plans: dict[tuple, tuple | bool] = {}  # per distinct signature (see _plan)

    def decode_block(self, block: bytes, place: tuple[str, int] | None = None) -> ProjectedMaps | None:
        """The SSA events of a block of raw records (`place` is not needed: no key is deferred)."""
        decoded = schema_records(self._decoder, block)
        if decoded is None:
            return None
        records, bounds = decoded
        columns = _columns(records, self._names)
        made: dict[str, dict] = {}  # the columns of the Winlogbeat shapes, made if a row is of one

        def columns_of(fmt: str) -> dict[str, list]:
            if fmt not in ("winlogbeat", "winlogbeat-ecs"):
                return columns
            if fmt not in made:
                made[fmt] = self._winlogbeat_columns(columns) if fmt == "winlogbeat" else self._ecs_columns(columns)
            return made[fmt]
        plans = self._row_plans(columns, columns_of, len(records))
        if plans is None:
            return None
        return events_of(self.keys, plans, columns_of, block, bounds)

    def _winlogbeat_columns(self, columns: dict[str, list]) -> dict[str, list]:
        """The columns as Winlogbeat 6 records name them: EventData inside `event_data`, the host in
        `computer_name` (windows.process_creation)."""
        empty = self._no_event_data
        inner = [empty if data is UNSET else data for data in columns["event_data"]]
        absent = (UNSET,) * len(inner)
        return {**columns, **_columns(inner, self._data_names), "Computer": columns["computer_name"],
                "Hostname": absent, "ComputerName": absent}

    def _ecs_columns(self, columns: dict[str, list]) -> dict[str, list]:
        """The columns as Winlogbeat 7+ records name them (windows.process_creation): System fields
        and EventData inside `winlog`, the host `winlog.computer_name or host.name`; a row whose
        `host` that reads as no object or null is normalised whole (its error or value decided there)."""
        absent = (UNSET,) * len(columns["winlog"])
        no_winlog = self._no_winlog
        system = _columns([no_winlog if w is UNSET else w for w in columns["winlog"]], self._ecs_names)
        empty = self._no_event_data
        data = _columns([empty if d is UNSET or d is None else d for d in system["event_data"]], self._data_names)
        computers = list(system["computer_name"])
        for row, (computer, host) in enumerate(zip(computers, columns["host"])):
            if computer is UNSET or not computer:
                computers[row] = _host_name(host)
        return {**columns, **data, **{key: system[name] for key, name in _ECS_SYSTEM.items()},
                "Computer": computers, "Hostname": absent, "ComputerName": absent, "computer_name": absent}

    def _row_plans(self, columns: dict[str, list], columns_of: Callable[[str], dict[str, list]],
                   count: int) -> list[tuple] | None:
        """Per row: (None, fmt, event id) for a process creation made here, (reason,) for a record
        that is none, (WHOLE,) for one left to io/windows.py; None if a line is no raw record."""
        event_data = columns["event_data"]
        has_event_data = _presence(event_data, count)
        event_data_text = columns["event_data_text"]
        # Per row, what the plan depends on (see _plan); a part alike in every row of the block (most
        # are) is left out of the rows' signatures and put back once per distinct one.
        parts = [columns[name] for name in _DETECTION]
        parts += [_presence(columns[name], count) for name in _PRESENT]
        parts += [has_event_data,
                  [data is not UNSET and data.d0 is not UNSET for data in event_data]
                  if has_event_data.count(True) else has_event_data,
                  [d is not UNSET and memoryview(d)[0] == _QUOTE for d in event_data_text]
                  if event_data_text.count(UNSET) != count else [False] * count]
        has_winlog = _presence(columns["winlog"], count)
        if has_winlog.count(True):
            ecs = columns_of("winlogbeat-ecs")
            parts += [has_winlog, *(ecs[key] for key in _ECS_SYSTEM), _presence(ecs["Image"], count), ecs["Computer"]]
        else:
            parts += [has_winlog] * (len(_ECS_SYSTEM) + 3)
        alike = [count and part.count(part[0]) == count for part in parts]
        varying = [part for part, same in zip(parts, alike) if not same]
        signature_of = [(i, part[0]) for i, (part, same) in enumerate(zip(parts, alike)) if same]
        keys = [()] * count if not varying else list(zip(*varying))
        plan_of, cached = {}, self._plans
        for key in dict.fromkeys(keys):
            signature = list(key)
            for i, value in signature_of:
                signature.insert(i, value)
            signature = tuple(signature)
            plan = cached.get(signature)
            if plan is None:
                plan = cached[signature] = self._plan(signature)
            if plan is False:
                return None
            plan_of[key] = plan
        plans = list(map(plan_of.__getitem__, keys))
        # The rendered message fills the fields the record lacks (windows.process_creation): such
        # records are left whole. Only rows lacking a field look at their message.
        codes = None  # per row, the number of its key in plan_of; made if some plan's rows are needed
        for code, plan in enumerate(plan_of.values()):
            if plan[0] is not None:
                continue
            _, fmt, event_id = plan
            found_in = columns_of(fmt)
            messages = columns["winlogbeat_message" if fmt.startswith("winlogbeat") else "message"]
            if messages.count(UNSET) == count:
                continue  # no row has a message (EVTX, Sentinel): none is made whole for one
            rows = of_rows = None  # this plan's rows (and a getter of their values), found if a field lacks
            for name in self._data_fields[event_id]:
                values = found_in[name]
                if values.count(UNSET) == 0:
                    continue
                if rows is None and len(plan_of) == 1:
                    rows = range(count)
                elif rows is None:
                    if codes is None:
                        codes = _codes(keys, plan_of)
                    rows = np.flatnonzero(codes == code).tolist()
                    of_rows = itemgetter(*rows) if len(rows) > 1 else None
                if of_rows is not None and of_rows(values).count(UNSET) == 0:
                    continue
                for row in rows:
                    if values[row] is UNSET and _is_text(messages[row]):
                        plans[row] = (WHOLE,)
        return plans

    def _plan(self, signature: tuple) -> tuple | bool:
        detection = dict(zip(_DETECTION, signature))
        present = signature[len(_DETECTION):len(_DETECTION) + len(_PRESENT)]
        # The signature's parts, as _row_plans lists them.
        after = len(_DETECTION) + len(_PRESENT)
        has_event_data, event_data_image, event_data_is_text = signature[after:after + 3]
        has_winlog, *ecs_system, ecs_image, ecs_computer = signature[after + 3:]
        if has_winlog:  # windows.detect_format: `winlog` an object is Winlogbeat 7+, whatever else is there
            if ecs_computer is _RAISED:
                return (WHOLE,)
            system = {key: None if value is UNSET else value for key, value in zip(_ECS_SYSTEM, ecs_system)}
            return self._process_creation("winlogbeat-ecs", system, ecs_image)
        system = {key: value for key, value in detection.items() if value is not UNSET}
        system.update((key, "") for key, there in zip(_PRESENT, present) if there and key not in system)
        if has_event_data:
            system["event_data"] = {}
        fmt = windows.detect_format(system)
        if fmt not in _FORMATS:
            return False  # not a raw record of these shapes (`formats.kind_of` would say so too)
        if fmt == "winlogbeat":
            system = {key: system.get(name) for key, name in _WINLOGBEAT_SYSTEM.items()}
            image = event_data_image
        else:
            if event_data_is_text:
                return (WHOLE,)  # Log-Analytics EventData text, merged into the fields (windows.process_creation)
            image = present[_PRESENT.index("Image")]
        return self._process_creation(fmt, system, image)

    @staticmethod
    def _process_creation(fmt: str, system: dict, image: bool) -> tuple:
        event_id = windows._as_int(windows._first(system, "EventID", "EventId", "EventCode"))
        data = {"Image": ""} if image else {}
        if not windows._is_process_creation(event_id, system, data):
            return (formats.NOT_PROCESS_CREATION,)
        return (None, fmt, event_id)


def _columns(records: list, names: tuple[str, ...]) -> dict[str, list]:
    """Field name -> its value in each row (UNSET where absent) of decoded records: every record's
    fields in one list, cut into columns by slices with a step (cheaper than reading the fields one
    by one, and than transposing the records' tuples with zip, which walks them value by value)."""
    if not records:
        return {name: [] for name in names}
    values = list(chain.from_iterable(map(astuple, records)))
    step = len(names)
    return {name: values[i::step] for i, name in enumerate(names)}


def _host_name(host: Any) -> Any:
    """`(record.get("host") or {}).get("name")` of a raw `host`, or _RAISED where that raises or
    gives a value other than text, an integer or null (left to the whole-event path)."""
    if host is UNSET:
        return None
    value = orjson.loads(memoryview(host))
    if not value:
        return None
    if value.__class__ is not dict:
        return _RAISED
    name = value.get("name")
    return name if name is None or name.__class__ in (str, int) else _RAISED


def _codes(values: Sequence, distinct: dict) -> np.ndarray:
    """Per value, the position among the keys of `distinct` of the one equal to it."""
    position = dict(zip(distinct, range(len(distinct))))
    return np.fromiter(map(position.__getitem__, values), dtype=np.intp, count=len(values))


def _presence(column: Sequence, count: int) -> list[bool]:
    """Whether each of the `count` rows has the field; a field every row has or none has (most) is
    told by one count instead of a look at each row."""
    absent = column.count(UNSET)
    if absent == 0 or absent == count:
        return [absent == 0] * count
    return list(map(is_not, column, repeat(UNSET)))


def data_fields_of(keys: tuple[str, ...]) -> dict[int, tuple[str, ...]]:
    """Per event id, the EventData fields the SSA `keys` are made of; UtcTime always (Sysmon): a
    time that does not parse makes the whole-event path skip the record, whatever the plan reads."""
    return {event_id: tuple(sorted({f for key in keys for f in by_id.get(key, ((), None))[0]}
                                   | ({"UtcTime"} if event_id == SYSMON else set())))
            for event_id, by_id in _FROM_DATA.items()}


def events_of(keys: tuple[str, ...], plans: Sequence[tuple], columns_of: Callable[[str], dict[str, list]],
              block: bytes, bounds: tuple[np.ndarray, np.ndarray]) -> ProjectedMaps | None:
    """The ProjectedMaps of `keys` for a block of raw records, given each row's plan: (None, fmt,
    event id) made here from the raw columns `columns_of(fmt)` (field name -> one value a row, UNSET
    where absent), (reason,) skipped, (WHOLE,) read by io/windows.py alone; None if such a row is
    no raw record on the whole-event path after all."""
    count = len(plans)
    values = {key: null_column(count) for key in keys}
    skips = null_column(count)
    whole: list[int] = []
    distinct = dict.fromkeys(plans)
    codes = _codes(plans, distinct) if len(distinct) > 1 else None
    for code, plan in enumerate(distinct):
        rows = list(range(count)) if codes is None else np.flatnonzero(codes == code).tolist()
        if plan[0] is None:
            fmt, event_id = plan[1:]
            whole += _fill(keys, values, fmt, event_id, rows, count, columns_of(fmt))
        elif plan[0] is WHOLE:
            whole += rows
        else:
            skips[rows] = plan[0]
    for row in whole:
        event = _whole_record(block[bounds[0][row]:bounds[1][row]])
        if event is None:
            return None
        found, reason = event
        skips[row] = reason
        if found is not None:
            enriched = windows.enriched(found)
            for key in keys:
                values[key][row] = enriched.get(key)
    return ProjectedMaps({key: known(column, None if key in _NOT_TEXT else TEXT_KINDS)
                          for key, column in values.items()}, count, skips=skips)


def _fill(keys: tuple[str, ...], values: dict[str, np.ndarray], fmt: str, event_id: int, rows: list[int], count: int,
          columns: dict[str, list]) -> list[int]:
    """Fill the rows of one shape and event id; the rows whose normalising raised, to be made whole."""
    every_row = len(rows) == count
    index = slice(None) if every_row else np.array(rows, dtype=np.intp)
    rows_of = _rows_getter(rows, every_row)
    failed: set[int] = set()

    def made(function: Callable, names: tuple[str, ...], data: bool) -> list:
        inputs = [rows_of(columns[name]) for name in names]
        if data and fmt == "nxlog":
            function = _unescaping(function, len(names))
        result, raised = _per_distinct(function, inputs)
        failed.update(rows[i] for i in raised)
        return result

    # Always made: a time that raises makes the record unreadable whatever the plan reads. The
    # first time that parses is the one; most are in a layout parsed for the whole block at once.
    names = windows._TIME_KEYS[fmt]
    first_time = windows._first_time
    if event_id == SYSMON:
        # UtcTime is EventData (unescaped for NXLog; no text in that layout holds an escape).
        names = ("UtcTime", *names)
        first_time = _unescaping(first_time, 1) if fmt == "nxlog" else first_time
    millis: list = [None] * len(rows)
    pending = list(range(len(rows)))  # the rows whose times so far are all absent
    one_by_one: list[int] = []  # the rows with a time out of the common layout: parsed by _first_time
    for name in names:
        if not pending:
            break
        texts = rows_of(columns[name]) if len(pending) == len(rows) else \
            [columns[name][rows[i]] for i in pending]
        parsed = windows.iso_times_ms(texts)
        if len(pending) == len(rows) and None not in parsed:  # the common case: every row's time at once
            millis, pending = parsed, []
            break
        still = []
        for i, value, ms in zip(pending, texts, parsed):
            if ms is not None:
                millis[i] = ms
            elif value is UNSET or value is None:
                still.append(i)
            else:
                one_by_one.append(i)
        pending = still
    if one_by_one:
        found, raised = _per_distinct(first_time, [[columns[name][rows[i]] for i in one_by_one] for name in names])
        failed.update(rows[one_by_one[i]] for i in raised)
        for i, ms in zip(one_by_one, found):
            millis[i] = ms
    for key in keys:
        if key == "_time":
            found = list(map(str, millis)) if None not in millis else \
                [None if ms is None else str(ms) for ms in millis]
        elif key == "event_id":
            found = [str(event_id)] * len(rows)
        elif key == "dest_device_id":
            found = made(_host_of, _HOST, False)
        elif key == _DATAMODELS:
            found = [["Endpoint_Processes"] for _ in rows]
        elif key in _FROM_DATA[event_id]:
            names, function = _FROM_DATA[event_id][key]
            found = made(function, names, True)
        else:
            continue  # null (null_column above): not made for this event id, or no key of an enriched event
        target = values[key]
        target[index] = object_column(found)
    return sorted(failed)


def _host_of(*host: Any) -> str | None:
    return windows._host(dict(zip(_HOST, host)))


def _rows_getter(rows: list[int], every_row: bool) -> Callable[[Sequence], Sequence]:
    """What gives the values of these rows of a column: one getter for every column a plan reads
    (an itemgetter of a thousand rows costs about as much to make as to call)."""
    if every_row:
        return lambda column: column
    if len(rows) == 1:
        return lambda column: [column[rows[0]]]
    return itemgetter(*rows)


# What each normalising function gave each distinct input so far (a run's hosts, users, images and
# command lines repeat from block to block), forgotten when it grows beyond _MEMO_SIZE.
_MEMOS: dict[tuple, dict] = {}
_MEMO_SIZE = 1 << 16


def _per_distinct(function: Callable, inputs: list) -> tuple[list, list[int]]:
    """function(*row) for each row of the input columns (absent values as null), called once per
    distinct row; and the positions where it raised what makes the whole-event path skip a record.
    An input column null in every row is left out of the rows compared."""
    null = [i for i, column in enumerate(inputs) if len(inputs) > 1 and column.count(UNSET) + column.count(None) == len(column)]
    varying = [column for i, column in enumerate(inputs) if i not in null]
    memo = _MEMOS.get((function, len(inputs), *null))
    if memo is None or len(memo) > _MEMO_SIZE:
        memo = _MEMOS[function, len(inputs), *null] = {}
    keys = varying[0] if len(varying) == 1 else list(zip(*varying)) if varying else [()] * len(inputs[0])
    try:  # most blocks bring no value the memo lacks (hosts, users and images repeat)
        result = list(map(memo.__getitem__, keys))
    except KeyError:
        _call_each(memo, _unseen(keys, memo), _caller(function, len(inputs), null, len(varying) == 1))
        result = list(map(memo.__getitem__, keys))
    if _RAISED not in memo:  # nothing raised (_call_each)
        return result, []
    positions = [i for i, value in enumerate(result) if value is _RAISED]
    for i in positions:
        result[i] = None
    return result, positions


def _unseen(keys: Sequence, memo: dict) -> list:
    """The distinct keys not in the memo. Not `dict.fromkeys(keys).keys() - memo.keys()`: a set
    difference with a view walks every key of the memo, up to _MEMO_SIZE of them, for each column."""
    return [key for key in dict.fromkeys(keys) if key not in memo]


def _caller(function: Callable, count: int, null: list[int], single: bool) -> Callable:
    """function called with one memo key: the value of the one varying input (`single`) or a tuple
    of the varying ones, the inputs null in every row (`null`) and absent values passed as None."""
    if single and count == 1:
        return lambda value: function(None if value is UNSET else value)
    slots = [i for i in range(count) if i not in null]
    if single:
        slot = slots[0]

        def one(value: Any) -> Any:
            args = [None] * count
            args[slot] = None if value is UNSET else value
            return function(*args)
        return one

    def each(key: tuple) -> Any:
        args = [None] * count
        for i, value in zip(slots, key):
            args[i] = None if value is UNSET else value
        return function(*args)
    return each


def _call_each(memo: dict, inputs: list, function: Callable) -> None:
    for key in inputs:
        try:
            memo[key] = function(key)
        except formats.UNREADABLE_ERRORS:
            memo[key] = memo[_RAISED] = _RAISED


_UNESCAPING: dict[tuple, Callable] = {}


def _unescaping(function: Callable, count: int) -> Callable:
    """The function, its first `count` arguments XML-unescaped where they are text (NXLog's EventData);
    one for each function, so that its memo (_per_distinct) lasts from block to block."""
    found = _UNESCAPING.get((function, count))
    if found is not None:
        return found
    unescape = windows.xml_unescaped

    def unescaped(*values: Any) -> Any:
        return function(*(unescape(v) if isinstance(v, str) else v for v in values[:count]), *values[count:])
    _UNESCAPING[function, count] = unescaped
    return unescaped


def _is_text(raw: Any) -> bool:
    return raw is not UNSET and memoryview(raw)[0] == _QUOTE


_RAISED = object()
_QUOTE = ord('"')


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
