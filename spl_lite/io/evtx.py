"""Windows EVTX files, read with the optional `evtx` package (pip install 'spl-lite[evtx]').

Each record becomes the flat object `spl_lite.io.windows` knows as the "evtx" shape: the System
fields renamed (`ProviderName`, `EventID`, `TimeCreated`, `EventRecordID`, `Channel`, `Computer`,
...) and every named `<EventData><Data Name=X>` as key X, the same flattening the shared corpus
used for its EVTX sources.
"""
from __future__ import annotations

import os
import stat
import warnings
from itertools import islice
from typing import Any, Callable, Iterator

import orjson

from ..core.errors import BAD_INPUT, SplError

MAGIC = b"ElfFile\x00"
INSTALL_HINT = "pip install 'spl-lite[evtx]'"


def is_evtx(path: str) -> bool:
    """Whether `path` is an EVTX file, by its first bytes. Only a regular file is opened to look:
    opening a pipe, a FIFO or `<(...)` a second time would lose the bytes read here (or wait for
    ever for a writer that has gone); those are read as JSON lines."""
    if path == "-":
        return False
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False  # the JSON-lines reader reports it


def _parser(path: str):
    try:
        from evtx import PyEvtxParser
    except ImportError:
        raise SplError(
            BAD_INPUT, f"`{path}` is an EVTX file; reading EVTX needs the `evtx` package: {INSTALL_HINT}"
        ) from None
    try:
        try:
            return PyEvtxParser(path, skip_errors=True)  # a damaged record is reported, the rest still read
        except TypeError:  # versions before skip_errors
            return PyEvtxParser(path)
    except (OSError, RuntimeError) as error:
        raise SplError(BAD_INPUT, f"cannot read EVTX file `{path}`: {error}") from None


def read_batches(path: str, batch_size: int, on_bad_record: Callable[[str], None]) -> Iterator[list[dict]]:
    """Flat records of one EVTX file, `batch_size` at a time; a record the parser cannot read is reported."""
    records = _parser(path).records_json()
    while True:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                chunk = list(islice(records, batch_size))
            except RuntimeError as error:
                raise SplError(BAD_INPUT, f"{path}: EVTX read failed: {error}") from None
        for warning in caught:
            on_bad_record(f"{path}: unreadable EVTX record ({warning.message})")
        if not chunk:
            return
        batch = []
        for record in chunk:
            try:
                batch.append(flatten(orjson.loads(record["data"])))
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
                on_bad_record(f"{path}: record {record.get('event_record_id')}: unexpected EVTX JSON ({error})")
        if batch:
            yield batch


def _text(value: Any) -> Any:
    """The value of an element that may carry attributes: `{"#attributes": ..., "#text": v}` -> v."""
    return value.get("#text") if type(value) is dict else value


def _attributes(value: Any) -> dict:
    found = value.get("#attributes") if type(value) is dict else None
    return found if type(found) is dict else {}


def flatten(document: dict) -> dict:
    """evtx's JSON of one record (`{"Event": {"System": ..., "EventData": ...}}`) -> one flat object."""
    event = document["Event"]
    system = event.get("System") or {}
    provider = _attributes(system.get("Provider"))
    execution = _attributes(system.get("Execution"))
    flat = {
        "ProviderName": provider.get("Name"),
        "ProviderGuid": provider.get("Guid"),
        "EventID": _text(system.get("EventID")),
        "Version": _text(system.get("Version")),
        "Level": _text(system.get("Level")),
        "Task": _text(system.get("Task")),
        "Opcode": _text(system.get("Opcode")),
        "Keywords": _text(system.get("Keywords")),
        "TimeCreated": _attributes(system.get("TimeCreated")).get("SystemTime"),
        "EventRecordID": _text(system.get("EventRecordID")),
        "ExecutionProcessID": execution.get("ProcessID"),
        "ExecutionThreadID": execution.get("ThreadID"),
        "Channel": _text(system.get("Channel")),
        "Computer": _text(system.get("Computer")),
        "SecurityUserID": _attributes(system.get("Security")).get("UserID"),
    }
    data = event.get("EventData")
    if type(data) is dict:
        for name, value in data.items():
            if name not in ("#attributes", "Data", "Binary") and name not in flat:
                flat[name] = _text(value)
    return {key: value for key, value in flat.items() if value is not None}
