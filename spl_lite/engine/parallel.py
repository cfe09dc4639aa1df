"""`--workers N`: decode events and run the stateless heads of the searches in N processes.

A search's head is the chain from the source up to its first stateful command or sink (`from`,
`eval`, `where`, `select`, ... before `conditional_anomaly` or `into`). Workers read byte ranges
of the input files themselves, so the main process never touches the raw lines. Each worker runs
every search's head over each batch it decodes, sharing their common work as one process does
(engine/sharing.py). The main process receives each range's head outputs in input order and pushes
them through each search's stateful rest and sinks, exactly as one process would. Row ids, line
numbers of bad lines and per-record error counts are renumbered or merged in the main process, so
the output is byte-identical to `--workers 1`. A library of detections is mostly filters that end
in a sink, so what crosses processes is the few records they keep.

When a search's first stateful command reads only some fields and the command after it is a
`where` that does not read what it sets (`conditional_anomaly ... | where process_name IN (...)`),
the workers apply that filter too: every row goes to the main process with the fields the stateful
command reads, the other fields only for the rows the filter keeps. The main process runs the
stateful command over all rows, as it must, and what it hands on is what `where` would have kept.

Deferred columns (keys decoded only where used, spl_lite/io/projection.py) travel as the file spans
of their rows' lines; the main process reads and decodes the lines of the rows still there when the
column is used.
"""
from __future__ import annotations

import os
from collections import deque
from itertools import islice
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Iterator

import numpy as np

from ..core.batch import Batch, DeferredColumn, ProjectedMaps, coded, encoding, object_column, take_rows, values_in_use
from ..io.formats import InputConverter
from ..io.decoding import Decoder, WholeDecoder
from ..io.framing import OverlongLine, byte_ranges, range_framer
from ..io.ocsf import DocumentsView
from ..io.jsonl import BATCH_SIZE, DECODE_BLOCK_BYTES, DECODE_BLOCK_LINES, PROJECTED_BATCH_SIZE
from ..io.projection import BlockGatherer
from ..plan.rules.stateless_head import PushedFilter, fields_after_head
from .executor import Execution
from .sharing import SharedWork

if TYPE_CHECKING:
    from ..io.projection import ProjectedDecoder
    from ..plan.physical import PhysicalPlan
    from .operator import Operator
# A range per task: large enough to amortise a task's costs and to fill batches of 16,384 events
# (measured on the reference: 16 MiB 15% faster than 4 MiB, 32 MiB 0.05 s faster than 16 per 1M
# events, 64 no faster than 32), small enough that every worker gets several (_TASKS_PER_WORKER).
CHUNK_BYTES = 32 << 20
_MIN_CHUNK_BYTES = 1 << 20
_TASKS_PER_WORKER = 4
# Ranges handed out but not yet taken by the main process: enough to keep every worker busy, few
# enough that results cannot pile up when the workers outpace the main process.
_TASKS_AHEAD_PER_WORKER = 2
# Projected events per batch in a worker running several searches: a range of CHUNK_BYTES of the
# usual events (~850 bytes) is one batch, not two, as each search pays a fixed cost per batch (the
# 136 corpus searches' heads over 300k events: 4.4 s in batches of 65,536, 4.8 s in 32,768).
_SHARED_RANGE_BATCH = 65536

# One search's head output for one batch, packed: the columns (`pack`), row ids local to the range,
# with a pushed filter the rows it keeps (columns other than the stateful command's inputs are sent
# for those rows only), and the masks of fields some records lack, over all rows.
PackedHead = tuple[dict, np.ndarray, "np.ndarray | None", dict[str, np.ndarray]]


@dataclass
class ChunkResult:
    """What a worker gives back for one byte range."""

    batches: list[tuple[int, list[PackedHead]]]  # per batch: its events, and every search's head output
    lines: int
    events: int
    bad_lines: list[tuple[int, str, bytes]]  # (line number within the range, reason, raw line)
    record_errors: list[tuple[int, dict[str, int]]]  # per search: the count and the examples
    inputs: InputConverter | None = None  # this range's raw records normalised / skipped (io/formats.py)


