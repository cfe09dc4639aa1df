"""The OCSF Process Activity document that G3/G4 detections read, from an SSA enriched event or
straight from a raw Windows record; and back to the enriched event for G1/G2 searches.

The G3 searches read it through `map_get(input_event, ...)` and the G4 ones through dotted paths
(`process.file.name`, `actor.process.file.path`, `device.hostname`, `metadata.uid`, ...); both
want this nesting. Keys the source lacks are left out rather than set to null, as an OCSF
producer would. Pre-1.0 BA draft keys that some old G3 texts read (`actor_process` at the top,
`origin`, a top-level `user`, `device.caller`) are not produced.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import repeat
from typing import Any, Callable

import numpy as np

from ..core.batch import (TEXT_KINDS, DeferredColumn, MapsView, ProjectedMaps, coded, kinds_of, known, null_mask,
                          object_column, take_rows)

# OCSF 1.0: category 1 System Activity, class 1007 Process Activity, activity 1 Launch.
_PROCESS_ACTIVITY = {"category_uid": 1, "class_uid": 1007, "activity_id": 1, "type_uid": 100701}
OCSF_VERSION = "1.0.0"
_PRODUCTS = {
    1: {"name": "Sysmon", "vendor_name": "Microsoft"},
    4688: {"name": "Microsoft Windows", "vendor_name": "Microsoft"},
}
# OCSF hash algorithm_id by the names Sysmon writes in `Hashes` (IMPHASH has no id of its own: 99 Other).
_HASH_IDS = {"MD5": 1, "SHA1": 2, "SHA256": 3, "SHA512": 4, "IMPHASH": 99}


def _basename(path: Any) -> Any:
    if type(path) is not str:
        return None
    return path.replace("/", "\\").rsplit("\\", 1)[-1] or None


def _epoch_time(text: Any) -> Any:
    return int(text) if type(text) is str and text.isdigit() else text


def _product(event_id: Any) -> dict:
    return _PRODUCTS[1] if str(event_id) == "1" else _PRODUCTS[4688]


def _clean(mapping: dict) -> dict:
    """Drop null leaves and the maps they leave empty."""
    result = {}
    for key, value in mapping.items():
        if type(value) is dict:
            value = _clean(value)
            if not value:
                continue
        if value is not None:
            result[key] = value
    return result


def from_enriched(event: dict) -> dict:
    """The OCSF document for one SSA enriched event (epoch-ms `time`, as the BA searches expect)."""
    user = event.get("dest_user_id")
    document = {
        "time": _epoch_time(event.get("_time")),
        **_PROCESS_ACTIVITY,
        "disposition_id": 1,  # allowed: process creation events record launches that happened
        "metadata": {
            "uid": event.get("process_guid"),
            "product": _product(event.get("event_id")),
            "source_type": event.get("source_type"),
            "event_code": event.get("event_id"),
            "version": OCSF_VERSION,
        },
        "device": {"hostname": event.get("dest_device_id"), "uuid": event.get("dest_device_id")},
        "process": {
            "pid": event.get("process_id"),
            "uid": event.get("process_guid"),
            "cmd_line": event.get("process"),
            "file": {
                "name": event.get("process_name"),
                "path": event.get("process_path"),
                "hashes": _hashes(event.get("process_hash")),
            },
            "user": {"name": user, "uuid": user},
        },
        "actor": {
            "process": {
                "pid": event.get("parent_process_id"),
                "uid": event.get("parent_process_guid"),
                "cmd_line": event.get("parent_process"),
                "file": {
                    "name": _basename(event.get("parent_process_name")),
                    "path": event.get("parent_process_name"),
                },
            },
            "user": {"name": user, "uid": user, "uuid": user},
        },
    }
    return _clean(document)


def from_enriched_events(events: list[dict]) -> list[dict]:
    """`[from_enriched(e) for e in events]`, made faster for a batch: the documents are built without
    null leaves rather than cleaned after, and their parts that depend only on text values (device,
    users, process and parent files) are made once per distinct value in the batch and shared by
    the documents (values are never changed in place). An event holding a map where a document
    takes a value (which `_clean` would clean) is converted by from_enriched itself."""
    devices: dict = {}
    users: dict = {}
    files: dict = {}
    parent_files: dict = {}
    documents = []
    append = documents.append
    for event in events:
        values = list(map(event.get, FROM_ENRICHED_KEYS))
        if dict in map(type, values):
            append(from_enriched(event))
            continue
        (time_text, event_id, guid, source_type, device, user, pid, cmd_line, name, path, hashes,
         parent_pid, parent_guid, parent_cmd_line, parent_name) = values
        time = _epoch_time(time_text)
        document = {"time": time} if time is not None else {}
        document.update(_PROCESS_ACTIVITY)
        document["disposition_id"] = 1
        metadata = {"uid": guid} if guid is not None else {}
        metadata["product"] = dict(_product(event_id))
        if source_type is not None:
            metadata["source_type"] = source_type
        if event_id is not None:
            metadata["event_code"] = event_id
        metadata["version"] = OCSF_VERSION
        document["metadata"] = metadata
        if device is not None:
            found = devices.get(device) if device.__class__ is str else None
            if found is None:
                found = {"hostname": device, "uuid": device}
                if device.__class__ is str:
                    devices[device] = found
            document["device"] = found
        process = _process_part(pid, guid, cmd_line)
        key = (name, path, hashes)
        texts = _TEXT_OR_NULL.issuperset(map(type, key))
        file = files.get(key) if texts else None
        if file is None:
            file = _present(("name", name), ("path", path), ("hashes", _hashes(hashes)))
            if texts:
                files[key] = file
        if file:
            process["file"] = file
        users_of = users.get(user) if user.__class__ is str else None
        if users_of is None and user is not None:
            users_of = ({"name": user, "uuid": user}, {"name": user, "uid": user, "uuid": user})
            if user.__class__ is str:
                users[user] = users_of
        if user is not None:
            process["user"] = users_of[0]
        if process:
            document["process"] = process
        actor_process = _process_part(parent_pid, parent_guid, parent_cmd_line)
        texts = parent_name is None or parent_name.__class__ is str
        parent_file = parent_files.get(parent_name) if texts else None
        if parent_file is None:
            parent_file = _present(("name", _basename(parent_name)), ("path", parent_name))
            if texts:
                parent_files[parent_name] = parent_file
        if parent_file:
            actor_process["file"] = parent_file
        actor = {"process": actor_process} if actor_process else {}
        if user is not None:
            actor["user"] = users_of[1]
        if actor:
            document["actor"] = actor
        append(document)
    return documents


# The keys of an enriched event from_enriched reads, in the order from_enriched_events unpacks them.
FROM_ENRICHED_KEYS = ("_time", "event_id", "process_guid", "source_type", "dest_device_id", "dest_user_id",
                       "process_id", "process", "process_name", "process_path", "process_hash",
                       "parent_process_id", "parent_process_guid", "parent_process", "parent_process_name")
# Values that are one key of a dict only when equal as SPL values (1, 1.0 and True are one key).
_TEXT_OR_NULL = frozenset((str, type(None)))


def _process_part(pid: Any, uid: Any, cmd_line: Any) -> dict:
    """A document's `process` or `actor.process` without its file and user, null keys left out
    (written out, not through _present: it runs twice for every event of a batch)."""
    part = {}
    if pid is not None:
        part["pid"] = pid
    if uid is not None:
        part["uid"] = uid
    if cmd_line is not None:
        part["cmd_line"] = cmd_line
    return part


def _present(*pairs: tuple[str, Any]) -> dict:
    return {key: value for key, value in pairs if value is not None}


def _hashes(text: Any) -> list | None:
    """Sysmon's `SHA1=...,MD5=...` as OCSF file hashes, in the written order (so `to_enriched` restores it)."""
    if type(text) is not str:
        return None
    return _hashes_of(text)


