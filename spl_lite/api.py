"""The Python API: compile a search once, run it over events or files, get records back.

    >>> from spl_lite import Search
    >>> search = Search.compile(open("searches/rare_parent_child_process_relationship.spl").read())
    >>> for record in search.run(events):          # any iterable of dicts
    ...     print(record["parent_process_name"], record["process_name"])
"""
from __future__ import annotations

from itertools import islice
from typing import Iterable, Iterator

from .errors import TOO_DEEP, SplError
from .io.jsonl import BATCH_SIZE, EventReader, expand_inputs
from .io.projection import decoder_for
from .parse import parse
from .plan import Plan, Planner
from .runtime.batch import Batch
from .runtime.executor import Execution


class Search:
    """A planned search. Compiling checks everything; running never re-parses."""

    def __init__(self, text: str, plan: Plan):
        self.text = text
        self.plan = plan

    @classmethod
    def compile(cls, text: str) -> "Search":
        """Parse, plan and compile; raises spl_lite.SplError (with `.render(text)`) on any problem."""
        try:
            plan = Planner(text).plan_program(parse(text))
            Execution(plan, lambda sink, batch: None)  # every expression compiles, before any event
        except RecursionError:
            raise SplError(
                TOO_DEEP, "the search nests too deeply to compile", hint="split the expression over several `eval`s"
            ) from None
        return cls(text, plan)

    def explain(self) -> str:
        return self.plan.explain()

    def run(self, events: Iterable[dict], batch_size: int = BATCH_SIZE, input_format: str = "auto") -> Iterator[dict]:
        """Records reaching every writing sink, in output order; events are consumed lazily.

        `input_format` is as for `spl-lite run --input-format` (spl_lite.io.formats.INPUT_FORMATS): by
        default raw Windows records are normalised and OCSF / enriched events converted as the source needs.
        """
        iterator = iter(events)
        return self._run(iter(lambda: list(islice(iterator, batch_size)), []), input_format)

    def run_files(self, paths: Iterable[str], batch_size: int | None = None,
                  input_format: str = "auto") -> Iterator[dict]:
        """Like run(), reading JSON lines (or EVTX) from files, globs or `-`; bad lines are skipped.
        Only the event keys the search reads are decoded where that is possible (spl_lite.io.projection)."""
        reader = EventReader(expand_inputs(paths), batch_size, projection=decoder_for([self.plan], input_format))
        return self._run(reader.batches(), input_format)

    def _run(self, batches: Iterable[list[dict]], input_format: str = "auto") -> Iterator[dict]:
        pending: list[Batch] = []
        execution = Execution(self.plan, lambda sink, batch: pending.append(batch), input_format)
        for events in batches:
            execution.push(events)
            yield from _drain(pending)
        execution.finish()
        yield from _drain(pending)


def _drain(pending: list[Batch]) -> Iterator[dict]:
    while pending:
        yield from pending.pop(0).records()
