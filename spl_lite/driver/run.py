"""One run: several searches over one pass of the input, with outputs, state, signals and a summary.

The CLI's `run` builds a Run from its options, around a Pass (driver/passes.py): the loop of
batches through the searches' Executions that the Python API (driver/api.py) runs too.
"""
from __future__ import annotations

import gc
import sys
import time
from typing import TextIO

from ..core.errors import SplError
from ..engine.checkpoint import SearchIdentity, SignalGuard, StateDir, StateError, build_payload, check_searches, text_digest
from ..io.formats import check_inputs
from ..io.framing import MAX_LINE_BYTES
from ..io.jsonl import EventReader, TooManyBadLines, expand_inputs
from ..io.outputs import DeadLetter, Outputs, output_into_input, output_paths, search_names
from ..io.sources import SOURCES
from ..plan import physical
from ..plan.commands.source import Source
from .api import Search
from .passes import Pass
from .exits import EXIT_INPUT_ERROR, EXIT_INTERNAL, EXIT_OK, EXIT_STATE, EXIT_USAGE, SAVED_ON_EXIT, exit_code_for
from .searches import compile_searches
from .triage import Triage

_COLLECT_EVERY = 500  # batches between cyclic collections while running


def run_command(args) -> int:
    """`spl-lite run`: compile the searches, run them, report; returns the exit code."""
    problem = _arguments_problem(args)
    if problem:
        print(f"spl-lite run: {problem}", file=sys.stderr)
        return EXIT_USAGE
    without_state = [flag for flag, on in (("--final", args.final), ("--reset-state", args.reset_state)) if on]
    if without_state and not args.state:
        print(f"spl-lite: {' and '.join(without_state)} only work{'s' if len(without_state) == 1 else ''} with "
              "--state DIR (a run without --state always starts afresh and ends its windows)", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "threads", None) is not None and getattr(args, "engine", "python") != "duckdb":
        print("spl-lite run: --threads is for --engine duckdb (the default engine takes --workers)", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "engine", "python") != "python":
        from .engines import run_on_engine

        return run_on_engine(args)
    # Setting up builds many objects (plans, compiled searches) and no garbage cycles worth a
    # collection: left to the run's own schedule (Run.execute), not run every few hundred objects.
    gc.disable()
    try:
        searches, code = compile_searches(args.search)
        if code is not None:
            return code
        return Run(searches, args).execute()
    finally:
        gc.enable()


def _arguments_problem(args) -> str | None:
    """What is wrong with the searches and inputs named on the command line, if anything."""
    searches = [p for p in args.input if p.endswith(".spl")]
    if searches:
        given = " ".join(args.search + searches)
        inputs = " ".join(p for p in args.input if not p.endswith(".spl"))
        return (f"{', '.join(f'`{p}`' for p in searches)} {'is a search' if len(searches) == 1 else 'are searches'}, "
                f"not events: --input takes every name after it, so name the searches first: "
                f"spl-lite run {given} --input {inputs or 'EVENTS'}")
    if not args.search:
        return "no SEARCH given: spl-lite run SEARCH.spl... --input EVENTS..."
    if args.search.count("-") > 1:
        return "only one search can come from standard input (`-`)"
    if "-" in args.search and "-" in args.input:
        return "the search and the events cannot both come from standard input (`-`): give one of them as a file"
    return None