# A binary's hashes recur with every launch of it; one list serves them all (values are never
# changed in place).
@lru_cache(maxsize=4096)
def _hashes_of(text: str) -> list | None:
    hashes = []
    for part in text.split(","):
        algorithm, sep, value = part.partition("=")
        if sep:
            hashes.append({"algorithm": algorithm, "algorithm_id": _HASH_IDS.get(algorithm.upper(), 99), "value": value})
    return hashes or None


# Each leaf of the document from_enriched makes of a flat event, in the document's order: the one
# key of the event it is made of and how (None: its value as it is), or no key and the constant.
_LEAVES: dict[tuple[str, ...], tuple[tuple[str, ...], Any]] = {
    ("time",): (("_time",), _epoch_time),
    **{(key,): ((), value) for key, value in _PROCESS_ACTIVITY.items()},
    ("disposition_id",): ((), 1),
    ("metadata", "uid"): (("process_guid",), None),
    ("metadata", "product", "name"): (("event_id",), lambda event_id: _product(event_id)["name"]),
    ("metadata", "product", "vendor_name"): (("event_id",), lambda event_id: _product(event_id)["vendor_name"]),
    ("metadata", "source_type"): (("source_type",), None),
    ("metadata", "event_code"): (("event_id",), None),
    ("metadata", "version"): ((), OCSF_VERSION),
    ("device", "hostname"): (("dest_device_id",), None),
    ("device", "uuid"): (("dest_device_id",), None),
    ("process", "pid"): (("process_id",), None),
    ("process", "uid"): (("process_guid",), None),
    ("process", "cmd_line"): (("process",), None),
    ("process", "file", "name"): (("process_name",), None),
    ("process", "file", "path"): (("process_path",), None),
    ("process", "file", "hashes"): (("process_hash",), _hashes),
    ("process", "user", "name"): (("dest_user_id",), None),
    ("process", "user", "uuid"): (("dest_user_id",), None),
    ("actor", "process", "pid"): (("parent_process_id",), None),
    ("actor", "process", "uid"): (("parent_process_guid",), None),
    ("actor", "process", "cmd_line"): (("parent_process",), None),
    ("actor", "process", "file", "name"): (("parent_process_name",), _basename),
    ("actor", "process", "file", "path"): (("parent_process_name",), None),
    ("actor", "user", "name"): (("dest_user_id",), None),
    ("actor", "user", "uid"): (("dest_user_id",), None),
    ("actor", "user", "uuid"): (("dest_user_id",), None),
}
# The keys of each map of such a document (the document itself is ()), in the document's order.
_MAP_KEYS: dict[tuple[str, ...], dict[str, None]] = {}
for _leaf in _LEAVES:
    for _depth in range(len(_leaf)):
        _MAP_KEYS.setdefault(_leaf[:_depth], {})[_leaf[_depth]] = None
