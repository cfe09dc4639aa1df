"""`spl-lite test`: detection test cases kept as files, run like `spl-lite run` would run them.

A case is a directory holding either

* `case.toml`, which names the search, the input files, extra `run` flags and what to expect::

      search = "../../my_detection.spl"   # relative to case.toml; default: search.spl beside it
      input = ["../data/events.jsonl"]     # relative paths, globs allowed; default: ["events.jsonl"]
      args = ["--input-format", "auto"]    # optional extra `spl-lite run` flags
      [expect]
      count = 2                            # exactly this many output records
      min_count = 1                        # at least this many
      records = "expected.jsonl"           # exactly this output, byte for byte
      [[expect.flagged]]                   # some output record has all these values
      process_name = "powershell.exe"
      [[expect.not_flagged]]               # no output record has all these values
      process_name = "notepad.exe"

  (`records` defaults to expected.jsonl when that file is beside case.toml), or
* `search.spl` and `events.jsonl` (and `expected.jsonl`) without case.toml: the tests/cases layout.

An `xfail.txt` beside either form marks a known disagreement: the case is then expected to fail
(XFAIL), and passing is a failure, so the mark is removed the day the engine is fixed.

Each case runs in this process through `spl_lite.cli.main(["run", ...])`, the very code path of
`spl-lite run`, with the output written to a temporary file and compared from there.
"""
from __future__ import annotations

import contextlib
import difflib
import gc
import glob
import io
import os
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

import orjson

CASE_FILE = "case.toml"
XFAIL_FILE = "xfail.txt"
_TOP_KEYS = {"search", "input", "args", "expect"}
_EXPECT_KEYS = {"count", "min_count", "records", "flagged", "not_flagged"}
_MAX_DIFF_LINES = 60
_MAX_SHOWN_RECORDS = 5
_MAX_RECORD_CHARS = 300


class CaseError(Exception):
    """The case itself is wrong (bad case.toml, missing file): reported as ERROR, never as XFAIL."""


@dataclass
class Case:
    name: str
    directory: Path
    config: Path | None  # case.toml, or None for the search.spl + events.jsonl layout
    search: Path | None = None
    inputs: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    count: int | None = None
    min_count: int | None = None
    records: Path | None = None
    flagged: list[dict] = field(default_factory=list)
    not_flagged: list[dict] = field(default_factory=list)

    @property
    def xfail_reason(self) -> str | None:
        path = self.directory / XFAIL_FILE
        if not path.is_file():
            return None
        return path.read_text(encoding="utf-8").strip() or "(no reason given)"


@dataclass
class Result:
    case: Case
    outcome: str  # PASS, FAIL, ERROR or XFAIL
    details: str = ""
    seconds: float = 0.0


# ---- finding cases ----
def _is_case_dir(directory: Path) -> bool:
    return (directory / CASE_FILE).is_file() or (
        (directory / "search.spl").is_file() and (directory / "events.jsonl").is_file()
    )


def _display_name(directory: Path) -> str:
    """The path relative to the working directory when it lies below it, else absolute."""
    try:
        relative = os.path.relpath(directory)
    except ValueError:  # another drive on Windows
        relative = os.pardir
    return str(Path(directory).absolute()) if relative.startswith(os.pardir) else relative


def discover(paths: Iterable[str]) -> tuple[list[Case], list[str]]:
    """The cases under `paths` (sorted by name) and the paths that held none or do not exist."""
    found: dict[Path, Case] = {}
    empty: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_file() and path.name == CASE_FILE:
            path = path.parent
        if not path.is_dir():
            empty.append(f"{given}: no such directory")
            continue
        directories = [path] if _is_case_dir(path) else []
        for root, subdirs, _ in os.walk(path):
            subdirs.sort()
            directories += [Path(root) / d for d in subdirs if _is_case_dir(Path(root) / d)]
        if not directories:
            empty.append(f"{given}: no test cases (directories with {CASE_FILE}, or search.spl and events.jsonl)")
        for directory in directories:
            resolved = directory.resolve()
            if resolved not in found:
                config = directory / CASE_FILE
                found[resolved] = Case(_display_name(directory), directory, config if config.is_file() else None)
    return sorted(found.values(), key=lambda c: c.name), empty


