"""The `spl-lite` command: run, check and explain searches."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .core.limits import deep_recursion
from .driver.exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_SEARCH_ERROR

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
  7 a --workers process died   130 interrupted (SIGINT)   143 terminated (SIGTERM)
  Files written are exactly-once across a crash and --state resume; standard output at-least-once.
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
        "search", nargs="*", metavar="SEARCH",  # at least one: run_command says so, naming the fix
        help="files holding search texts (`-` for standard input); several run over one pass of the input",
    )
    run.add_argument(
        "-i", "--input", nargs="+", required=True, metavar="PATH",
        help="event files: JSON lines, gzip allowed, globs expanded, a directory for the JSON-lines files "
        "under it, `-` for standard input",
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
                          "2048 for whole events, 8192 when several searches share them)")
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
        "--lateness", type=_duration, default=0, metavar="DURATION",
        help="how far out of event-time order records may arrive (e.g. 30s, 10m, 1h, 2d, or milliseconds): "
        "every stats window closes that much later, so records up to that late are counted, not dropped "
        "(like a Flink watermark's bounded out-of-orderness; default 0, DSP's own rule)",
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
        "--workers", type=_positive, default=None, metavar="N",
        help="processes that decode events and run the stateless start of every search (up to its first "
        "stateful command or sink); the output is identical for any N (default: one per core for plain "
        "files over 64 MiB, else 1)",
    )

    _add_triage_options(run)
    _add_report_command(commands)
    run.add_argument(
        "--engine", choices=("python", "duckdb", "flink"), default="python",
        help="where the search runs: python (default), duckdb (the plan lowered to one DuckDB query; "
        "needs the `duckdb` extra; see README: Running on DuckDB) or flink (the plan lowered to Flink SQL "
        "and run on a local PyFlink mini-cluster; needs the `flink` extra; see README: Running on Apache Flink)",
    )
    run.add_argument(
        "--threads", type=_positive, default=None, metavar="N",
        help="with --engine duckdb: the threads DuckDB runs the query on (default: DuckDB's own, one per core)",
    )

    compile_ = commands.add_parser(
        "compile", help="print a search as SQL for another engine",
        description="Lower SEARCH's logical plan to SQL and print it. The query reads the input files as "
        "parameters $path0, $path1, ...; the Python functions of spl-lite it calls, if any, are listed in comments "
        "above it (they must be registered on the connection); what does not lower is an E0405 diagnostic.",
    )
    compile_.add_argument("search", metavar="SEARCH")
    compile_.add_argument("--to", choices=("duckdb", "flink"), default="duckdb",
                          help="the SQL dialect (default duckdb); flink prints a script for the Flink SQL client")
    compile_.add_argument(
        "--input-schema", default=None, metavar="KEY:TYPE,...",
        help="flink: the kind of each event key the search reads (string, long, double, boolean; "
        "default string), e.g. process_id:long",
    )
    compile_.add_argument("--wrapped", action="store_true",
                          help="flink: the events are wrapped in an `input_event` object (SSA form)")
    compile_.add_argument("--inputs", type=_positive, default=1, metavar="N", help="number of input files (default 1)")

    check = commands.add_parser(
        "check",
        help="parse and plan searches, report problems",
        description="Parse and plan each FILE without reading events. Exit 1 if any has an error. "
        "A directory stands for every *.spl under it; a .jsonl file holds one search per line in "
        "its `search` field (the corpus format) and is reported per line.",
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--json", action="store_true", help="one JSON object per file instead of text")
    check.add_argument(
        "--strict", action="store_true",
        help="warnings (W codes: a field read where it cannot exist) count as errors: exit 1 if any",
    )

    fields = commands.add_parser(
        "fields", help="print the fields each command of searches outputs",
        description="Plan each FILE and print one line per node: its id, command, inputs and the fields "
        "it outputs (`(depends on input)` after `from source`, whose fields are each event's own).",
    )
    fields.add_argument("search", nargs="+", metavar="FILE")

    explain = commands.add_parser(
        "explain", help="print the logical and physical plan of searches",
        description="Print each search's logical plan (one node per line with the fields it outputs), then "
        "the physical plan: how a run with these options would read the input and where each part runs.",
    )
    explain.add_argument("search", nargs="+", metavar="FILE")
    explain.add_argument("-i", "--input", nargs="+", metavar="PATH",
                         help="the input of the run to explain (decides whether workers can split it)")
    explain.add_argument("--input-format", default="auto", choices=list(_input_formats()), metavar="FORMAT")
    explain.add_argument("--whole-events", action="store_true")
    explain.add_argument("--workers", type=_positive, default=None, metavar="N")
    explain.add_argument("--json", action="store_true", help="both plans as one JSON document")
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


def _add_triage_options(run) -> None:
    """Options for looking into a run's results (docs/triage.md); all off by default."""
    triage = run.add_argument_group("triage (see docs/triage.md)")
    triage.add_argument(
        "--time-format", choices=("epoch", "iso"), default="epoch",
        help="write the time fields of output records (timestamp, start_time, end_time, window_start, "
        "window_end, window_trigger) as epoch milliseconds (default) or ISO-8601 UTC text",
    )
    triage.add_argument("--trace", action="store_true",
                        help="print on stderr, per search and per stage, records in and out (a funnel)")
    triage.add_argument("--trace-json", metavar="FILE", help="also write the trace as JSON to FILE (implies --trace)")
    def selector(text: str) -> str:
        from .driver.triage import Selector

        try:
            Selector(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text

    triage.add_argument(
        "--why", action="append", type=selector, metavar="SELECTOR",
        help="explain, stage by stage, what happened to the events selected: `line:N` (line N of the input, "
        "one input file) or `FIELD=VALUE` (a top-level key of the event or of its input_event); may be repeated",
    )
    triage.add_argument(
        "--provenance", action="store_true",
        help="add to each output record a `provenance` map: file and line of its input (and for raw "
        "Windows records the record id and computer); not for searches that aggregate with stats",
    )
    triage.add_argument(
        "--raw-fields", action="store_true",
        help="give SSA events made from raw Windows records a `raw` map of the record's own fields "
        "(IntegrityLevel, CurrentDirectory, LogonId, ...): map_get(map_get(input_event, \"raw\"), \"LogonId\")",
    )


def _add_report_command(commands) -> None:
    report = commands.add_parser(
        "report", help="run searches and write an HTML report with charts",
        description="Run SEARCH over --input (as `spl-lite run` does) and write one self-contained HTML "
        "file: per search the funnel of records through its stages, the detections (a sortable table), "
        "adaptive_threshold's value, mean and band per entity, and stats counts per window. Needs the "
        "`report` extra (plotly): pip install 'spl-lite[report]'.",
    )
    report.add_argument("search", nargs="+", metavar="SEARCH")
    report.add_argument("-i", "--input", nargs="+", required=True, metavar="PATH")
    report.add_argument("-o", "--output", required=True, metavar="FILE", help="the HTML file to write")
    report.add_argument("--top", type=_positive, default=5, metavar="N",
                        help="adaptive_threshold charts for the N entities with the most labelled records (default 5)")
    report.add_argument("--input-format", default="auto", choices=list(_input_formats()), metavar="FORMAT")
    report.add_argument("--lateness", default="0", metavar="DURATION", help="as for run")


def _report(args) -> int:
    from .driver.report import report_command
    from .driver.searches import compile_searches

    run_args = _parser().parse_args(["run", *args.search, "--input", *args.input, "--input-format",
                                     args.input_format, "--lateness", args.lateness, "--no-progress"])
    searches, code = compile_searches(args.search)
    if code is not None:
        return code
    return report_command(searches, run_args, args.output, args.top)


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _duration(text: str) -> int:
    """Milliseconds of a duration written as in a search (`30s`, `10m`, `1h`, `2d`) or a number of them."""
    from .syntax.parse import duration_millis

    text = text.strip().lower().replace(" ", "")
    millis = int(text) if text.isdigit() else duration_millis(text)
    if millis is None:
        raise argparse.ArgumentTypeError("a duration such as 30s, 10m, 1h or 2d (or milliseconds)")
    return millis


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
    with deep_recursion():
        return _dispatch(args)


def _dispatch(args) -> int:
    try:
        if args.command == "run":
            from .driver.run import run_command

            return run_command(args)
        if args.command == "check":
            return _check(args)
        if args.command == "fields":
            return _fields(args)
        if args.command == "compile":
            from .driver.engines import compile_command

            return compile_command(args)
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
    from .driver.testing import main as run_tests

    return run_tests(args.paths, main, args.select, args.junit)


def _fmt(args) -> int:
    from .syntax.format import main as format_files

    return format_files(args.files, check=args.check, diff=args.diff)


def _commands(args) -> int:
    from .driver.introspection import describe_commands

    print(describe_commands())
    return EXIT_OK


def _functions(args) -> int:
    from .driver.introspection import describe_functions

    text, found = describe_functions(args.name)
    print(text, file=sys.stdout if found else sys.stderr)
    return EXIT_OK if found else EXIT_SEARCH_ERROR


_AUTHORING = {"test": _test, "fmt": _fmt, "commands": _commands, "functions": _functions, "report": _report}


def _check_targets(paths: list[str]):
    """(label, text or None, extra JSON fields, read error or None) for each search to check.

    A directory means every `*.spl` under it; a `.jsonl` file holds one search per line in its
    `search` field (the corpus format), labelled `file.jsonl:LINE`.
    """
    import orjson

    from .core.errors import BAD_INPUT, SplError
    from .driver.searches import read_search

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
                    if not isinstance(text, str):
                        raise TypeError
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    yield f"{path}:{line_no}", None, {}, SplError(BAD_INPUT, "not a JSON object with a `search` field "
                                                                             "holding the search text")
                    continue
                extra = {k: entry[k] for k in ("id", "slug", "generation") if k in entry}
                yield f"{path}:{line_no}", text, extra, None
        else:
            try:
                yield path, read_search(path), {}, None
            except SplError as error:
                yield path, None, {}, error


def _diagnostics(text: str) -> tuple[list, list]:
    """(errors, warnings) of a search text: every error in it, not only the first."""
    from .driver.api import Search
    from .core.errors import SplError
    from .plan.program import diagnose

    try:
        errors, found = [], list(Search.compile(text).plan.warnings)
    except SplError as first:
        try:
            errors, found = diagnose(text)
        except Exception:  # what the first error stopped short of (too deep, too large a number)
            errors, found = [], []
        errors = errors or [first]
    # The plan's diagnostics of severity "error" (a literal a function never takes) run, but fail check.
    return errors + [d for d in found if d.severity == "error"], [d for d in found if d.severity != "error"]


def _check(args) -> int:
    import dataclasses

    import orjson

    failed = False
    for label, text, extra, error in _check_targets(args.files):
        errors, warnings = _diagnostics(text) if error is None else ([error], [])
        if args.strict:
            errors = sorted(errors + [dataclasses.replace(w, severity="error") for w in warnings],
                            key=lambda e: e.span.start if e.span else -1)
            warnings = []
        failed |= bool(errors)
        if args.json:
            diagnostics = sorted(errors + warnings, key=lambda e: e.span.start if e.span else -1)
            record = {"path": label, **extra, "ok": not errors, "diagnostics": [d.to_json() for d in diagnostics]}
            sys.stdout.write(orjson.dumps(record).decode() + "\n")
            continue
        for diagnostic in sorted(errors + warnings, key=lambda e: e.span.start if e.span else -1):
            print(diagnostic.render(text, label), file=sys.stderr)
        if not errors:
            count = len(warnings)
            print(f"{label}: ok" + (f" ({count} warning{'s' if count > 1 else ''})" if count else ""))
    return EXIT_SEARCH_ERROR if failed else EXIT_OK


def _fields(args) -> int:
    """One line per node of each search: id, command, inputs, output fields (issue 17)."""
    from .driver.searches import compile_search

    for path in args.search:
        search, code = compile_search(path)
        if search is None:
            return code
        if len(args.search) > 1:
            print(f"== {path}")
        for node in search.plan.nodes:
            inputs = " <- " + ", ".join(f"#{i}" for i in node.inputs) if node.inputs else ""
            fields = "(depends on input)" if node.fields is None else ", ".join(node.fields) or "-"
            print(f"#{node.id} {node.command}{inputs} => {fields}")
    return EXIT_OK


def _explain(args) -> int:
    """The logical plan of each search, then the physical plan of running them together."""
    import orjson

    from .driver.searches import compile_searches
    from .plan import physical

    searches, code = compile_searches(args.search)
    if code is not None:
        return code
    plans = [s.plan for s in searches]
    from .io.jsonl import expand_inputs

    paths = expand_inputs(args.input) if args.input else []
    chosen = physical.choose(plans, args.input_format, args.whole_events, args.workers,
                             paths=paths, one_process_because="" if paths else "no --input given",
                             documents_by_key=not args.whole_events)
    if args.json:
        document = {"searches": [{"path": p, "logical": s.plan.to_json()} for p, s in zip(args.search, searches)],
                    "physical": chosen.to_json()}
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return EXIT_OK
    for path, search in zip(args.search, searches):
        if len(searches) > 1:
            print(f"== {path}")
        print(search.explain())
    print()
    print(chosen.explain())
    return EXIT_OK



if __name__ == "__main__":
    sys.exit(main())