# ---- worker side ----
_worker: dict = {}


def _start_worker(executions: list[Execution], shared: SharedWork | None, physical: "PhysicalPlan",
                  batch_size: int | None, input_format: str) -> None:
    """A worker's set-up, in the forked copy of the main process: the main process's executions and
    their shared work, built and not yet run, serve as they are (a library's 136 searches take 0.3 s
    to build); only their heads run here, which reach no sink."""
    _worker["shared"] = shared
    _worker["input_format"] = input_format
    _worker["searches"] = [
        (execution, last, _HeadSending(pushed, None if pushed is None else execution.operators[pushed.where_id],
                                       fields_after_head(execution.plan, last)))
        for execution, last, pushed in zip(executions, physical.heads, physical.pushed)]
    decoder = _worker["decoder"] = physical.reading.decoder(input_format)
    reading = physical.reading
    # Batches as the one-process reader makes them (io/jsonl.py EventReader), but with several
    # searches a range's projected events in one batch where they fit in _SHARED_RANGE_BATCH.
    if decoder.keys is None:
        _worker["batch_size"] = batch_size or reading.whole_batch_size
    else:
        _worker["batch_size"] = batch_size or (_SHARED_RANGE_BATCH if len(executions) > 1 else reading.projected_batch_size)


def _run_range(task: tuple[str, int, int]) -> ChunkResult:
    path, start, end = task
    searches, shared = _worker["searches"], _worker["shared"]
    for execution, *_ in searches:
        execution.record_errors.reset()
    result = ChunkResult([], 0, 0, [], [], InputConverter(_worker["input_format"]))
    with open(path, "rb") as handle:
        for events, bad, lines in _range_events(handle, start, end, _worker["decoder"], _worker["batch_size"]):
            result.bad_lines.extend(bad)
            result.lines += lines
            # Lines become the sources' shape; skipped raw records leave gaps in the row ids, which is harmless.
            converted = result.inputs.convert(events)
            heads = [sending.packed(execution.run_head(converted, result.events, last))
                     for execution, last, sending in searches]
            if shared is not None:
                shared.clear()
            result.batches.append((len(events), heads))
            result.events += len(events)
    result.record_errors = [(execution.record_errors.count, dict(execution.record_errors.examples))
                            for execution, *_ in searches]
    return result


@dataclass(frozen=True)
class _HeadSending:
    """What of a search's head output a worker sends: with a pushed filter (`pushed`, built as
    `where`), all rows of the stateful command's inputs and the kept rows of the rest; without,
    the fields the rest of the plan can see (`fields`, None: all)."""

    pushed: PushedFilter | None
    where: "Operator | None"
    fields: frozenset[str] | None

    def packed(self, batch: Batch) -> PackedHead:
        pushed = self.pushed
        if pushed is None:
            if self.fields is not None:
                batch = Batch({name: column for name, column in batch.columns.items() if name in self.fields},
                              batch.row_ids, {name: mask for name, mask in batch.absent.items() if name in self.fields})
            return pack(batch), batch.row_ids, None, batch.absent
        kept = np.flatnonzero(self.where.keep(batch)) if batch.length else np.empty(0, np.intp)
        parts = {name: column if name in pushed.reads else take_rows(column, kept) for name, column in batch.columns.items()}
        return pack(Batch(parts, batch.row_ids)), batch.row_ids, kept, batch.absent


_WHOLE = WholeDecoder()