# ---- reading case.toml ----
def load(case: Case) -> None:
    """Fill in `case` from its case.toml or its directory; raises CaseError naming the file."""
    if case.config is None:
        case.search = case.directory / "search.spl"
        case.inputs = [str(case.directory / "events.jsonl")]
        expected = case.directory / "expected.jsonl"
        if not expected.is_file():
            raise CaseError(f"{_display_name(case.directory)}: no expected.jsonl (nothing to compare with)")
        case.records = expected
        return
    where = _display_name(case.config)
    try:
        config = tomllib.loads(case.config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise CaseError(f"{where}: cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise CaseError(f"{where}: not valid TOML: {error}") from None
    _no_unknown_keys(config, _TOP_KEYS, where, "")
    base = case.config.parent

    search = config.get("search", "search.spl")
    if not isinstance(search, str):
        raise CaseError(f"{where}: `search` must be a string (a path relative to {CASE_FILE})")
    case.search = base / search
    if not case.search.is_file():
        raise CaseError(f"{where}: search file `{search}` not found (looked for {_display_name(case.search)})")

    inputs = config.get("input", ["events.jsonl"])
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
        raise CaseError(f"{where}: `input` must be a list of paths")
    case.inputs = []
    for pattern in inputs:
        full = str(base / pattern)
        matches = sorted(glob.glob(full, recursive=True)) if glob.has_magic(pattern) else [full] if os.path.isfile(full) else []
        if not matches:
            raise CaseError(f"{where}: input `{pattern}` matches no file (looked for {_display_name(Path(full))})")
        case.inputs += matches

    args = config.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise CaseError(f"{where}: `args` must be a list of strings, e.g. [\"--input-format\", \"auto\"]")
    case.args = args

    expect = config.get("expect", {})
    if not isinstance(expect, dict):
        raise CaseError(f"{where}: `expect` must be a table: [expect]")
    _no_unknown_keys(expect, _EXPECT_KEYS, where, "expect.")
    for key in ("count", "min_count"):
        value = expect.get(key)
        if value is not None and (type(value) is not int or value < 0):
            raise CaseError(f"{where}: `expect.{key}` must be a whole number, 0 or more")
    case.count, case.min_count = expect.get("count"), expect.get("min_count")
    records = expect.get("records")
    if records is not None:
        if not isinstance(records, str):
            raise CaseError(f"{where}: `expect.records` must be a path")
        case.records = base / records
        if not case.records.is_file():
            raise CaseError(f"{where}: expected records `{records}` not found")
    elif (base / "expected.jsonl").is_file():
        case.records = base / "expected.jsonl"
    for key in ("flagged", "not_flagged"):
        tables = expect.get(key, [])
        if isinstance(tables, dict):
            tables = [tables]
        if not isinstance(tables, list) or not all(isinstance(t, dict) and t for t in tables):
            raise CaseError(f"{where}: `expect.{key}` must be tables of field values: [[expect.{key}]]")
        setattr(case, key, tables)
    if case.records is None and case.count is None and case.min_count is None and not case.flagged \
            and not case.not_flagged:
        raise CaseError(
            f"{where}: nothing to check: add [expect] with count, min_count, records or flagged, "
            "or an expected.jsonl beside it"
        )


def _no_unknown_keys(table: dict, allowed: set[str], where: str, prefix: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        known = ", ".join(f"`{prefix}{k}`" for k in sorted(allowed))
        raise CaseError(f"{where}: unknown key `{prefix}{unknown[0]}` (known: {known})")


# ---- running ----
def run_case(case: Case, run_cli: Callable[[list[str]], int]) -> Result:
    started = time.monotonic()
    try:
        load(case)
    except CaseError as error:
        return Result(case, "ERROR", str(error), time.monotonic() - started)
    outcome, details = _execute(case, run_cli)
    reason = case.xfail_reason
    if reason is not None:
        if outcome == "PASS":
            outcome, details = "FAIL", f"expected to fail ({XFAIL_FILE}: {reason}) but passed; remove {XFAIL_FILE}"
        else:
            outcome, details = "XFAIL", reason
    return Result(case, outcome, details, time.monotonic() - started)


def _execute(case: Case, run_cli: Callable[[list[str]], int]) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="spl-lite-test-") as scratch:
        output = os.path.join(scratch, "output.jsonl")
        argv = ["run", str(case.search), "--input", *case.inputs, *case.args, "--output", output, "--no-progress"]
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                code = run_cli(argv)
            gc.unfreeze()  # `run` freezes the objects of its process for speed; let this case's go
        except SystemExit as exit_:  # argparse rejects bad `args`
            code = exit_.code if isinstance(exit_.code, int) else 2
        except Exception as error:  # noqa: BLE001 - a bug must not stop the other cases
            return "ERROR", f"spl-lite run raised {type(error).__name__}: {error}"
        if code != 0:
            return "ERROR", f"spl-lite run exited with {code}:\n{stderr.getvalue().rstrip()}"
        got = Path(output).read_bytes() if os.path.exists(output) else b""
    problems = check_output(case, got)
    return ("FAIL", "\n".join(problems)) if problems else ("PASS", "")


def check_output(case: Case, got: bytes) -> list[str]:
    """What is wrong with output `got` for `case`, one message per failed expectation."""
    problems: list[str] = []
    if case.records is not None:
        expected = case.records.read_bytes()
        if got != expected:
            problems.append(_records_diff(expected, got, _display_name(case.records)))
    lines = got.splitlines()
    if case.count is not None and len(lines) != case.count:
        problems.append(f"expected count = {case.count}, got {len(lines)} records" + _shown(lines))
    if case.min_count is not None and len(lines) < case.min_count:
        problems.append(f"expected min_count = {case.min_count}, got {len(lines)} records" + _shown(lines))
    if case.flagged or case.not_flagged:
        records = [orjson.loads(line) for line in lines]
        for wanted in case.flagged:
            if not any(matches(record, wanted) for record in records):
                problems.append(f"expected some record with {_describe(wanted)}; none has it" + _shown(lines))
        for unwanted in case.not_flagged:
            hits = [i for i, record in enumerate(records) if matches(record, unwanted)]
            if hits:
                shown = [lines[i] for i in hits]
                problems.append(
                    f"expected no record with {_describe(unwanted)}; {len(hits)} have it" + _shown(shown)
                )
    return problems


def _records_diff(expected: bytes, got: bytes, expected_name: str) -> str:
    diff = list(difflib.unified_diff(
        expected.decode("utf-8", "replace").splitlines(),
        got.decode("utf-8", "replace").splitlines(),
        expected_name, "actual output", lineterm="",
    ))
    if not diff:  # same lines, different bytes: a missing final newline or line endings
        return f"the output differs from {expected_name} only in line endings or the final newline"
    if len(diff) > _MAX_DIFF_LINES:
        diff = diff[:_MAX_DIFF_LINES] + [f"... ({len(diff) - _MAX_DIFF_LINES} more diff lines)"]
    return f"records differ from {expected_name}:\n" + "\n".join(diff)


def _shown(lines: list[bytes]) -> str:
    if not lines:
        return ""
    shown = []
    for line in lines[:_MAX_SHOWN_RECORDS]:
        text = line.decode("utf-8", "replace")
        shown.append("  " + (text if len(text) <= _MAX_RECORD_CHARS else text[:_MAX_RECORD_CHARS] + "..."))
    if len(lines) > _MAX_SHOWN_RECORDS:
        shown.append(f"  ... and {len(lines) - _MAX_SHOWN_RECORDS} more")
    return ":\n" + "\n".join(shown)


def _describe(values: dict) -> str:
    return ", ".join(f"{k} = {orjson.dumps(v).decode()}" for k, v in values.items())


_MISSING = object()


def lookup(record: Any, name: str) -> Any:
    """The value of `name` in `record`: the key itself, else a dotted path through maps."""
    if isinstance(record, dict) and name in record:
        return record[name]
    head, dot, rest = name.partition(".")
    if dot and isinstance(record, dict) and head in record:
        return lookup(record[head], rest)
    return _MISSING


def same_value(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: 1 equals 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def matches(record: dict, wanted: dict) -> bool:
    return all(same_value(lookup(record, name), value) for name, value in wanted.items())


# ---- reporting ----
def summary_line(results: list[Result]) -> str:
    counts = {o: sum(1 for r in results if r.outcome == o) for o in ("PASS", "FAIL", "ERROR", "XFAIL")}
    line = f"{counts['PASS']} passed, {counts['FAIL']} failed"
    if counts["ERROR"]:
        line += f", {counts['ERROR']} errors"
    if counts["XFAIL"]:
        line += f", {counts['XFAIL']} xfailed"
    return line


def write_junit(results: list[Result], path: str) -> None:
    import xml.etree.ElementTree as ET

    suite = ET.Element(
        "testsuite",
        name="spl-lite",
        tests=str(len(results)),
        failures=str(sum(r.outcome == "FAIL" for r in results)),
        errors=str(sum(r.outcome == "ERROR" for r in results)),
        skipped=str(sum(r.outcome == "XFAIL" for r in results)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for result in results:
        element = ET.SubElement(suite, "testcase", classname="spl-lite", name=result.case.name,
                                time=f"{result.seconds:.3f}")
        first_line = result.details.split("\n", 1)[0]
        if result.outcome == "FAIL":
            ET.SubElement(element, "failure", message=first_line).text = result.details
        elif result.outcome == "ERROR":
            ET.SubElement(element, "error", message=first_line).text = result.details
        elif result.outcome == "XFAIL":
            ET.SubElement(element, "skipped", message=f"xfail: {first_line}")
    tree = ET.ElementTree(ET.Element("testsuites"))
    tree.getroot().append(suite)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def main(paths: list[str], run_cli: Callable[[list[str]], int], select: str | None = None, junit: str | None = None,
         out: TextIO | None = None) -> int:
    """Run the cases under `paths` with `run_cli` (spl_lite.cli.main, handed in by the CLI so that
    this module needs nothing above it); 1 if any failed or erred, else 0."""
    out = out or sys.stdout
    cases, empty = discover(paths or ["searches"])
    for note in empty:
        print(f"note: {note}", file=out)
    if select:
        cases = [c for c in cases if select in c.name]
    results = []
    for case in cases:
        result = run_case(case, run_cli)
        results.append(result)
        print(f"{result.outcome} {case.name}", file=out)
        if result.details and result.outcome in ("FAIL", "ERROR"):
            print("    " + result.details.replace("\n", "\n    "), file=out)
        out.flush()
    print(summary_line(results), file=out)
    if junit:
        write_junit(results, junit)
    return 1 if any(r.outcome in ("FAIL", "ERROR") for r in results) else 0
