"""Runs a plan: pushes each source batch through every operator in plan order, then flushes."""
from __future__ import annotations

from typing import Callable

from ..commands import COMMANDS
from ..io.formats import InputConverter
from ..io.sinks import SINKS
from ..io.sources import SOURCES
from ..plan import Plan
from .batch import Batch
from .expressions import RECORD_ERRORS


class Execution:
    """One run of a plan. `emit(sink_name, batch)` receives every batch that reaches a writing sink.

    Nodes are created in dependency order, so a single pass over `plan.nodes` sees every input
    before the nodes that read it; a record is pushed through every branch before the next batch.
    """

    def __init__(self, plan: Plan, emit: Callable[[str, Batch], None], input_format: str = "auto"):
        self.plan = plan
        self._emit = emit
        # Turns each batch of lines into the shape its sources read; counts raw records normalised / skipped.
        self.inputs = InputConverter(input_format)
        RECORD_ERRORS.reset()
        self.record_errors = RECORD_ERRORS
        self.operators = [COMMANDS[node.command].operator(node.params, self) for node in plan.nodes]
        self.next_row_id = 0
        self.records_out = 0
        self.records_discarded = 0

    def emit(self, sink_name: str, batch: Batch) -> None:
        if SINKS[sink_name].writes:
            self.records_out += batch.length
            self._emit(sink_name, batch)
        else:
            self.records_discarded += batch.length

    def push(self, events: list[dict]) -> None:
        converted = self.inputs.convert(events)
        first_row_id = self.next_row_id
        self.next_row_id += converted.length
        outputs: list[Batch] = []
        for node, operator in zip(self.plan.nodes, self.operators):
            if node.command == "from":
                source = SOURCES[node.params.name]
                batch = operator.process(source.to_batch(converted.shape(source.shape), first_row_id))
            else:
                batch = operator.process_inputs([outputs[i] for i in node.inputs])
            outputs.append(batch)

    def push_after(self, node_id: int, batch: Batch) -> None:
        """Feed `batch` as the output of node `node_id`, whose head ran elsewhere (parallel.py).

        Only for single-chain plans, where every later node reads the one before it.
        """
        for node, operator in zip(self.plan.nodes[node_id + 1 :], self.operators[node_id + 1 :]):
            batch = operator.process_inputs([batch])

    def finish(self) -> None:
        """End of input: stateful operators release what they hold, in plan order."""
        outputs: list[Batch] = []
        for node, operator in zip(self.plan.nodes, self.operators):
            if node.command == "from":
                outputs.append(Batch.empty())
                continue
            inputs = [outputs[i] for i in node.inputs]
            passed = operator.process_inputs(inputs) if any(b.length for b in inputs) else Batch.empty()
            outputs.append(Batch.concat([passed, operator.flush()]))