def _range_events(handle: BinaryIO, start: int, end: int, decoder: Decoder, batch_size: int | None
                  ) -> Iterator[tuple["list[dict] | ProjectedMaps", list[tuple[int, str, bytes]], int]]:
    """The range's events in batches, as EventReader makes them, with the bad lines (numbered from the
    range's start) and the lines each covers: a projecting decoder's blocks gathered several to a
    batch, a block it declines (or, without one, every block) decoded whole; an overlong line is a
    bad line of its own."""
    projecting = decoder.keys is not None
    gathered = BlockGatherer(batch_size or PROJECTED_BATCH_SIZE) if projecting else None
    lines = min(gathered.rows, DECODE_BLOCK_LINES) if projecting else batch_size or BATCH_SIZE
    for item in range_framer(handle, start, end, lines, DECODE_BLOCK_BYTES if projecting else None).read(handle, end):
        if item.__class__ is OverlongLine:
            yield from _take(gathered)
            yield [], [(item.line_no, item.reason, b"")], 1
            continue
        decoded = decoder.decode(item) if projecting else None
        if decoded is not None:
            batch = gathered.add(decoded.events)
            if batch is not None:
                yield batch, [], len(batch)
            continue
        yield from _take(gathered)
        yield *_WHOLE.decode(item), item.line_count()
    yield from _take(gathered)


def _take(gathered: BlockGatherer | None) -> Iterator[tuple[ProjectedMaps, list, int]]:
    batch = None if gathered is None else gathered.take()
    if batch is not None:
        yield batch, [], len(batch)


# ---- transfer encoding ----
def pack(batch: Batch) -> dict:
    """Columns in a form cheap to pickle: all-int columns as int64 arrays, repetitive strings as
    (distinct values, codes). Unpickling a million copies of the same few hundred process names
    would otherwise cost the main process more than the stateful work itself. A column the head
    already dictionary-encoded is sent as it is encoded; the main process gets it back encoded, which
    its conditional_anomaly and membership tests use."""
    return {name: _pack_column(column) for name, column in batch.columns.items()}


def _pack_column(column) -> tuple:
    if not len(column):
        return _EMPTY  # most heads keep no record of most batches
    if column.__class__ is DeferredColumn:
        # Sent as where its lines are in the file: the main process reads the lines of the
        # records that reach the column's use (few, after its filters), not the workers all.
        starts, ends = column.lines.spans(column.rows)
        return ("lines", column.key, column.steps, starts, ends)
    if column.__class__ is ProjectedMaps:
        # Events decoded for some keys (a sink may write them whole: events_late): the keys decoded
        # so far, and where the lines are for the deferred keys and the events themselves.
        spans = None if column.deferred is None else column.deferred.spans(column.line_rows())
        keys = {key: _pack_column(column.key(key)) for key in column.keys()}
        return ("maps", keys, len(column), spans, column.events_late)
    if column.__class__ is DocumentsView:
        # OCSF documents read by key: the events of its rows, from which the main process makes
        # the same view (their documents are built there only for records a sink writes).
        events, path = column.made_of()
        if events.__class__ is ProjectedMaps:
            return ("documents", _pack_column(events), path)
        return ("documents", ("raw", object_column(events)), path)
    encoded = encoding(column)
    if encoded is not None:
        values, codes = values_in_use(*encoded)
        return ("dict", values.tolist(), codes.astype(np.int32))
    values = column.tolist()
    kinds = set(map(type, values))
    if kinds == {int} and _fits_int64(values):
        return ("int", np.array(values, dtype=np.int64))
    if kinds == {str} and len(set(values[:_SAMPLE])) * 2 < min(len(values), _SAMPLE):
        index: dict[str, int] = {}
        codes = [index.setdefault(v, len(index)) for v in values]
        return ("dict", list(index), np.array(codes, dtype=np.int32))
    return ("raw", np.asarray(column))


_EMPTY = ("raw", np.empty(0, dtype=object))
# Rows whose distinct count decides whether a string column is worth dictionary-encoding.
_SAMPLE = 256


def _fits_int64(values: list[int]) -> bool:
    return -(2**63) <= min(values) and max(values) < 2**63


