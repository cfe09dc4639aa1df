"""The `spl-lite` command: run, check and explain searches."""
from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
import time
from pathlib import Path
from typing import BinaryIO, TextIO

EXIT_OK = 0
EXIT_SEARCH_ERROR = 1  # the search does not parse or plan; a diagnostic was printed
EXIT_USAGE = 2  # bad command-line arguments (argparse's own code)
EXIT_INPUT_ERROR = 3  # an input file is missing or unreadable, or output cannot be written
EXIT_INTERNAL = 4  # a bug in spl-lite: the message asks for a report
EXIT_INTERRUPTED = 130

_COLLECT_EVERY = 500  # batches between cyclic collections while running

_EPILOG = """\
examples:
  spl-lite run searches/rare_parent_child_process_relationship.spl --input examples/process_creation.jsonl
  spl-lite run my.spl --input 'logs/**/*.jsonl.gz' --output detections.jsonl
  zcat events.jsonl.gz | spl-lite run my.spl --input -
  spl-lite check searches/*.spl
  spl-lite check --json searches/*.spl
  spl-lite explain searches/rare_parent_child_process_relationship.spl

exit codes:
  0 ok   1 the search has an error   2 bad arguments   3 unreadable input or output
  4 internal error (please report)   130 interrupted
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spl-lite",
        description="Run Splunk DSP / SPL2 detection searches over JSON-lines event files.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run a search over events",
        description="Run SEARCH over the events in --input and write the records its sinks receive "
        "as JSON lines. Each input line is one enriched event (a flat JSON object) or a record "
        "with an `input_event` object.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("search", help="file holding the search text (`-` for standard input)")
    run.add_argument(
        "-i", "--input", nargs="+", required=True, metavar="PATH",
        help="event files: JSON lines, gzip allowed, globs expanded, `-` for standard input",
    )
    run.add_argument("-o", "--output", default="-", metavar="PATH", help="where records go (default: standard output)")
    run.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="progress line and summary on stderr (default: only when stderr is a terminal)",
    )
    run.add_argument("--batch-size", type=int, default=2048, metavar="N", help="events per batch (default 2048)")
    run.add_argument(
        "--workers", type=int, default=None, metavar="N",
        help="processes that decode events and run the stateless start of the search; the output is "
        "identical for any N (default: one per core for plain files over 64 MiB, else 1)",
    )

    check = commands.add_parser(
        "check",
        help="parse and plan searches, report problems",
        description="Parse and plan each FILE without reading events. Exit 1 if any has an error. "
        "A directory stands for every *.spl under it; a .jsonl file holds one search per line in "
        "its `search` field (the corpus format) and is reported per line.",
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--json", action="store_true", help="one JSON object per file instead of text")

    explain = commands.add_parser(
        "explain", help="print the plan of a search", description="Print the plan: one node per line with its fields."
    )
    explain.add_argument("search", metavar="FILE")
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Generated searches nest deeply (a `+` chain of hundreds of terms); Python's default of 1000
    # frames is too little for them, and anything deeper still gets a diagnostic, not a traceback.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "check":
            return _check(args)
        return _explain(args)
    except KeyboardInterrupt:
        print("spl-lite: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours; silence Python's own complaint.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _read_search(path: str) -> str:
    from .errors import BAD_INPUT, SplError

    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SplError(BAD_INPUT, f"cannot read search `{path}`: {getattr(error, 'strerror', None) or error}") from None


def _compile(path: str):
    """(Search, None) or (None, exit code) after printing the diagnostic."""
    from .api import Search
    from .errors import BAD_INPUT, SplError

    text = None
    try:
        text = _read_search(path)
        return Search.compile(text), None
    except SplError as error:
        print(error.render(text, path), file=sys.stderr)
        return None, EXIT_INPUT_ERROR if error.code == BAD_INPUT else EXIT_SEARCH_ERROR


def _check_targets(paths: list[str]):
    """(label, text or None, extra JSON fields, read error or None) for each search to check.

    A directory means every `*.spl` under it; a `.jsonl` file holds one search per line in its
    `search` field (the corpus format), labelled `file.jsonl:LINE`.
    """
    import orjson

    from .errors import BAD_INPUT, SplError

    for path in paths:
        target = Path(path)
        if target.is_dir():
            yield from _check_targets([str(p) for p in sorted(target.rglob("*.spl"))])
        elif target.suffix == ".jsonl":
            try:
                lines = target.read_bytes().splitlines()
            except OSError as error:
                yield path, None, {}, SplError(BAD_INPUT, f"cannot read `{path}`: {error.strerror}")
                continue
            for line_no, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    entry = orjson.loads(line)
                    text = entry["search"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    yield f"{path}:{line_no}", None, {}, SplError(BAD_INPUT, "not a JSON object with a `search` field")
                    continue
                extra = {k: entry[k] for k in ("id", "slug", "generation") if k in entry}
                yield f"{path}:{line_no}", text, extra, None
        else:
            try:
                yield path, _read_search(path), {}, None
            except SplError as error:
                yield path, None, {}, error


def _check(args) -> int:
    import orjson

    from .api import Search
    from .errors import SplError

    failed = False
    for label, text, extra, error in _check_targets(args.files):
        if error is None:
            try:
                Search.compile(text)
            except SplError as found:
                error = found
        failed |= error is not None
        if args.json:
            record = {"path": label, **extra, "ok": error is None, "diagnostics": [error.to_json()] if error else []}
            sys.stdout.write(orjson.dumps(record).decode() + "\n")
        elif error is not None:
            print(error.render(text, label), file=sys.stderr)
        else:
            print(f"{label}: ok")
    return EXIT_SEARCH_ERROR if failed else EXIT_OK


def _explain(args) -> int:
    search, code = _compile(args.search)
    if search is None:
        return code
    print(search.explain())
    return EXIT_OK


def _run(args) -> int:
    from .errors import SplError
    from .io.jsonl import EventReader, encode_record, expand_inputs
    from .runtime.executor import Execution
    from .runtime.parallel import ParallelHead

    search, code = _compile(args.search)
    if search is None:
        return code
    try:
        paths = expand_inputs(args.input)
        output = _open_output(args.output)
    except SplError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_INPUT_ERROR

    reporter = _Reporter(args.progress if args.progress is not None else sys.stderr.isatty(), sys.stderr)
    reader = EventReader(paths, args.batch_size, on_bad_line=reporter.warn)

    def write(sink: str, batch) -> None:
        output.write(b"".join(encode_record(record) for record in batch.records()))
        output.flush()  # what was detected is on disk even if a later line kills the run

    execution = Execution(search.plan, write)
    workers, head_last = _parallelism(args.workers, search.plan, paths)
    exit_code = EXIT_OK
    # Decoded events form no reference cycles, yet every batch of fresh dicts would trigger the
    # cyclic collector over and over (a third of the run time); collect on our own schedule instead.
    gc.freeze()
    gc.disable()
    try:
        if workers > 1:
            head = ParallelHead(search.plan, head_last, paths, workers, args.batch_size)
            batches = head.batches(reader.counters, reporter.warn)
            push = functools.partial(execution.push_after, head_last)
        else:
            batches, push = reader.batches(), execution.push
        for batch_no, batch in enumerate(batches, 1):
            push(batch)
            reporter.progress(reader.counters.events, execution.records_out)
            if batch_no % _COLLECT_EVERY == 0:
                gc.collect()
        execution.finish()
    except SplError as error:
        print(error.render(), file=sys.stderr)
        exit_code = EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        exit_code = EXIT_INTERRUPTED
    except Exception as error:  # a bug: keep what was written, say how to report it
        print(f"spl-lite: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        print("spl-lite: records written so far are complete; please report this with the search", file=sys.stderr)
        exit_code = EXIT_INTERNAL
    finally:
        gc.enable()
        output.flush()
        if output is not sys.stdout.buffer:
            output.close()
    reporter.summary(reader.counters, execution.records_out, execution.records_discarded)
    reporter.record_errors(execution.record_errors)
    return exit_code


_PARALLEL_MIN_BYTES = 64 << 20  # below this, starting worker processes costs more than it saves


def _parallelism(requested: int | None, plan, paths: list[str]) -> tuple[int, int | None]:
    """(workers, last node of the stateless head); 1 worker when the input or plan can't be split."""
    from .runtime.parallel import can_split, stateless_head

    head_last = stateless_head(plan)
    if head_last is None or not all(can_split(p) for p in paths):
        return 1, None
    if requested is None:
        large = sum(os.path.getsize(p) for p in paths) >= _PARALLEL_MIN_BYTES
        requested = (os.cpu_count() or 1) if large else 1
    return max(1, requested), head_last


