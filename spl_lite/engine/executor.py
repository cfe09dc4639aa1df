"""Runs a plan: pushes each source batch through every operator in plan order, then flushes."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..core.batch import Batch
from ..core.limits import allow_deep_recursion
from ..io.formats import InputConverter
from ..io.sinks import SINKS
from ..io.sources import SOURCES
from ..plan.commands.source import Source
from ..plan.logical import Plan
from ..plan.rules.early_filters import filters_known_early
from .expressions import RecordErrors, counting_errors_in
from .sharing import SharedWork
from .operators import build


class Execution:
    """One run of a plan. `emit(sink_name, batch)` receives every batch that reaches a writing sink.

    Nodes are created in dependency order, so a single pass over `plan.nodes` sees every input
    before the nodes that read it; a record is pushed through every branch before the next batch.
    """

    def __init__(self, plan: Plan, emit: Callable[[str, Batch], None], input_format: str = "auto",
                 early_filters: dict[int, int] | None = None, lateness_ms: int = 0, trace=None,
                 shared: SharedWork | None = None, by_key: frozenset[int] = frozenset()):
        self.plan = plan
        self.lateness_ms = lateness_ms  # the run's bound on out-of-orderness, added to every window's grace
        self._emit = emit
        # Turns each batch of lines into the shape its sources read; counts raw records normalised / skipped.
        self.inputs = InputConverter(input_format)
        # Values that could not be computed, of this search only (operators count into it).
        self.record_errors = RecordErrors()
        allow_deep_recursion()
        with counting_errors_in(self.record_errors, shared):
            self.operators = [build(node, self) for node in plan.nodes]
        self._filtered_by = filters_known_early(plan) if early_filters is None else early_filters
        self._by_key = by_key  # sources reading OCSF documents by key (plan/rules/documents_by_key.py)
        self._uses = [node.uses() for node in plan.nodes]  # deferred columns are decoded before these
        self.trace = trace  # engine/trace.py: counters per stage (--trace, --why); None: plain operators
        if trace is not None:
            self.operators = trace.wrap(self.operators)
            self._filtered_by = {}  # each stage sees its own records, so each counts its own
        self._pending: list[tuple[str, Batch]] = []
        self.next_row_id = 0
        self.records_out = 0
        self.records_discarded = 0

    def emit(self, sink_name: str, batch: Batch) -> None:
        if SINKS[sink_name].writes:
            self.records_out += batch.length
            self._pending.append((sink_name, batch))
        else:
            self.records_discarded += batch.length

    def _write_pending(self) -> None:
        """Hand over what the sinks received during one push, record by record in source order
        (spec 5.1: each record goes through every branch before the next one), sinks in plan order."""
        pending, self._pending = self._pending, []
        if len(pending) == 1:
            self._emit(*pending[0])
            return
        if not pending:
            return
        row_ids = np.concatenate([batch.row_ids for _, batch in pending])
        sink_of_row = np.concatenate([np.full(batch.length, i) for i, (_, batch) in enumerate(pending)])
        position = np.concatenate([np.arange(batch.length) for _, batch in pending])
        order = np.lexsort((sink_of_row, row_ids))
        runs = np.flatnonzero(np.diff(sink_of_row[order])) + 1
        for rows in np.split(order, runs):
            sink_name, batch = pending[sink_of_row[rows[0]]]
            self._emit(sink_name, batch.filter(position[rows]))

    def push(self, events: list[dict]) -> None:
        self.push_converted(self.inputs.convert(events))

    def push_converted(self, converted) -> None:
        """Like push, for lines another converter already shaped (several searches over one input)."""
        first_row_id = self.next_row_id
        self.next_row_id += converted.length
        self._run_nodes(0, [], self._reader(converted, first_row_id))

    def run_head(self, converted, first_row_id: int, last: int) -> Batch:
        """The output of nodes #0-#`last` (a stateless head, which reaches no sink) for lines another
        converter shaped, row ids from `first_row_id`: what a worker process runs (parallel.py)."""
        return self._run_nodes(0, [], self._reader(converted, first_row_id), last + 1)[-1]

    def _reader(self, converted, first_row_id: int) -> Callable[[Source], Batch]:
        """What each source of the plan reads from the converted lines."""

        def read(node: Source) -> Batch:
            return converted.records(SOURCES[node.name], first_row_id, node.id in self._by_key)

        return read

    def push_after(self, node_id: int, batch: Batch) -> None:
        """Feed `batch` as the output of node `node_id`, whose head ran elsewhere (parallel.py).

        Only for single-chain plans, where every later node reads the one before it.
        """
        self._run_nodes(node_id + 1, [None] * node_id + [batch])

    def _run_nodes(self, start: int, outputs: list, read: Callable[[Source], Batch] | None = None,
                   stop: int | None = None) -> list[Batch]:
        """The nodes from `start` up to `stop` (all the rest: None), in plan order, given the outputs
        of the nodes before it; every node's output."""
        filtered = None  # a filter whose records were already chosen
        for node, operator in zip(self.plan.nodes[start:stop], self.operators[start:stop]):
            if isinstance(node, Source):
                batch = operator.process(read(node))
            elif node.id == filtered:
                batch = outputs[-1]
            elif node.id in self._filtered_by:
                filtered = self._filtered_by[node.id]
                batch = self._process_filtered(node, operator, filtered, outputs[node.inputs[0]])
            else:
                batch = operator.process_inputs([outputs[i].decoded(self._uses[node.id]) for i in node.inputs])
            outputs.append(batch)
        self._write_pending()
        return outputs

    def _process_filtered(self, node, operator, where_id: int, batch: Batch) -> Batch:
        """The output of `operator` then of the filter after it, which reads nothing it sets: the
        filter is applied first, and the operator (which still sees every record) makes output for
        the kept records only."""
        batch = batch.decoded(_union(self._uses[node.id], self._uses[where_id]))
        if not batch.length:
            return operator.process(batch)
        kept = np.flatnonzero(self.operators[where_id].keep(batch))
        return operator.process_keeping(batch, kept)

    def late_records(self) -> int:
        """Records the windows of this search dropped as late (spec 5.7: after end + grace)."""
        return sum(operator.late_records() for operator in self.operators)

    def state_dict(self) -> dict:
        """What a later run needs to continue this one: each operator's state, in plan order.

        JSON-ready data; spl_lite/runtime/checkpoint.py stores it. Only operators that keep state
        between batches (streaming ML, `stats` windows) contribute something other than null.
        """
        return {
            "next_row_id": self.next_row_id,
            "operators": [[node.command, op.state_dict()] for node, op in zip(self.plan.nodes, self.operators)],
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state_dict()` of an earlier run of the same plan; ValueError if it does not fit."""
        saved = state["operators"]
        if [command for command, _ in saved] != [node.command for node in self.plan.nodes]:
            raise ValueError("the saved state belongs to a different plan")
        for operator, (_, data) in zip(self.operators, saved):
            operator.load_state_dict(data)
        self.next_row_id = state["next_row_id"]

    def finish(self) -> None:
        """End of input: stateful operators release what they hold, in plan order."""
        outputs: list[Batch] = []
        for node, operator in zip(self.plan.nodes, self.operators):
            if isinstance(node, Source):
                outputs.append(Batch.empty())
                continue
            inputs = [outputs[i].decoded(self._uses[node.id]) for i in node.inputs]
            passed = operator.process_inputs(inputs) if any(b.length for b in inputs) else Batch.empty()
            outputs.append(Batch.concat([passed, operator.flush()]))
        self._write_pending()


def _union(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    return None if a is None or b is None else a | b