def unpack(packed: dict, path: str = "", projection: "ProjectedDecoder | None" = None) -> dict[str, np.ndarray]:
    """The columns `pack` sent; deferred ones read their lines from `path` with the `projection`'s
    late decoder, the columns of one batch sharing the lines they read."""
    unpacker = _Unpacker(path, projection)
    return {name: unpacker.column(entry) for name, entry in packed.items()}


class _Unpacker:
    def __init__(self, path: str, projection: "ProjectedDecoder | None"):
        self.path, self.projection = path, projection
        self._lines = None  # the lines read last, for columns over the same spans

    def lines(self, starts: np.ndarray, ends: np.ndarray):
        lines = self._lines
        if lines is None or not (np.array_equal(lines.starts, starts) and np.array_equal(lines.ends, ends)):
            lines = self._lines = self.projection.file_lines(self.path, starts, ends)
        return lines

    def column(self, entry: tuple):
        kind, *data = entry
        if kind == "lines":
            key, steps, starts, ends = data
            return DeferredColumn(self.lines(starts, ends), np.arange(len(starts)), key, steps)
        if kind == "maps":
            keys, length, spans, events_late = data
            values = {key: self.column(packed) for key, packed in keys.items()}
            lines = None if spans is None else self.lines(*spans)
            return ProjectedMaps(values, length, lines, events_late=events_late)
        if kind == "documents":
            packed_events, path = data
            events = self.column(packed_events)
            return DocumentsView.remade(events if events.__class__ is ProjectedMaps else events.tolist(), path)
        if kind == "int":
            return np.fromiter(data[0].tolist(), dtype=object, count=len(data[0]))
        if kind == "dict":
            distinct, codes = data
            return coded(np.fromiter(distinct, dtype=object, count=len(distinct)), codes)
        return data[0]