# The paths that hold a map in every document that has them (the planner's check reads it).
MAP_PATHS = frozenset(_MAP_KEYS)


class DocumentsView(MapsView):
    """The documents of a batch of flat SSA events (every one of them SSA, io/formats.py) as
    from_enriched makes them, read by key without building them: each leaf is a column computed
    from the events' one column (per distinct value for text), once per batch for every search and
    every view of the batch (`_DocumentColumns`), and a map is null where none of its leaves has a
    value, as from_enriched leaves it out. A value that is a map is cleaned as from_enriched cleans
    it (`_clean`), so null, error and type rules are those of the documents."""

    __slots__ = ("_columns", "_path", "_rows", "_children")

    def __init__(self, columns: "_DocumentColumns", path: tuple[str, ...] = (), rows: np.ndarray | None = None):
        self._columns, self._path, self._rows = columns, path, rows  # rows: of the batch; None: all
        self._children: dict[str, np.ndarray | DocumentsView] = {}

    @staticmethod
    def of(events: "list[dict] | ProjectedMaps") -> "DocumentsView":
        """The view of these events' documents: whole events, or decoded for the keys the
        documents are made of (FROM_ENRICHED_KEYS), every one of them an SSA event."""
        return DocumentsView(_DocumentColumns(events))

    def __len__(self) -> int:
        return self._columns.length if self._rows is None else len(self._rows)

    def key(self, name: str) -> "np.ndarray | DocumentsView":
        found = self._children.get(name)
        if found is None:
            path = self._path + (name,)
            if path in MAP_PATHS:
                found = DocumentsView(self._columns, path, self._rows)
            else:
                found = self._columns.leaf(path)
                if self._rows is not None:
                    found = take_rows(found, self._rows)
            self._children[name] = found
        return found

    def maps(self) -> np.ndarray:
        documents = self._columns.documents(self._rows)
        for key in self._path:
            documents = [None if document is None else document.get(key) for document in documents]
        return object_column(documents)

    def present(self) -> np.ndarray:
        """Where each row's map is not null."""
        found = self._columns.present(self._path)
        return found if self._rows is None else found[self._rows]

    def entries(self) -> list[tuple[str, "np.ndarray | DocumentsView", np.ndarray]]:
        found = []
        for order, name in enumerate(_MAP_KEYS.get(self._path, ())):
            column = self.key(name)
            present = column.present() if column.__class__ is DocumentsView else ~null_mask(column)
            if present.any():
                found.append((int(np.argmax(present)), order, name, column, present))
        return [(name, column, present) for _, _, name, column, present in sorted(found, key=lambda f: f[:2])]

    def __getitem__(self, rows: np.ndarray) -> "DocumentsView":
        """The rows where a boolean mask is true, or at the given indices (as Batch.filter asks)."""
        chosen = np.flatnonzero(rows) if rows.dtype == bool else rows
        return DocumentsView(self._columns, self._path, chosen if self._rows is None else self._rows[chosen])

    def made_of(self) -> "tuple[list[dict] | ProjectedMaps, tuple[str, ...]]":
        """The events of this view's rows and the path of its map in their documents: `of(events)`
        followed by `key` along the path is this view again (how a worker process sends it)."""
        events = self._columns.events
        if self._rows is None:
            return events, self._path
        if events.__class__ is ProjectedMaps:
            return events[self._rows], self._path
        return [events[row] for row in self._rows.tolist()], self._path

    @staticmethod
    def remade(events: "list[dict] | ProjectedMaps", path: tuple[str, ...]) -> "DocumentsView":
        """The view `made_of` describes."""
        view = DocumentsView.of(events)
        for name in path:
            view = view.key(name)
        return view


