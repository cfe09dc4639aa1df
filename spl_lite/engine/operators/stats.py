"""The `stats` operator: aggregations per group over event-time windows (engine/windows.py)."""
from __future__ import annotations

import numpy as np

from ...core.batch import Batch, object_column
from ...plan.commands.stats import Stats
from ..expressions import Constant, compile_expression
from ..operator import Operator
from ..windows import WindowedAggregation
from . import builds


@builds(Stats)
class StatsOperator(Operator):
    def __init__(self, node: Stats, context):
        self.node = node
        self.groups = [compile_expression(f) for f in node.group_by]
        # count() with no argument counts records: any non-null constant does.
        self.values = [compile_expression(arg) if arg is not None else Constant(1) for _, arg, _ in node.aggregations]
        self.timestamp = compile_expression(node.timestamp)
        # The run's bound on out-of-orderness (--lateness) delays every window's close by that much.
        lateness = getattr(context, "lateness_ms", 0)
        self.state = WindowedAggregation(
            node.size_ms,
            node.slide_ms,
            (node.grace_ms or 0) + lateness,
            len(node.group_by),
            [(function, name) for function, _, name in node.aggregations],
        )
        self.last_row_id = -1

    def process(self, batch: Batch) -> Batch:
        if not batch.length:
            return batch
        triggers: list[int] = []
        rows = self.state.process(
            self.timestamp(batch), [g(batch) for g in self.groups], [v(batch) for v in self.values], triggers
        )
        self.last_row_id = int(batch.row_ids[-1])
        # A window's record carries the row id of the record whose event time closed it, so that
        # a union places it right after that record.
        return self._batch(rows, batch.row_ids[triggers] if rows else None)

    def late_records(self) -> int:
        return self.state.late_records

    def flush(self) -> Batch:
        rows = self.state.flush()
        return self._batch(rows, np.full(len(rows), self.last_row_id + 1, dtype=np.int64))

    def state_dict(self) -> dict:
        return {"windows": self.state.state_dict(), "last_row_id": self.last_row_id}

    def load_state_dict(self, state: dict) -> None:
        self.state = WindowedAggregation.from_state_dict(state["windows"])
        self.last_row_id = state["last_row_id"]

    def _batch(self, rows: list[tuple], row_ids: np.ndarray | None) -> Batch:
        if not rows:
            return Batch.empty()
        names = self.node.fields
        columns = {name: object_column([row[i] for row in rows]) for i, name in enumerate(names)}
        return Batch(columns, row_ids)
