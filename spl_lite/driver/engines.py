"""`spl-lite run --engine duckdb` and `spl-lite compile --to duckdb`: a search on another engine.

The search is compiled as usual (parse, plan, every expression checked), then its logical plan
is lowered (spl_lite/backends/duckdb.py); what does not lower is an E0404 diagnostic before any
event is read. The records are written with the same encoder as the Python engine's.
"""
from __future__ import annotations

import sys

from ..core.errors import BAD_INPUT, SplError
from ..io.jsonl import encode_record, expand_inputs
from .exits import EXIT_INPUT_ERROR, EXIT_OK, EXIT_USAGE, exit_code_for
from .searches import compile_search, read_search

ENGINES = ("python", "duckdb")

# Options of `run` the DuckDB engine does not honour, with the value that means "not given".
_PYTHON_ONLY = {
    "output_dir": None, "state": None, "follow": False, "dead_letter": None, "max_bad": None,
    "workers": None, "batch_size": None, "final": False, "reset_state": False, "lateness": 0,
}


def run_on_duckdb(args) -> int:
    given = [name for name, default in _PYTHON_ONLY.items() if getattr(args, name, default) != default]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        print(f"spl-lite run: --engine duckdb does not take {flags}", file=sys.stderr)
        return EXIT_USAGE
    if len(args.search) != 1:
        print("spl-lite run: --engine duckdb runs one search at a time", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "input_format", "auto") not in ("auto", "jsonl"):
        print("spl-lite run: --engine duckdb reads JSON lines of enriched events only (--input-format jsonl)",
              file=sys.stderr)
        return EXIT_USAGE
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
    try:
        out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")
    except OSError as error:
        print(f"spl-lite: cannot write `{args.output}`: {error.strerror}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    try:
        for record in lowered.run(paths):
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


def compile_command(args) -> int:
    """`spl-lite compile SEARCH --to duckdb`: print the SQL (parameters $path0... are the input files)."""
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
    print(lowered.sql() + ";")
    return EXIT_OK
