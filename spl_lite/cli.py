"""The `spl-lite` command: run, check and explain searches."""
from __future__ import annotations

import argparse
import functools
import gc
import operator
import os
import sys
import time
from pathlib import Path
from typing import TextIO

EXIT_OK = 0
EXIT_SEARCH_ERROR = 1  # the search does not parse or plan; a diagnostic was printed
EXIT_USAGE = 2  # bad command-line arguments (argparse's own code)
EXIT_INPUT_ERROR = 3  # an input file is missing or unreadable, or output cannot be written
EXIT_INTERNAL = 4  # a bug in spl-lite: the message asks for a report
EXIT_TOO_MANY_BAD = 5  # --max-bad N: more than N input lines were bad; the run stopped after the last one
EXIT_STATE = 6  # --state: the saved state belongs to other searches, is of another version, or is damaged
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C); with --state the state was saved first
EXIT_TERMINATED = 143  # SIGTERM; with --state the state was saved first

_COLLECT_EVERY = 500  # batches between cyclic collections while running

_EPILOG = """\
examples:
  spl-lite run searches/rare_parent_child_process_relationship.spl --input examples/process_creation.jsonl
  spl-lite run my.spl --input 'logs/**/*.jsonl.gz' --output detections.jsonl
  zcat events.jsonl.gz | spl-lite run my.spl --input -
  spl-lite run my.spl --input Security.evtx 'winlogbeat/*.json'   # raw Windows logs, recognised per line
  spl-lite check searches/*.spl
  spl-lite check --json searches/*.spl
  spl-lite explain searches/rare_parent_child_process_relationship.spl
  spl-lite run searches/*.spl --input events.jsonl --output-dir detections/
  spl-lite run my.spl --input /var/log/events.jsonl --follow --state state/

exit codes:
  0 ok   1 a search has an error   2 bad arguments   3 unreadable input or output
  4 internal error (please report)   5 more bad lines than --max-bad   6 unusable --state
  130 interrupted (SIGINT)   143 terminated (SIGTERM)
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
        "as JSON lines. Each input line is one enriched event (a flat JSON object), a record "
        "with an `input_event` object, an OCSF document or a raw Windows Sysmon / Security 4688 "
        "record (XmlWinEventLog, WinEventLog, NXLog, Winlogbeat, EVTX JSON, Sentinel); .evtx "
        "files are read directly with the `evtx` extra.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "search", nargs="+", metavar="SEARCH",
        help="files holding search texts (`-` for standard input); several run over one pass of the input",
    )
    run.add_argument(
        "-i", "--input", nargs="+", required=True, metavar="PATH",
        help="event files: JSON lines, gzip allowed, globs expanded, `-` for standard input",
    )
    destination = run.add_mutually_exclusive_group()
    destination.add_argument(
        "-o", "--output", default="-", metavar="PATH",
        help="where records go (default: standard output); with several searches each line starts "
        'with "search": "<name>"',
    )
    destination.add_argument(
        "--output-dir", metavar="DIR",
        help="one file DIR/<name>.jsonl per search, <name> the search file's name without .spl "
        "(-2, -3, ... added when two are alike)",
    )
    run.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="progress line and summary on stderr (default: only when stderr is a terminal)",
    )
    run.add_argument("--batch-size", type=_positive, metavar="N",
                     help="events per batch (default: 16384 where only the keys the searches read are decoded, "
                          "2048 for whole events)")
    run.add_argument(
        "--input-format", default="auto", choices=list(_input_formats()), metavar="FORMAT",
        help="what the input lines are: " + "; ".join(f"{k}: {v}" for k, v in _input_formats().items())
        + ". Raw records that are no process creation are skipped and counted (default: auto)",
    )
    streaming = run.add_argument_group("streaming and bad input (see README: Streaming operation)")
    streaming.add_argument(
        "--state", metavar="DIR",
        help="save operator state and input progress in DIR (at the end, on SIGINT/SIGTERM and every "
        "--checkpoint-every events); a later run with the same DIR continues where this one stopped",
    )
    streaming.add_argument(
        "--checkpoint-every", type=_non_negative, default=1_000_000, metavar="N",
        help="with --state, also save after every N events (at batch ends; 0: only at the end; default 1000000)",
    )
    streaming.add_argument("--reset-state", action="store_true", help="with --state, discard the saved state first")
    streaming.add_argument(
        "--final", action="store_true",
        help="with --state, the input ends here: emit the stats windows still open (a run without "
        "--state always does)",
    )
    streaming.add_argument(
        "--follow", action="store_true",
        help="keep reading the input files as they grow, across rotation (like tail -F); stop with Ctrl-C",
    )
    streaming.add_argument(
        "--dead-letter", metavar="FILE",
        help="write every rejected input line to FILE, byte for byte, and where and why to FILE.index.jsonl",
    )
    streaming.add_argument(
        "--max-bad", type=_non_negative, default=None, metavar="N",
        help="stop (exit 5) when more than N input lines are bad; 0 stops at the first",
    )
    streaming.add_argument(
        "--max-line-bytes", type=_positive, default=None, metavar="N",
        help="reject longer input lines as bad (default 16777216, 16 MiB)",
    )
    run.add_argument(
        "--whole-events", action="store_true",
        help="decode every key of every event, even where the searches read only a few (turns off "
        "the projected reading that makes such searches faster; the output is the same)",
    )
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
    _add_authoring_commands(commands)
    return parser


def _add_authoring_commands(commands) -> None:
    """`test`, `fmt`, `commands` and `functions`: the tools for writing detections."""
    test = commands.add_parser(
        "test",
        help="run detection test cases",
        description="Run each test case under PATH (default: searches/): a directory with case.toml, or "
        "with search.spl and events.jsonl (+ expected.jsonl). Exit 1 if any case fails or errs. "
        "The case format is described in docs/testing.md.",
    )
    test.add_argument("paths", nargs="*", metavar="PATH")
    test.add_argument("-k", dest="select", metavar="SUBSTRING", help="only the cases whose name contains SUBSTRING")
    test.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML to FILE")

    fmt = commands.add_parser(
        "fmt",
        help="rewrite searches in the canonical layout",
        description="Rewrite each FILE in the canonical layout (one command per line, stable spacing, "
        "long AND/OR chains one term per line). A directory stands for every *.spl under it; `-` "
        "reads standard input and writes standard output.",
    )
    fmt.add_argument("files", nargs="+", metavar="FILE")
    fmt.add_argument("--check", action="store_true", help="change nothing; list the files that would change, exit 1 if any")
    fmt.add_argument("--diff", action="store_true", help="print a unified diff of the changes instead of writing them")

    commands.add_parser("commands", help="list the commands with their arguments and output fields",
                        description="Every command: syntax, summary, arguments with defaults, output fields.")
    functions = commands.add_parser(
        "functions", help="list the functions, or describe one",
        description="Every scalar function and stats aggregation; with NAME, the signature, family, "
        "null rule, description and an example of that one.",
    )
    functions.add_argument("name", nargs="?", metavar="NAME")


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _input_formats() -> dict[str, str]:
    from .io.formats import INPUT_FORMATS

    return INPUT_FORMATS


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
        if args.command in _AUTHORING:
            return _AUTHORING[args.command](args)
        return _explain(args)
    except KeyboardInterrupt:
        print("spl-lite: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours; silence Python's own complaint.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _test(args) -> int:
    from .testing import main as run_tests

    return run_tests(args.paths, args.select, args.junit)


def _fmt(args) -> int:
    from .formatting import main as format_files

    return format_files(args.files, check=args.check, diff=args.diff)


def _commands(args) -> int:
    from .introspection import describe_commands

    print(describe_commands())
    return EXIT_OK


def _functions(args) -> int:
    from .introspection import describe_functions

    text, found = describe_functions(args.name)
    print(text, file=sys.stdout if found else sys.stderr)
    return EXIT_OK if found else EXIT_SEARCH_ERROR


_AUTHORING = {"test": _test, "fmt": _fmt, "commands": _commands, "functions": _functions}


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
    from .io.projection import deferred_keys, keys_read

    search, code = _compile(args.search)
    if search is None:
        return code
    print(search.explain())
    keys = keys_read(search.plan)
    if keys is None:
        print("\nreading: whole events (the search uses its events other than through map_get of named keys)")
        return EXIT_OK
    print(f"\nreading: only the keys {', '.join(sorted(keys))} of each event (projected)")
    late = deferred_keys(search.plan)
    if late:
        print(f"deferred: {', '.join(sorted(late))} (decoded only for the records still there when they are read)")
    return EXIT_OK


def _run(args) -> int:
    from .errors import SplError
    from .io.formats import InputConverter, check_inputs
    from .io.jsonl import MAX_LINE_BYTES, EventReader, TooManyBadLines, expand_inputs
    from .io.outputs import DeadLetter, Outputs, search_names
    from .io.projection import decoder_for
    from .runtime.checkpoint import Interrupted, SearchIdentity, SignalGuard, StateDir, StateError, text_digest
    from .runtime.executor import Execution
    from .runtime.parallel import ParallelHead

    if args.search.count("-") > 1:
        print("spl-lite: only one search can come from standard input (`-`)", file=sys.stderr)
        return EXIT_USAGE
    searches = []
    for path in args.search:
        search, code = _compile(path)
        if search is None:
            return code
        searches.append(search)
    names = search_names(args.search)
    identities = [SearchIdentity(n, p, text_digest(s.text)) for n, p, s in zip(names, args.search, searches)]
    reporter = _Reporter(args.progress if args.progress is not None else sys.stderr.isatty(), sys.stderr)

    state_dir = saved = None
    if args.state:
        try:
            state_dir = StateDir(args.state, reset=args.reset_state)
            saved = state_dir.load()
            saved_executions = _check_state(saved, identities, state_dir) if saved else None
        except StateError as error:
            print(f"spl-lite: {error}", file=sys.stderr)
            return EXIT_STATE
    try:
        paths = expand_inputs(args.input)
        check_inputs(paths, args.input_format)
        outputs = Outputs(names, args.output, args.output_dir, saved and saved.get("outputs", {}), reporter.notice)
        dead_letter = DeadLetter(args.dead_letter, outputs.files) if args.dead_letter else None
    except SplError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_INPUT_ERROR

    reader_options = dict(
        on_reject=dead_letter.write if dead_letter else None,
        max_bad=args.max_bad,
        max_line_bytes=args.max_line_bytes or MAX_LINE_BYTES,
        resume=saved and saved.get("inputs"),
        on_notice=reporter.notice,
        projection=None if args.whole_events else decoder_for([s.plan for s in searches], args.input_format),
    )
    if args.follow:
        from .io.follow import FollowReader

        reader = FollowReader(paths, args.batch_size, reporter.warn, **reader_options)
    else:
        reader = EventReader(paths, args.batch_size, reporter.warn, **reader_options)
    executions = [Execution(s.plan, outputs.writer(i), args.input_format) for i, s in enumerate(searches)]
    if saved:
        try:
            for execution, identity in zip(executions, identities):
                execution.load_state_dict(saved_executions[identity.name])
        except (KeyError, TypeError, ValueError) as error:
            print(f"spl-lite: the state in `{state_dir.file}` cannot be loaded ({error}); "
                  "`--reset-state` discards it and starts over", file=sys.stderr)
            return EXIT_STATE
    execution = executions[0]
    converter = execution.inputs if len(executions) == 1 else InputConverter(args.input_format)
    streaming = [flag for flag, on in (("several searches", len(searches) > 1), ("--state", args.state),
                                       ("--follow", args.follow), ("--dead-letter", args.dead_letter),
                                       ("--max-bad", args.max_bad is not None),
                                       ("--max-line-bytes", args.max_line_bytes)) if on]
    if streaming:
        if args.workers and args.workers > 1:
            reporter.notice(f"--workers is not used with {', '.join(streaming)}: one process reads the input")
        workers, head_last = 1, None
    else:
        workers, head_last = _parallelism(args.workers, execution.plan, paths)

    events_before = saved.get("events", 0) if saved else 0
    checkpoint = _Checkpointer(state_dir, args.checkpoint_every, lambda: build_payload())

    def build_payload() -> dict:
        from .runtime.checkpoint import build_payload as payload

        outputs.files.sync()
        return payload(identities, executions, reader.progress(), outputs.files.lengths(),
                       events_before + reader.counters.events)

    exit_code = EXIT_OK
    guard = SignalGuard()
    if args.follow:
        def idle() -> None:  # nothing to read for now: flush, and save the state now and then
            with guard.critical():
                outputs.flush()
                checkpoint.idle()

        reader.on_idle = idle
    # Decoded events form no reference cycles, yet every batch of fresh dicts would trigger the
    # cyclic collector over and over (a third of the run time); collect on our own schedule instead.
    gc.freeze()
    gc.disable()
    _reuse_freed_memory()
    with guard:
        try:
            if workers > 1:
                head = ParallelHead(execution.plan, head_last, paths, workers, args.batch_size, execution.inputs,
                                    reader.projection)
                batches = head.batches(reader.counters, reporter.warn)
                push = functools.partial(head.push, execution)
                size = operator.attrgetter("length")  # worker output: the head's records of a batch
            elif len(executions) == 1:
                batches, push, size = reader.batches(), execution.push, len
            else:
                def push(events: list[dict]) -> None:
                    converted = converter.convert(events)  # once, for every search
                    for each in executions:
                        each.push_converted(converted)

                batches, size = reader.batches(), len
            for batch_no, batch in enumerate(batches, 1):
                with guard.critical():  # a signal waits until the batch is through every search
                    push(batch)
                    reader.commit()
                    checkpoint.after(size(batch))
                reporter.progress(reader.counters.events, sum(e.records_out for e in executions))
                if batch_no % _COLLECT_EVERY == 0:
                    gc.collect()
            with guard.critical():
                if state_dir is None or args.final:
                    for each in executions:
                        each.finish()
                checkpoint.save()
        except TooManyBadLines as error:
            print(f"spl-lite: stopped: {error}", file=sys.stderr)
            exit_code = EXIT_TOO_MANY_BAD
        except SplError as error:
            print(error.render(), file=sys.stderr)
            exit_code = EXIT_INPUT_ERROR
        except StateError as error:
            print(f"spl-lite: {error}", file=sys.stderr)
            exit_code = EXIT_STATE
        except KeyboardInterrupt as interrupt:
            import signal

            terminated = isinstance(interrupt, Interrupted) and interrupt.signum == signal.SIGTERM
            exit_code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
        except BrokenPipeError:
            raise  # the reader of our output went away (`| head`): main() ends quietly; no state saved
        except Exception as error:  # a bug: keep what was written, say how to report it
            print(f"spl-lite: internal error: {type(error).__name__}: {error}", file=sys.stderr)
            print("spl-lite: records written so far are complete; please report this with the search", file=sys.stderr)
            if state_dir is not None:
                print("spl-lite: the state was not saved; the next run continues from the last saved state",
                      file=sys.stderr)
            exit_code = EXIT_INTERNAL
        finally:
            gc.enable()
        if exit_code in (EXIT_TOO_MANY_BAD, EXIT_INPUT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED):
            # Whole batches only went through (SignalGuard), so what was done can be kept.
            try:
                with guard.critical():
                    checkpoint.save()
            except StateError as error:
                print(f"spl-lite: {error}", file=sys.stderr)
            except KeyboardInterrupt:
                pass
        outputs.close()
        if state_dir is not None:
            state_dir.close()
    reporter.summary(reader.counters, sum(e.records_out for e in executions),
                     sum(e.records_discarded for e in executions))
    reporter.inputs(converter)
    reporter.record_errors(execution.record_errors)
    return exit_code


def _reuse_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of handing it back to the kernel at once.

    Each batch allocates and frees a few MiB (the block read, the decoded values); by default glibc
    returns such blocks straight away, so every batch faults in fresh zeroed pages: a tenth of the
    run time. Where there is no glibc (musl, macOS) nothing changes.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, 64 << 20)
    mallopt(m_trim_threshold, 256 << 20)


def _check_state(saved: dict, identities, state_dir) -> dict:
    from .runtime.checkpoint import check_searches

    return check_searches(saved, identities, f"`{state_dir.path}`")


class _Checkpointer:
    """Saves the state (when --state is given) every `every` events, when idle, and at the end."""

    _IDLE_SECONDS = 1.0

    def __init__(self, state_dir, every: int, payload):
        self.state_dir, self.every, self.payload = state_dir, every, payload
        self.unsaved = 0
        self.dirty = state_dir is not None
        self.saved_at = time.monotonic()

    def after(self, events: int) -> None:
        if self.state_dir is None:
            return
        self.unsaved += events
        self.dirty = True
        if self.every and self.unsaved >= self.every:
            self.save()

    def idle(self) -> None:
        """--follow found nothing new to read: a good moment to save what came before."""
        if self.dirty and time.monotonic() - self.saved_at >= self._IDLE_SECONDS:
            self.save()

    def save(self) -> None:
        if self.state_dir is None or not self.dirty:
            return
        self.state_dir.save(self.payload())
        self.unsaved = 0
        self.dirty = False
        self.saved_at = time.monotonic()


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

    def notice(self, message: str) -> None:
        """Something the user should know that is not a bad line (resuming, rotation, options)."""
        self._clear()
        print(f"spl-lite: {message}", file=self.stream)

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

    def inputs(self, inputs) -> None:
        """Raw Windows records normalised and lines skipped by reason (io/formats.py): always said when
        something was skipped, so a run that found nothing because nothing was read is never silent."""
        if not inputs.skipped and not (self.enabled and inputs.normalised):
            return
        parts = [f"{inputs.normalised:,} raw Windows records normalised"]
        parts += [f"{count:,} skipped: {reason}" for reason, count in inputs.skipped.most_common()]
        print("spl-lite: " + ", ".join(parts), file=self.stream)

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