class _DocumentColumns:
    """The columns of a DocumentsView's batch, each made once: the events' values of one key,
    the leaves, and where each map is present."""

    __slots__ = ("events", "length", "_values", "_leaves", "_present", "_documents")

    def __init__(self, events: "list[dict] | ProjectedMaps"):
        self.events, self.length = events, len(events)  # whole events, or decoded for their keys
        self._values: dict[str, np.ndarray] = {}
        self._leaves: dict[tuple[str, ...], np.ndarray] = {}
        self._present: dict[tuple[str, ...], np.ndarray] = {}
        self._documents: dict[bytes | None, list[dict]] = {}

    def documents(self, rows: np.ndarray | None) -> list[dict]:
        """The documents of these rows (all: None), built once for every map of them a sink writes."""
        key = None if rows is None else rows.tobytes()
        found = self._documents.get(key)
        if found is None:
            found = self._documents[key] = from_enriched_events(self._events_of(rows))
        return found

    def _events_of(self, rows: np.ndarray | None) -> list[dict]:
        """The events of these rows (all: None), or as much of each as its document is made of."""
        events = self.events
        if events.__class__ is ProjectedMaps:
            columns = [self._raw(key) if rows is None else self._raw(key)[rows] for key in FROM_ENRICHED_KEYS]
            return [dict(zip(FROM_ENRICHED_KEYS, row)) for row in zip(*columns)]
        return events if rows is None else [events[row] for row in rows.tolist()]

    def _raw(self, key: str) -> np.ndarray:
        """Each event's value of `key` as the event holds it."""
        column = self.events.key(key)
        return column.values() if column.__class__ is DeferredColumn else column

    def values(self, key: str) -> np.ndarray:
        """Each event's value of `key` as its document holds it (a map cleaned, null if empty), with their types."""
        found = self._values.get(key)
        if found is None:
            events = self.events
            if events.__class__ is ProjectedMaps:
                raw = self._raw(key)
                raw_kinds = kinds_of(raw)
                if raw_kinds is not None and raw_kinds <= TEXT_KINDS:  # decoded as text: no map to clean
                    found = self._values[key] = raw
                    return found
                values = raw.tolist()
            else:
                values = list(map(dict.get, events, repeat(key)))
            kinds = frozenset(map(type, values))
            if dict in kinds:
                values = [(_clean(v) or None) if v.__class__ is dict else v for v in values]
                kinds = frozenset(map(type, values))
            found = self._values[key] = known(object_column(values), kinds)
        return found

    def leaf(self, path: tuple[str, ...]) -> np.ndarray:
        found = self._leaves.get(path)
        if found is None:
            keys, made = _LEAVES.get(path, ((), None))  # a key no document has: null
            if not keys:
                found = known(np.full(self.length, made, dtype=object), frozenset((type(made),)))
            elif made is None:
                found = self.values(keys[0])  # one column for every leaf that is the value itself
            else:
                values = self.values(keys[0])
                if values.kinds <= TEXT_KINDS:
                    # One call per distinct text, and the leaf dictionary-encoded: what reads it
                    # next (every search's calls over it) runs per distinct value too.
                    first_row: dict = {}
                    codes = np.fromiter(map(first_row.setdefault, values, range(self.length)), dtype=np.intp,
                                        count=self.length)
                    made_values = object_column([made(value) for value in first_row])
                    by_first_row = np.empty(self.length, dtype=object)
                    by_first_row[np.fromiter(first_row.values(), dtype=np.intp, count=len(first_row))] = made_values
                    found = coded(by_first_row, codes, frozenset(map(type, made_values)))
                else:
                    made_values = [made(value) for value in values]
                    found = known(object_column(made_values), frozenset(map(type, made_values)))
            self._leaves[path] = found
        return found

    def present(self, path: tuple[str, ...]) -> np.ndarray:
        """Where the map at `path` is in the document: where any leaf under it has a value (a leaf
        that is its key's value itself stands for the others of that key, which are null with it)."""
        found = self._present.get(path)
        if found is None:
            under = [leaf for leaf in _LEAVES if leaf[:len(path)] == path]
            as_is = {_LEAVES[leaf][0][0] for leaf in under if _LEAVES[leaf][0] and _LEAVES[leaf][1] is None}
            found = np.zeros(self.length, dtype=bool)
            for leaf in under:
                keys, made = _LEAVES[leaf]
                if not keys:
                    found[:] = True  # a constant
                    break
                if made is not None and keys[0] not in as_is:
                    found |= ~null_mask(self.leaf(leaf))
            else:
                for key in as_is:
                    found |= ~null_mask(self.values(key))
            self._present[path] = found
        return found


