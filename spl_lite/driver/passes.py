"""One pass over the input: batches pushed through the Executions of one or more searches, as the
physical plan says. `spl-lite run` (driver/run.py) and the Python API (driver/api.py) both run
their searches through a Pass; what they add around it differs (outputs, state, signals, progress
for the CLI; records handed back as they are iterated for the API)."""
from __future__ import annotations

from contextlib import nullcontext
from itertools import islice
from typing import Callable, Iterable, Iterator

from ..engine.executor import Execution
from ..engine.parallel import ParallelHead
from ..engine.sharing import SharedWork
from ..io.formats import InputConverter
from ..io.jsonl import EventReader
from ..plan.logical import Plan
from ..plan.physical import PhysicalPlan


class Pass:
    """Batches of one input pushed through several searches' Executions, as the physical plan says:
    one decode per batch for all searches, in this process or in worker processes that also run
    every search's stateless head."""

    def __init__(self, executions: list[Execution], reader: "EventReader | EventBatches", plan: PhysicalPlan,
                 paths: list[str], batch_size: int | None, input_format: str, shared: SharedWork | None = None):
        self.executions, self.reader, self.physical = executions, reader, plan
        self.shared = shared  # what the searches' executions share, cleared after each batch
        self.converter = executions[0].inputs if len(executions) == 1 else InputConverter(input_format)
        self.paths, self.batch_size = paths, batch_size
        self.input_format = input_format
        self.triage = None  # driver/triage.py, when --provenance or --why follows each batch

    @classmethod
    def start(cls, plans: list[Plan], emits: list[Callable], chosen: PhysicalPlan,
              reader: "EventReader | EventBatches", paths: list[str], batch_size: int | None, input_format: str,
              lateness: int = 0, traces: list | None = None) -> "Pass":
        """A pass of `plans` over `reader`, search i writing through `emits[i]`, each Execution with
        the early filters the physical plan found; several searches share their common work."""
        shared = SharedWork() if len(plans) > 1 else None
        traces = traces or [None] * len(plans)
        by_key = chosen.by_key or [frozenset()] * len(plans)
        executions = [Execution(plan, emit, input_format, early, lateness, trace, shared, viewed)
                      for plan, emit, early, trace, viewed in zip(plans, emits, chosen.early_filters, traces, by_key)]
        return cls(executions, reader, chosen, paths, batch_size, input_format, shared)

    def batches(self, on_bad_line: Callable[[str], None] | None, critical=nullcontext) -> Iterator[int]:
        """Pushes every batch through every search; yields the events each took once it is through,
        still inside `critical()`, so that a signal waits until the batch and its checkpoint are done."""
        executions = self.executions
        if self.physical.workers > 1:
            head = ParallelHead(executions, self.shared, self.physical, self.paths, self.batch_size, self.converter,
                                self.reader.decoder)
            for outputs in head.batches(self.reader.counters, on_bad_line):
                with critical():
                    head.push(outputs)
                    if self.shared is not None:
                        self.shared.clear()
                    self.reader.commit()
                    yield outputs.events
            return
        for events in self.reader.batches():
            with critical():
                converted = self.converter.convert(events)  # once, for every search
                if self.triage is not None:
                    self.triage.before_push(events, converted, executions[0].next_row_id, self.reader,
                                            self.input_format)
                for execution in executions:
                    execution.push_converted(converted)
                if self.shared is not None:
                    self.shared.clear()
                self.reader.commit()
                yield len(events)

    def finish(self) -> None:
        for execution in self.executions:
            execution.finish()




class EventBatches:
    """Events already in memory (the Python API's `Search.run(events)`) as the reader of a Pass:
    consecutive lists of `batch_size` of them, taken as the pass asks for them."""

    def __init__(self, events: Iterable[dict], batch_size: int):
        self.events, self.batch_size = iter(events), batch_size

    def batches(self) -> Iterator[list[dict]]:
        return iter(lambda: list(islice(self.events, self.batch_size)), [])

    def commit(self) -> None:
        """Nothing to remember: there is no place in a file to resume from."""
