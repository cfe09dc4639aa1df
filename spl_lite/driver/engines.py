"""`spl-lite run --engine duckdb|flink` and `spl-lite compile --to duckdb|flink`: a search on another engine.

The search is compiled as usual (parse, plan, every expression checked), then its logical plan
is lowered (spl_lite/backends/duckdb.py, spl_lite/backends/flink.py); what does not lower is an
E0405 diagnostic before any event is read. The records are written with the same encoder as the
Python engine's.
"""
from __future__ import annotations

import sys

from ..core.errors import BAD_INPUT, SplError
from ..io.jsonl import encode_record, expand_inputs
from .exits import EXIT_INPUT_ERROR, EXIT_OK, EXIT_USAGE, exit_code_for
from .searches import compile_search, read_search

ENGINES = ("python", "duckdb", "flink")

# Options of `run` the SQL engines do not honour, with the value that means "not given".
_PYTHON_ONLY = {
    "output_dir": None, "state": None, "follow": False, "dead_letter": None, "max_bad": None,
    "workers": None, "batch_size": None, "final": False, "reset_state": False, "lateness": 0,
}


def run_on_engine(args) -> int:
    """`run --engine duckdb|flink`."""
    given = [name for name, default in _PYTHON_ONLY.items() if getattr(args, name, default) != default]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        print(f"spl-lite run: --engine {args.engine} does not take {flags}", file=sys.stderr)
        return EXIT_USAGE
    if len(args.search) != 1:
        print(f"spl-lite run: --engine {args.engine} runs one search at a time", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "input_format", "auto") not in ("auto", "jsonl"):
        print(f"spl-lite run: --engine {args.engine} reads JSON lines of enriched events only (--input-format jsonl)",
              file=sys.stderr)
        return EXIT_USAGE
    if args.engine == "flink":
        return run_on_flink(args)
    return run_on_duckdb(args)


def _write_records(records, search, path: str, output: str) -> int:
    """Write the engine's records as the Python engine would; a diagnostic for what fails on the way."""
    try:
        out = sys.stdout.buffer if output == "-" else open(output, "wb")
    except OSError as error:
        print(f"spl-lite: cannot write `{output}`: {error.strerror}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    try:
        for record in records:
            out.write(encode_record(record))
    except SplError as error:
        print(error.render(search.text, path), file=sys.stderr)
        return exit_code_for(error)
    finally:
        if out is not sys.stdout.buffer:
            out.close()
        else:
            out.flush()
    return EXIT_OK


def run_on_flink(args) -> int:
    path = args.search[0]
    search, code = compile_search(path)
    if search is None:
        return code
    try:
        from ..backends.flink import compile_for_file, run_script

        paths = expand_inputs(args.input)
        if len(paths) != 1 or paths[0] == "-" or paths[0].endswith(".gz"):
            raise SplError(BAD_INPUT, "--engine flink reads one plain JSON-lines file (not standard input, not gzip)")
        script = compile_for_file(search.plan, paths[0])
    except SplError as error:
        print(error.render(search.text, path), file=sys.stderr)
        return exit_code_for(error)
    return _write_records(run_script(script, paths[0]), search, path, args.output)


def run_on_duckdb(args) -> int:
    path = args.search[0]
    search, code = compile_search(path)
    if search is None:
        return code
    try:
        from ..backends.duckdb import compile_plan
    except ImportError as error:
        print(f"spl-lite: --engine duckdb needs the `duckdb` extra ({error.name} is not installed): "
              "pip install 'spl-lite[duckdb]'", file=sys.stderr)
        return EXIT_USAGE
    try:
        paths = expand_inputs(args.input)
        if "-" in paths:
            raise SplError(BAD_INPUT, "--engine duckdb reads files, not standard input")
        lowered = compile_plan(search.plan, len(paths))
    except SplError as error:
        print(error.render(search.text, path), file=sys.stderr)
        return exit_code_for(error)
    return _write_records(lowered.run(paths, getattr(args, "threads", None)), search, path, args.output)


def compile_command(args) -> int:
    """`spl-lite compile SEARCH --to duckdb`: print the SQL (parameters $path0... are the input files);
    `--to flink`: the Flink SQL script."""
    if args.to == "flink":
        return _compile_flink(args)
    text = None
    try:
        text = read_search(args.search)
        from ..plan.program import plan_text

        try:
            from ..backends.duckdb import compile_plan
        except ImportError as error:
            print(f"spl-lite: compile needs the `duckdb` extra ({error.name} is not installed): "
                  "pip install 'spl-lite[duckdb]'", file=sys.stderr)
            return EXIT_USAGE

        lowered = compile_plan(plan_text(text), args.inputs)
    except SplError as error:
        print(error.render(text, args.search), file=sys.stderr)
        return exit_code_for(error)
    print(lowered.script())
    return EXIT_OK


def _compile_flink(args) -> int:
    text = None
    try:
        text = read_search(args.search)
        from ..backends.flink import compile_plan, parse_schema
        from ..plan.program import plan_text

        schema = parse_schema(args.input_schema or "")
        script = compile_plan(plan_text(text), schema, args.wrapped)
    except SplError as error:
        print(error.render(text, args.search), file=sys.stderr)
        return exit_code_for(error)
    print(script.text(), end="")
    return EXIT_OK
