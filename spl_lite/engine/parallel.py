"""`--workers N`: decode events and run the stateless head of a plan in N processes.

The head is the chain from the source up to the first stateful command (`from`, `eval`, `where`,
`select`, ... before `conditional_anomaly`). Workers read byte ranges of the input files
themselves, so the main process never touches the raw lines; it receives each range's head
output in input order and pushes it through the stateful rest, exactly as one process would.
Row ids, line numbers of bad lines and per-record error counts are renumbered or merged in the
main process, so the output is byte-identical to `--workers 1`.

When the first stateful command reads only some fields and the command after it is a `where` that
does not read what it sets (`conditional_anomaly ... | where process_name IN (...)`), the workers
apply that filter too: every row goes to the main process with the fields the stateful command
reads, the other fields only for the rows the filter keeps. The main process runs the stateful
command over all rows, as it must, and what it hands on is what `where` would have kept.

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

from ..core.batch import Batch, DeferredColumn, ProjectedMaps, coded, encoding, take_rows, values_in_use
from ..io.formats import InputConverter
from ..io.decoding import Decoder, WholeDecoder
from ..io.framing import OverlongLine, byte_ranges, range_framer
from ..io.jsonl import BATCH_SIZE, DECODE_BLOCK_BYTES, DECODE_BLOCK_LINES, PROJECTED_BATCH_SIZE
from ..io.projection import BlockGatherer, decoder_for
from ..io.sources import SOURCES
from ..plan.logical import Plan
from ..plan.rules.stateless_head import PushedFilter
from .expressions import RecordErrors, counting_errors_in
from .operators import build

if TYPE_CHECKING:
    from ..io.projection import ProjectedDecoder
# A range per task: large enough to amortise a task's costs and to fill batches of 16,384 events
# (measured on the reference: 16 MiB 15% faster than 4 MiB, 32 MiB 0.05 s faster than 16 per 1M
# events, 64 no faster than 32), small enough that every worker gets several (_TASKS_PER_WORKER).
CHUNK_BYTES = 32 << 20
_MIN_CHUNK_BYTES = 1 << 20
_TASKS_PER_WORKER = 4
# Ranges handed out but not yet taken by the main process: enough to keep every worker busy, few
# enough that results cannot pile up when the workers outpace the main process.
_TASKS_AHEAD_PER_WORKER = 2


@dataclass
class ChunkResult:
    """What a worker gives back for one byte range."""

    # Packed head output, row ids local to the range, and with a pushed filter the rows it keeps
    # (columns other than the stateful command's inputs are sent for those rows only).
    # (and the masks of fields some records lack, over all rows)
    batches: list[tuple[dict, np.ndarray, np.ndarray | None, dict[str, np.ndarray]]]
    lines: int
    events: int
    bad_lines: list[tuple[int, str, bytes]]  # (line number within the range, reason, raw line)
    record_errors: int
    record_error_examples: dict[str, int]
    inputs: InputConverter | None = None  # this range's raw records normalised / skipped (io/formats.py)


# ---- worker side ----
_worker: dict = {}


def _start_worker(plan: Plan, head_last: int, batch_size: int | None, input_format: str, projected_keys,
                  deferred_keys, pushed: PushedFilter | None, by_key: bool = False) -> None:
    errors = RecordErrors()
    _worker["errors"] = errors
    _worker["input_format"] = input_format
    _worker["pushed"] = pushed
    nodes = plan.nodes[: head_last + 1]
    with counting_errors_in(errors):
        _worker["filter"] = None if pushed is None else build(plan.nodes[pushed.where_id], None)
        _worker["operators"] = [(build(n, None), n.uses()) for n in nodes]
    _worker["decoder"] = decoder_for(projected_keys, input_format, deferred_keys)
    _worker["source"] = SOURCES[nodes[0].name]
    _worker["batch_size"] = batch_size
    _worker["by_key"] = by_key


def _run_range(task: tuple[str, int, int]) -> ChunkResult:
    path, start, end = task
    errors = _worker["errors"]
    errors.reset()
    source, operators = _worker["source"], _worker["operators"]
    result = ChunkResult([], 0, 0, [], 0, {}, InputConverter(_worker["input_format"]))
    with open(path, "rb") as handle:
        for events, bad, lines in _range_events(handle, start, end, _worker["decoder"], _worker["batch_size"]):
            result.bad_lines.extend(bad)
            result.lines += lines
            # Lines become the source's shape; skipped raw records leave gaps in the row ids, which is harmless.
            converted = result.inputs.convert(events)
            batch = converted.records(source, result.events, _worker["by_key"])
            result.events += len(events)
            for operator, uses in operators[1:]:
                batch = operator.process(batch.decoded(uses))
            if _worker["pushed"] is None:
                result.batches.append((pack(batch), batch.row_ids, None, batch.absent))
                continue
            kept = np.flatnonzero(_worker["filter"].keep(batch)) if batch.length else np.empty(0, np.intp)
            reads = _worker["pushed"].reads
            parts = {name: column if name in reads else take_rows(column, kept) for name, column in batch.columns.items()}
            result.batches.append((pack(Batch(parts, batch.row_ids)), batch.row_ids, kept, batch.absent))
    result.record_errors = errors.count
    result.record_error_examples = dict(errors.examples)
    return result


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
    packed = {}
    for name, column in batch.columns.items():
        if column.__class__ is DeferredColumn:
            # Sent as where its lines are in the file: the main process reads the lines of the
            # records that reach the column's use (few, after its filters), not the workers all.
            starts, ends = column.lines.spans(column.rows)
            packed[name] = ("lines", column.key, column.steps, starts, ends)
            continue
        encoded = encoding(column)
        if encoded is not None:
            values, codes = values_in_use(*encoded)
            packed[name] = ("dict", values.tolist(), codes.astype(np.int32))
            continue
        values = column.tolist()
        kinds = set(map(type, values))
        if kinds == {int} and _fits_int64(values):
            packed[name] = ("int", np.array(values, dtype=np.int64))
            continue
        if kinds == {str} and len(set(values[:_SAMPLE])) * 2 < min(len(values), _SAMPLE):
            index: dict[str, int] = {}
            codes = [index.setdefault(v, len(index)) for v in values]
            packed[name] = ("dict", list(index), np.array(codes, dtype=np.int32))
            continue
        packed[name] = ("raw", np.asarray(column))
    return packed


# Rows whose distinct count decides whether a string column is worth dictionary-encoding.
_SAMPLE = 256


def _fits_int64(values: list[int]) -> bool:
    return -(2**63) <= min(values) and max(values) < 2**63


def unpack(packed: dict, path: str = "", projection: "ProjectedDecoder | None" = None) -> dict[str, np.ndarray]:
    """The columns `pack` sent; deferred ones read their lines from `path` with the `projection`'s
    late decoder, the columns of one batch sharing the lines they read."""
    columns = {}
    lines = None
    for name, (kind, *data) in packed.items():
        if kind == "lines":
            key, steps, starts, ends = data
            if lines is None or not (np.array_equal(lines.starts, starts) and np.array_equal(lines.ends, ends)):
                lines = projection.file_lines(path, starts, ends)
            columns[name] = DeferredColumn(lines, np.arange(len(starts)), key, steps)
        elif kind == "int":
            columns[name] = np.fromiter(data[0].tolist(), dtype=object, count=len(data[0]))
        elif kind == "dict":
            distinct, codes = data
            columns[name] = coded(np.fromiter(distinct, dtype=object, count=len(distinct)), codes)
        else:
            columns[name] = data[0]
    return columns


# ---- main side ----
class ParallelHead:
    """Runs the head in a pool; `batches` yields its output in input order, `push` hands each
    piece to the main process's execution."""

    def __init__(
        self, plan: Plan, head_last: int, paths: list[str], workers: int, batch_size: int | None,
        inputs: InputConverter | None = None, decoder: Decoder | None = None,
        pushed: PushedFilter | None = None, by_key: bool = False,
    ):
        self.inputs = inputs or InputConverter()  # takes the workers' conversion counts
        # Workers build their own decoder from the keys (msgspec schemas are made at run time).
        self.decoder = decoder or WholeDecoder()  # also reads, in this process, the lines of deferred columns
        self.projected_keys, self.deferred_keys = self.decoder.keys, self.decoder.deferred
        self.plan, self.head_last, self.paths = plan, head_last, paths
        self.workers, self.batch_size = workers, batch_size
        self.pushed = pushed
        self.by_key = by_key  # the head reads its source's OCSF documents by key (plan/rules/documents_by_key.py)

    def batches(self, counters, on_bad_line, record_errors: RecordErrors) -> Iterator[HeadOutput]:
        """Head output with global row ids; `counters` (ReadCounters), bad-line reports and
        `record_errors` are updated as ranges complete, in order."""
        total = sum(os.path.getsize(path) for path in self.paths)
        size = min(CHUNK_BYTES, max(_MIN_CHUNK_BYTES, total // (_TASKS_PER_WORKER * self.workers)))
        tasks = [(path, start, end) for path in self.paths for start, end in byte_ranges(path, size)]
        setup = (self.plan, self.head_last, self.batch_size, self.inputs.input_format, self.projected_keys,
                 self.deferred_keys, self.pushed, self.by_key)
        # Imported here: a run in one process needs none of it.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # A process pool that notices a worker dying (BrokenProcessPool) instead of waiting forever.
        with ProcessPoolExecutor(self.workers, multiprocessing.get_context("fork"), _start_worker, setup) as pool:
            line_base: dict[str, int] = {}
            for (path, _, _), result in _in_order(pool, tasks, _TASKS_AHEAD_PER_WORKER * self.workers):
                first_line = line_base.get(path, 0)
                line_base[path] = first_line + result.lines
                for line_no, reason, _ in result.bad_lines:
                    counters.bad_lines += 1
                    if on_bad_line:
                        on_bad_line(f"{path}:{first_line + line_no}: {reason}")
                record_errors.merge(result.record_errors, result.record_error_examples)
                self.inputs.merge(result.inputs)
                first_row_id = counters.events
                counters.lines += result.lines
                counters.events += result.events
                for packed, row_ids, kept, absent in result.batches:
                    yield HeadOutput(unpack(packed, path, self.decoder), row_ids + first_row_id, kept, absent)

    def push(self, execution, output: HeadOutput) -> None:
        """Run the rest of the plan on one piece of head output, in the main process."""
        if output.kept is None:
            execution.push_after(self.head_last, Batch(output.columns, output.row_ids, output.absent))
            return
        pushed, kept = self.pushed, output.kept
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
    """One batch of head output as received: with a pushed filter, the columns other than the
    stateful command's inputs hold only the `kept` rows."""

    columns: dict[str, np.ndarray]
    row_ids: np.ndarray
    kept: np.ndarray | None
    absent: dict[str, np.ndarray]  # over all rows: the fields some records lack (`from source`)

    @property
    def length(self) -> int:
        return len(self.row_ids)