# ---- main side ----
class ParallelHead:
    """Runs the searches' heads in a pool; `batches` yields their output in input order, `push`
    hands each piece to the main process's executions."""

    def __init__(self, executions: list[Execution], shared: SharedWork | None, physical: "PhysicalPlan",
                 paths: list[str], batch_size: int | None, inputs: InputConverter | None = None,
                 decoder: Decoder | None = None):
        self.inputs = inputs or InputConverter()  # takes the workers' conversion counts
        # Workers build their own decoder from the reading (msgspec schemas are made at run time).
        self.decoder = decoder or WholeDecoder()  # also reads, in this process, the lines of deferred columns
        self.executions, self.shared, self.physical, self.paths = executions, shared, physical, paths
        self.batch_size = batch_size

    def batches(self, counters, on_bad_line) -> Iterator[HeadOutputs]:
        """Head outputs with global row ids; `counters` (ReadCounters), bad-line reports and each
        search's `record_errors` are updated as ranges complete, in order."""
        workers = self.physical.workers
        total = sum(os.path.getsize(path) for path in self.paths)
        size = min(CHUNK_BYTES, max(_MIN_CHUNK_BYTES, total // (_TASKS_PER_WORKER * workers)))
        tasks = [(path, start, end) for path in self.paths for start, end in byte_ranges(path, size)]
        setup = (self.executions, self.shared, self.physical, self.batch_size, self.inputs.input_format)
        # Imported here: a run in one process needs none of it.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # A process pool that notices a worker dying (BrokenProcessPool) instead of waiting forever.
        with ProcessPoolExecutor(workers, multiprocessing.get_context("fork"), _start_worker, setup) as pool:
            line_base: dict[str, int] = {}
            for (path, _, _), result in _in_order(pool, tasks, _TASKS_AHEAD_PER_WORKER * workers):
                first_line = line_base.get(path, 0)
                line_base[path] = first_line + result.lines
                for line_no, reason, _ in result.bad_lines:
                    counters.bad_lines += 1
                    if on_bad_line:
                        on_bad_line(f"{path}:{first_line + line_no}: {reason}")
                for execution, (count, examples) in zip(self.executions, result.record_errors):
                    execution.record_errors.merge(count, examples)
                self.inputs.merge(result.inputs)
                first_row_id = counters.events
                counters.lines += result.lines
                counters.events += result.events
                for events, heads in result.batches:
                    yield HeadOutputs(events, [
                        HeadOutput(unpack(packed, path, self.decoder), row_ids + first_row_id, kept, absent)
                        for packed, row_ids, kept, absent in heads])

    def push(self, outputs: HeadOutputs) -> None:
        """Run the rest of each search on its head's output, in the main process."""
        physical = self.physical
        for execution, last, pushed, output in zip(self.executions, physical.heads, physical.pushed, outputs.searches):
            if output.kept is None:
                execution.push_after(last, Batch(output.columns, output.row_ids, output.absent))
                continue
            kept = output.kept
            absent = {name: mask for name, mask in output.absent.items() if name in pushed.reads}
            inputs = Batch({name: output.columns[name] for name in pushed.reads}, output.row_ids, absent)
            scored = execution.operators[pushed.stateful_id].process_keeping(inputs, kept).columns  # every row counts
            columns = {name: scored[name] if name in scored else output.columns[name] for name in pushed.head_fields}
            for name, column in scored.items():
                columns.setdefault(name, column)
            kept_absent = {name: mask[kept] for name, mask in output.absent.items() if name in columns}
            execution.push_after(pushed.where_id, Batch(columns, output.row_ids[kept], kept_absent))


def _in_order(pool, tasks: list, ahead: int) -> Iterator[tuple[tuple, ChunkResult]]:
    """(task, result) in task order, with at most `ahead` tasks submitted and not yet yielded
    (mapping over all tasks at once would run them as fast as the workers can and keep every result)."""
    from concurrent.futures.process import BrokenProcessPool

    remaining = iter(tasks)
    running = deque((task, pool.submit(_run_range, task)) for task in islice(remaining, ahead))
    workers = _worker_processes(pool, {})
    while running:
        task, result = running.popleft()
        following = next(remaining, None)
        if following is not None:
            running.append((following, pool.submit(_run_range, following)))
            workers = _worker_processes(pool, workers)
        try:
            yield task, result.result()
        except BrokenProcessPool:
            raise WorkerDied(f"{_how_workers_ended(workers)} while {task[0]} bytes {task[1]:,}-{task[2]:,} "
                             "were being read; `--workers 1` reads in this process") from None


def _worker_processes(pool, known: dict) -> dict:
    """The pool's worker processes seen so far: a dead one leaves the pool's own table, so keep them."""
    return {**known, **(getattr(pool, "_processes", None) or {})}


def _how_workers_ended(workers: dict) -> str:
    """What became of the worker that died: its signal (SIGKILL is most often the kernel's
    out-of-memory killer) or its exit code. The pool may notice the death before the process is
    reaped, so this waits for an exit status a little."""
    import signal
    import time

    deadline = time.monotonic() + 1.0
    while True:
        for pid, process in workers.items():
            code = process.exitcode
            if code is not None and code < 0:
                number = -code
                name = signal.Signals(number).name if number in signal.valid_signals() else f"signal {number}"
                cause = " (out of memory?)" if number == signal.SIGKILL else ""
                return f"worker process {pid} was killed by {name}{cause}"
            if code:
                return f"worker process {pid} exited with code {code}"
        if time.monotonic() > deadline:
            return "a worker process died"
        time.sleep(0.02)


class WorkerDied(RuntimeError):
    """A worker process ended without handing back its range."""


@dataclass
class HeadOutput:
    """One search's head output for one batch as received: with a pushed filter, the columns other
    than the stateful command's inputs hold only the `kept` rows."""

    columns: dict[str, np.ndarray]
    row_ids: np.ndarray
    kept: np.ndarray | None
    absent: dict[str, np.ndarray]  # over all rows: the fields some records lack (`from source`)


@dataclass
class HeadOutputs:
    """Every search's head output for one batch of `events` events."""

    events: int
    searches: list[HeadOutput]
