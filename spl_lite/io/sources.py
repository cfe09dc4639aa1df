"""Source registry: what `from read_*()` turns each input event into (spec section 7)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import orjson

from ..core.batch import Batch, DeferredColumn, MapsView, ProjectedMaps, object_column

# Shared between records: no operator mutates a value in place.
_EMPTY_BODY: dict = {}
_NO_DATAMODELS: list = []


def _enriched_records(events: list[dict] | ProjectedMaps, first_row_id: int) -> Batch:
    """Spec 7.1: {input_event, _datamodels, body}. A line that already has an `input_event` object is
    an envelope of the stream: its `input_event` is the event, and nothing else of it reaches the
    record (the production source selects `input_event` only, then adds `_datamodels` from it and an
    empty `body`), so a search reading `timestamp` before setting it sees null whatever the envelope
    carried."""
    row_ids = np.arange(first_row_id, first_row_id + len(events), dtype=np.int64)
    if isinstance(events, MapsView):  # OCSF documents read only by key (io/ocsf.py DocumentsView)
        n = len(events)
        columns = {"input_event": events, "_datamodels": object_column([_NO_DATAMODELS] * n),
                   "body": object_column([_EMPTY_BODY] * n)}
        return Batch(columns, row_ids)
    if events.__class__ is ProjectedMaps:
        # Decoded for a plan that reads only these keys of `input_event` and drops the record's
        # fields unread (spl_lite/io/projection.py): `_datamodels` and `body` are never asked for,
        # unless a sink writes the records whole, which decodes the events (and so `_datamodels`)
        # late, for the records that reach it.
        if not events.events_late:
            return Batch({"input_event": events}, row_ids)
        datamodels = events.key("_datamodels")  # decoded with the keys if the plan reads it, else late
        datamodels = datamodels.then(_as_datamodels) if datamodels.__class__ is DeferredColumn \
            else object_column(list(map(_as_datamodels, datamodels)))
        return Batch({"input_event": events, "_datamodels": datamodels,
                      "body": object_column([_EMPTY_BODY] * len(events))}, row_ids)
    if [e for e in events if "input_event" in e] and any(type(e.get("input_event")) is dict for e in events):
        events = [inner if type(inner := e.get("input_event")) is dict else e for e in events]
    columns = {
        "input_event": object_column(events),
        "_datamodels": object_column([_as_datamodels(e.get("_datamodels")) for e in events]),
        "body": object_column([_EMPTY_BODY] * len(events)),
    }
    return Batch(columns, row_ids)


def _as_datamodels(value) -> list:
    """A record's `_datamodels`: its event's, where that is a list."""
    return value if value.__class__ is list else _NO_DATAMODELS


def _events_as_records(events: list[dict], first_row_id: int) -> Batch:
    """G4 `from source`: the event's own top-level keys are the record's fields."""
    if isinstance(events, MapsView):  # OCSF documents read only by key (io/ocsf.py DocumentsView)
        rows = np.arange(first_row_id, first_row_id + len(events), dtype=np.int64)
        entries = events.entries()
        absent = {name: ~present for name, _, present in entries if not present.all()}
        return Batch({name: column for name, column, _ in entries}, rows, absent)
    return Batch.from_records(events, first_row_id)


def _connector(as_text: bool = False) -> Callable[[list[dict], int], Batch]:
    """A DSP connector source (`from pulsar(<connection>, <topic>)`, the production form of the SSA
    source, spec 7.1): there is no broker here, so it reads the --input events, each as the record
    {value: <the event's JSON>} (bytes, as the connector gives it; text for read_text), which the
    search turns back into `input_event` with deserialize_json_object(value). The event is the line's
    JSON object (an envelope's `input_event`), re-encoded: the same object, not the same bytes."""

    def to_batch(events: list[dict], first_row_id: int) -> Batch:
        dumps = orjson.dumps
        values = [
            dumps(inner if type(inner := e.get("input_event")) is dict else e) for e in events
        ]
        if as_text:
            values = [v.decode() for v in values]
        return Batch({"value": object_column(values)}, np.arange(first_row_id, first_row_id + len(values), dtype=np.int64))

    return to_batch


def _connector_notice(name: str, kind: str) -> str:
    return (f"`{name}` is a DSP connector; here it reads the --input events, each as the {kind} `value` "
            "(its JSON object); its arguments are not used")


@dataclass(frozen=True)
class SourceSpec:
    name: str
    fields: tuple[str, ...] | None
    to_batch: Callable[[list[dict], int], Batch]
    summary: str
    # The event shape this source reads (spl_lite.io.formats): "ssa" enriched events, "ba" OCSF documents
    # or records of them, "ocsf" flat OCSF documents. Input lines of other shapes are converted to it.
    shape: str = "ssa"
    # Whether `from name(...)` takes arguments (a connector's connection and topic; not used here).
    arguments: bool = False
    # What a run says once when a search reads this source.
    notice: str = ""


ENRICHED_FIELDS = ("input_event", "_datamodels", "body")

SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec("read_ssa_enriched_events", ENRICHED_FIELDS, _enriched_records, "SSA enriched events (G1, G2)"),
        SourceSpec("read_ba_enriched_events", ENRICHED_FIELDS, _enriched_records, "BA/OCSF events (G3)", "ba"),
        # The 2020 prototype name of the same stream; one published G0 text reads it.
        SourceSpec("enriched_source", ENRICHED_FIELDS, _enriched_records, "early name of read_ssa_enriched_events (G0)"),
        SourceSpec("source", None, _events_as_records, "OCSF events as records (G4 `from source`)", "ocsf"),
        # DSP connectors: the production form of the SSA source is `from pulsar(<connection>, <topic>) |
        # eval input_event=deserialize_json_object(value) | ...` (spec 7.1); the harness reads a file
        # with read_text. Each reads the --input events as `value` (see _connector).
        *(
            SourceSpec(name, ("value",), _connector(), "the --input events as `value` bytes (DSP connector)",
                       arguments=True, notice=_connector_notice(name, "bytes"))
            for name in ("pulsar", "read_pulsar", "kafka", "read_kafka", "kinesis", "read_kinesis", "read_event_hubs")
        ),
        SourceSpec("read_text", ("value",), _connector(as_text=True),
                   "the --input events as `value` text (the test harness's file reader)", arguments=True,
                   notice=_connector_notice("read_text", "text")),
    )
}