class Run:
    """The searches of one `spl-lite run` and its options (the parsed command line)."""

    def __init__(self, searches: list[Search], args):
        self.searches, self.args = searches, args
        self.names = search_names(args.search)
        self.identities = [SearchIdentity(n, p, text_digest(s.text)) for n, p, s in zip(self.names, args.search, searches)]
        self.triage = None  # driver/triage.py, once execute() has made it (spl-lite report reads its traces)
        self.reporter = Reporter(args.progress if args.progress is not None else sys.stderr.isatty(), sys.stderr)

    def execute(self) -> int:
        args, reporter = self.args, self.reporter
        state_dir = saved = saved_executions = None
        if args.state:
            try:
                state_dir = StateDir(args.state, reset=args.reset_state)
                saved = state_dir.load()
                saved_executions = check_searches(saved, self.identities, f"`{state_dir.path}`") if saved else None
            except StateError as error:
                print(f"spl-lite: {error}", file=sys.stderr)
                return EXIT_STATE
        try:
            paths = expand_inputs(args.input)
            check_inputs(paths, args.input_format)
            clash = output_into_input(paths, output_paths(self.names, args.output, args.output_dir, args.dead_letter))
            if clash:
                print(f"spl-lite: {clash}", file=sys.stderr)
                return EXIT_USAGE
            outputs = Outputs(self.names, args.output, args.output_dir, saved and saved.get("outputs", {}), reporter.notice)
            dead_letter = DeadLetter(args.dead_letter, outputs.files) if args.dead_letter else None
        except SplError as error:
            print(error.render(), file=sys.stderr)
            return exit_code_for(error)

        plans = [s.plan for s in self.searches]
        triage = Triage(args, self.names, plans) if Triage.wanted(args) else None
        self.triage = triage
        traced = triage.one_process_reason() if triage else None
        one_process = [flag for flag, on in (("--state", args.state),
                                             ("--follow", args.follow), ("--dead-letter", args.dead_letter),
                                             ("--max-bad", args.max_bad is not None),
                                             ("--max-line-bytes", args.max_line_bytes),
                                             (traced, traced)) if on]
        if one_process and args.workers and args.workers > 1:
            reporter.notice(f"--workers is not used with {', '.join(one_process)}: one process reads the input")
        whole_events = args.whole_events or bool(triage and triage.needs_lineage)
        for notice in dict.fromkeys(SOURCES[node.name].notice for plan in plans for node in plan.nodes
                                    if isinstance(node, Source)):
            if notice:  # once a run, however many searches, batches or workers read the source
                reporter.notice(notice)
        chosen = physical.choose(plans, args.input_format, whole_events, args.workers, paths,
                                 ", ".join(one_process), documents_by_key=not whole_events)
        reader_options = dict(
            on_reject=dead_letter.write if dead_letter else None,
            max_bad=args.max_bad,
            max_line_bytes=args.max_line_bytes or MAX_LINE_BYTES,
            resume=saved and saved.get("inputs"),
            on_notice=reporter.notice,
            decoder=chosen.reading.decoder(args.input_format),
            whole_batch_size=chosen.reading.whole_batch_size,
            projected_batch_size=chosen.reading.projected_batch_size,
        )
        if args.follow:
            from ..io.follow import FollowReader

            reader = FollowReader(paths, args.batch_size, reporter.warn, **reader_options)
        else:
            reader = EventReader(paths, args.batch_size, reporter.warn, **reader_options)
        if triage and triage.needs_lineage:
            reader.track_lines = True
        emits = [outputs.writer(i) for i in range(len(plans))]
        if triage is not None:
            emits = [triage.emit(i, emit) for i, emit in enumerate(emits)]
        run_pass = Pass.start(plans, emits, chosen, reader, paths, args.batch_size, args.input_format,
                              args.lateness, triage.traces if triage is not None else None)
        executions = run_pass.executions
        if saved:
            try:
                for execution, identity in zip(executions, self.identities):
                    execution.load_state_dict(saved_executions[identity.name])
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
                print(f"spl-lite: the state in `{state_dir.file}` cannot be loaded ({error}); "
                      "`--reset-state` discards it and starts over", file=sys.stderr)
                return EXIT_STATE
        if triage and triage.needs_lineage:
            run_pass.triage = triage

        events_before = saved.get("events", 0) if saved else 0

        def payload() -> dict:
            outputs.files.sync()
            return build_payload(self.identities, executions, reader.progress(), outputs.files.lengths(),
                                 events_before + reader.counters.events)

        checkpoint = Checkpointer(state_dir, args.checkpoint_every, payload)
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
        reuse_freed_memory()
        with guard:
            try:
                for batch_no, size in enumerate(run_pass.batches(reporter.warn, guard.critical), 1):
                    checkpoint.after(size)
                    if outputs.files.pipe_closed:
                        raise BrokenPipeError  # after the whole batch, so that the state saved is whole
                    reporter.progress(reader.counters.events, sum(e.records_out for e in executions))
                    reporter.first_late(self.names, executions)
                    if batch_no % _COLLECT_EVERY == 0:
                        gc.collect()
                with guard.critical():
                    if state_dir is None or args.final:
                        run_pass.finish()
                    checkpoint.save()
            except BrokenPipeError:
                # The reader of our output went away (`| head`): main() ends quietly, with the state
                # of the whole batches done saved (the records of the last went nowhere).
                try:
                    with guard.critical():
                        checkpoint.save()
                except StateError as error:
                    print(f"spl-lite: {error}", file=sys.stderr)
                outputs.close()
                if state_dir is not None:
                    state_dir.close()
                raise
            except Exception as error:
                exit_code = self._report(error, state_dir)
            except KeyboardInterrupt as interrupt:
                exit_code = exit_code_for(interrupt)
            finally:
                gc.unfreeze()
                gc.enable()
            if exit_code in SAVED_ON_EXIT:
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
        if exit_code == EXIT_OK and reader.eventless:
            for name, bad, first in getattr(reader, "eventless", ()):
                print(f"spl-lite: `{name}` gave no event: all {bad:,} of its lines were bad ({first}); is it "
                      "JSON lines, one object per line?", file=sys.stderr)
            exit_code = EXIT_INPUT_ERROR
        reporter.summary(reader.counters, sum(e.records_out for e in executions),
                         sum(e.records_discarded for e in executions))
        reporter.inputs(run_pass.converter)
        for name, execution in zip(self.names, executions):
            reporter.record_errors(execution.record_errors, name if len(executions) > 1 else None)
            reporter.late(execution.late_records(), name if len(executions) > 1 else None)
        if triage is not None:
            triage.report(executions)
        return exit_code

    @staticmethod
    def _report(error: Exception, state_dir) -> int:
        code = exit_code_for(error)
        if isinstance(error, SplError):
            print(error.render(), file=sys.stderr)
        elif code == EXIT_INTERNAL:  # a bug: keep what was written, say how to report it
            print(f"spl-lite: internal error: {type(error).__name__}: {error}", file=sys.stderr)
            print("spl-lite: records written so far are complete; please report this with the search", file=sys.stderr)
            if state_dir is not None:
                print("spl-lite: the state was not saved; the next run continues from the last saved state",
                      file=sys.stderr)
        else:
            prefix = "stopped: " if isinstance(error, TooManyBadLines) else ""
            print(f"spl-lite: {prefix}{error}", file=sys.stderr)
        return code


