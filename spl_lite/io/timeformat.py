"""`--time-format iso`: output fields known to be times, written as ISO-8601 UTC text.

Only top-level fields of an output record named in TIME_FIELDS are changed, and only where the
value is a number (epoch milliseconds, as the language keeps times); any other value (text,
null, a map) is left as it is. The default, `epoch`, writes every value as the search made it.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from ..core.batch import Batch

TIME_FORMATS = ("epoch", "iso")
TIME_FIELDS = ("timestamp", "start_time", "end_time", "window_start", "window_end", "window_trigger")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def iso_ms(value):
    """`2018-12-04T00:31:24.466Z` for epoch milliseconds; other values (and times outside years
    1-9999) as they are."""
    kind = value.__class__
    if kind is not int and kind is not float:  # bool is neither; numpy scalars do not reach records
        return value
    if kind is float and value != value:
        return value
    try:
        moment = _EPOCH + timedelta(milliseconds=value)
    except (OverflowError, ValueError):
        return value
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def with_iso_times(batch: Batch) -> Batch:
    """The batch with its time fields as ISO-8601 text."""
    present = [name for name in TIME_FIELDS if name in batch.columns]
    if not present:
        return batch
    columns = dict(batch.columns)
    for name in present:
        values = np.empty(batch.length, dtype=object)
        values[:] = [iso_ms(v) for v in batch.columns[name]]
        columns[name] = values
    return Batch(columns, batch.row_ids, batch.absent)  # a field a record lacks stays absent


def iso_emit(emit):
    """An `emit(sink, batch)` that writes the batch's times as ISO-8601 text."""
    def write(sink: str, batch: Batch) -> None:
        emit(sink, with_iso_times(batch))
    return write