def _user(account: tuple | None, entity: str | None) -> dict | None:
    """OCSF user: name and domain as the source wrote them, `uid` the SID when known, `uuid` the entity id."""
    if account is None:
        return None
    name, domain, sid = account
    return {"name": name, "domain": domain, "uid": sid, "uuid": entity}


def from_process_creation(found: dict) -> dict:
    """The OCSF document for one `spl_lite.io.windows.process_creation` result (a raw Sysmon 1 / 4688 record).

    Richer than `from_enriched`: the host as reported (`device.hostname`; `device.name` and `device.uuid`
    are the short lower-cased entity id the SSA event uses), user domains and SIDs, the creator's account
    as `actor.user`, the channel and the raw shape in `metadata`.
    """
    event_id = found["event_id"]
    computer, channel, record_id = found["computer"], found["channel"], found["record_id"]
    actor = found["actor_user"]
    document = {
        "time": found["time_ms"],
        **_PROCESS_ACTIVITY,
        "disposition_id": 1,
        "metadata": {
            # The log's own identity of the record when it has one; a Sysmon record without it is its process.
            "uid": f"{computer}/{channel}/{record_id}" if computer and record_id is not None else found["process_guid"],
            "product": _PRODUCTS[event_id],
            "version": OCSF_VERSION,
            "log_name": channel,
            "source": channel,
            "source_type": found["format"],
            "event_code": str(event_id),
        },
        "device": {"hostname": computer, "name": found["host"], "uuid": found["host"]},
        "process": {
            "pid": found["process_id"],
            "uid": found["process_guid"],
            "cmd_line": found["command_line"],
            "file": {"name": _basename(found["image"]), "path": found["image"], "hashes": _hashes(found["process_hash"])},
            "user": _user(found["process_user"], found["user"]),
            "integrity": found["integrity"],
        },
        "actor": {
            "process": {
                "pid": found["parent_process_id"],
                "uid": found["parent_process_guid"],
                "cmd_line": found["parent_command_line"],
                "file": {"name": _basename(found["parent_image"]), "path": found["parent_image"]},
            },
            "user": _user(actor, actor[0].lower() if actor else None),
            "session": {"uid": found["logon_id"]},
        },
    }
    return _clean(document)