def reuse_freed_memory() -> None:
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


class Checkpointer:
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
        self.state_dir.save(self.payload)
        self.unsaved = 0
        self.dirty = False
        self.saved_at = time.monotonic()


_PARALLEL_MIN_BYTES = 64 << 20  # below this, starting worker processes costs more than it saves


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


class Reporter:
    """Progress and summary on stderr when wanted; warnings about bad input always."""

    _INTERVAL = 0.5
    _MAX_WARNINGS = 10

    def __init__(self, enabled: bool, stream: TextIO):
        self.enabled, self.stream = enabled, stream
        # On a terminal the progress line rewrites itself; in a log file each update is a line.
        self.terminal = stream.isatty()
        self.started = self.last = time.monotonic()
        self.warnings = 0
        self.warned_late = False

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

    def first_late(self, names: list[str], executions: list) -> None:
        """Says so at the first record a search's windows drop as late, once per run."""
        if self.warned_late:
            return
        for name, execution in zip(names, executions):
            if execution.late_records():
                self.warned_late = True
                where = f" of search {name}" if len(names) > 1 else ""
                self.notice(f"warning: a record came after its `stats` window{where} had closed and was dropped; "
                            "the input is out of event-time order (`--lateness 1h` waits that long for late records)")
                return

    def late(self, count: int, search: str | None = None) -> None:
        if count:
            where = f" in search {search}" if search else ""
            print(f"warning: {_count(count, 'late record')}{where} dropped by `stats` (after window end + grace; "
                  "see --lateness)", file=self.stream)

    def record_errors(self, errors, search: str | None = None) -> None:
        if not errors.count:
            return
        verb = "was" if errors.count == 1 else "were"
        where = f" in search {search}" if search else ""
        print(f"warning: {_count(errors.count, 'value')}{where} could not be computed and {verb} set to null:",
              file=self.stream)
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