def _open_output(path: str) -> BinaryIO:
    from .errors import BAD_INPUT, SplError

    if path == "-":
        return sys.stdout.buffer
    try:
        return open(path, "wb")
    except OSError as error:
        raise SplError(BAD_INPUT, f"cannot write `{path}`: {error.strerror}") from None


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


class _Reporter:
    """Progress and summary on stderr when wanted; warnings about bad input always."""

    _INTERVAL = 0.5
    _MAX_WARNINGS = 10

    def __init__(self, enabled: bool, stream: TextIO):
        self.enabled, self.stream = enabled, stream
        # On a terminal the progress line rewrites itself; in a log file each update is a line.
        self.terminal = stream.isatty()
        self.started = self.last = time.monotonic()
        self.warnings = 0

    def warn(self, message: str) -> None:
        self.warnings += 1
        if self.warnings <= self._MAX_WARNINGS:
            self._clear()
            print(f"warning: {message}; line skipped", file=self.stream)
        elif self.warnings == self._MAX_WARNINGS + 1:
            print("warning: more bad lines; the summary counts them", file=self.stream)

    def progress(self, events: int, records: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < self._INTERVAL:
            return
        self.last = now
        rate = events / max(now - self.started, 1e-9)
        line = f"{events:,} events  {rate:,.0f} events/s  {records:,} records out"
        self.stream.write(f"\r{line}" if self.terminal else f"{line}\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.enabled and self.terminal:
            self.stream.write("\r\033[K")

    def record_errors(self, errors) -> None:
        if not errors.count:
            return
        verb = "was" if errors.count == 1 else "were"
        print(f"warning: {_count(errors.count, 'value')} could not be computed and {verb} set to null:", file=self.stream)
        for message, count in sorted(errors.examples.items(), key=lambda item: -item[1])[:5]:
            print(f"  {count:,} x {message}", file=self.stream)

    def summary(self, counters, records_out: int, discarded: int) -> None:
        if not self.enabled and not counters.bad_lines:
            return
        self._clear()
        elapsed = time.monotonic() - self.started
        rate = counters.events / max(elapsed, 1e-9)
        parts = [_count(counters.events, "event") + " in", _count(records_out, "record") + " out"]
        if discarded:
            parts.append(f"{discarded:,} to write_null")
        if counters.bad_lines:
            parts.append(_count(counters.bad_lines, "bad line") + " skipped")
        parts.append(f"{elapsed:.2f} s ({rate:,.0f} events/s)")
        print("spl-lite: " + ", ".join(parts), file=self.stream)


if __name__ == "__main__":
    sys.exit(main())