def _get(mapping: Any, *path: str) -> Any:
    for key in path:
        if type(mapping) is not dict:
            return None
        mapping = mapping.get(key)
    return mapping


def to_enriched(document: dict) -> dict:
    """The SSA enriched event for an OCSF process document, so G1/G2 searches can read OCSF input.

    The inverse of `from_enriched` on what that writes; `dest_*_id` prefer the entity `uuid` over names.
    """
    return {key: made(*(_get(document, *path) for path in paths)) for key, (paths, made) in ENRICHED_FROM.items()}


def _time_text(time: Any) -> Any:
    return str(time) if type(time) is int else time


def _event_code_text(code: Any) -> str | None:
    return None if code is None else str(code)


def _name_or_basename(name: Any, path: Any) -> Any:
    return name or _basename(path)


def _either(first: Any, second: Any) -> Any:
    return first or second


def unchanged(value: Any) -> Any:
    return value


def _hash_text(hashes: Any) -> str | None:
    if type(hashes) is not list:
        return None
    return ",".join(f"{h.get('algorithm')}={h.get('value')}" for h in hashes if type(h) is dict)


def _user_id(process_user: Any, actor_user: Any) -> Any:
    user = process_user or actor_user or {}
    user_name = user.get("name") if type(user) is dict else None
    return (user.get("uuid") if type(user) is dict else None) or (user_name.lower() if type(user_name) is str else None)


def _datamodels(class_uid: Any) -> list[str]:
    return ["Endpoint_Processes"] if class_uid == 1007 else []


# Each key of the SSA enriched event: the document paths it is made of, and how. One table for
# `to_enriched` and for the documents read in part (io/ocsf_columns.py).
ENRICHED_FROM: dict[str, tuple[tuple[tuple[str, ...], ...], Callable]] = {
    "_time": ((("time",),), _time_text),
    "event_id": ((("metadata", "event_code"),), _event_code_text),
    "process_name": ((("process", "file", "name"), ("process", "file", "path")), _name_or_basename),
    "process": ((("process", "cmd_line"),), unchanged),
    "process_path": ((("process", "file", "path"),), unchanged),
    "parent_process_name": ((("actor", "process", "file", "path"), ("actor", "process", "file", "name")), _either),
    "parent_process": ((("actor", "process", "cmd_line"),), unchanged),
    "process_guid": ((("process", "uid"),), unchanged),
    "parent_process_guid": ((("actor", "process", "uid"),), unchanged),
    "process_id": ((("process", "pid"),), unchanged),
    "parent_process_id": ((("actor", "process", "pid"),), unchanged),
    "process_hash": ((("process", "file", "hashes"),), _hash_text),
    "dest_device_id": ((("device", "uuid"), ("device", "hostname")), _either),
    "dest_user_id": ((("process", "user"), ("actor", "user")), _user_id),
    "_datamodels": ((("class_uid",),), _datamodels),
}
