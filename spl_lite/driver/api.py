"""The Python API: compile a search once, run it over events or files, get records back.

    >>> from spl_lite import Search
    >>> search = Search.compile(open("searches/rare_parent_child_process_relationship.spl").read())
    >>> for record in search.run(events):          # any iterable of dicts
    ...     print(record["parent_process_name"], record["process_name"])
"""
from __future__ import annotations

from typing import Iterable, Iterator

from ..core.errors import BAD_ARGUMENT, TOO_DEEP, SplError
from ..io.jsonl import BATCH_SIZE, EventReader, expand_inputs
from ..plan import physical
from ..plan.logical import Plan
from ..plan.physical import PhysicalPlan
from ..plan.program import plan_text
from ..core.batch import Batch
from ..engine.executor import Execution
from .passes import EventBatches, Pass


class Search:
    """A planned search. Compiling checks everything; running never re-parses."""

    def __init__(self, text: str, plan: Plan):
        self.text = text
        self.plan = plan

    @classmethod
    def compile(cls, text: str) -> "Search":
        """Parse, plan and compile; raises spl_lite.SplError (with `.render(text)`) on any problem."""
        try:
            plan = plan_text(text)
            Execution(plan, lambda sink, batch: None)  # every expression compiles, before any event
        except RecursionError:
            raise SplError(
                TOO_DEEP, "the search nests too deeply to compile", hint="split the expression over several `eval`s"
            ) from None
        except OverflowError as error:  # e.g. /a{4294967295}/: Python's re takes repetitions below 2**32 - 1
            raise SplError(BAD_ARGUMENT, f"a number in the search is too large ({error})") from None
        return cls(text, plan)

    def explain(self) -> str:
        return self.plan.explain()

    def run(self, events: Iterable[dict], batch_size: int = BATCH_SIZE, input_format: str = "auto") -> "Records":
        """Records reaching every writing sink, in output order; events are consumed lazily.

        `input_format` is as for `spl-lite run --input-format` (spl_lite.io.formats.INPUT_FORMATS): by
        default raw Windows records are normalised and OCSF / enriched events converted as the source needs.
        """
        chosen = physical.choose([self.plan], input_format, whole_events=True)  # they are dicts already
        return Records(self.plan, chosen, EventBatches(events, batch_size), [], batch_size, input_format)

    def run_files(self, paths: Iterable[str], batch_size: int | None = None, input_format: str = "auto",
                  workers: int | None = 1) -> "Records":
        """Like run(), reading JSON lines (or EVTX) from files, globs or `-`; bad lines are skipped.
        The physical plan decides how they are read (only the keys the search reads, where possible)
        and whether `workers` processes (None: one per core for plain files over 64 MiB) run its head,
        exactly as `spl-lite run --workers` does; the records are the same for any number of workers."""
        paths = expand_inputs(paths)
        chosen = physical.choose([self.plan], input_format, workers=workers, paths=paths)
        reader = EventReader(paths, batch_size, decoder=chosen.reading.decoder(input_format))
        return Records(self.plan, chosen, reader, paths, batch_size, input_format)


class Records(Iterator[dict]):
    """The records of one run, produced as they are iterated; `record_errors` counts the values of
    this run that could not be computed and were set to null (spec 5.2)."""

    def __init__(self, plan: Plan, chosen: PhysicalPlan, reader, paths: list[str], batch_size: int | None,
                 input_format: str):
        self._pending: list[Batch] = []
        self._pass = Pass.start([plan], [lambda sink, batch: self._pending.append(batch)], chosen, reader, paths,
                                batch_size, input_format)
        self.record_errors = self._pass.executions[0].record_errors
        self._records = self._produce()

    def __next__(self) -> dict:
        return next(self._records)

    def _produce(self) -> Iterator[dict]:
        for _ in self._pass.batches(None):
            yield from self._drain()
        self._pass.finish()
        yield from self._drain()

    def _drain(self) -> Iterator[dict]:
        while self._pending:
            yield from self._pending.pop(0).records()
