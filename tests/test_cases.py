"""Data-driven cases: every tests/cases/<name>/ runs search.spl over events.jsonl and must print expected.jsonl.

A case directory holds
  search.spl       the search, runnable as it is (`spl-lite run search.spl --input events.jsonl`); a
                   first line `/* ... */` says what the case checks (leading `# ...` lines are also
                   allowed and stripped here, but then the file no longer runs with the CLI)
  events.jsonl     input events, one JSON object a line, read as `spl-lite run --input` reads them:
                   each line is recognised by its shape, so a `from source` case must not use the SSA
                   keys process_name / parent_process_name / process_path (the event would be turned
                   into OCSF) and an SSA case must not use class_uid or raw Windows keys
  expected.jsonl   the exact output lines (`spl_lite.io.jsonl.encode_record` of each record)
  README           optional: what the case checks and why the expected answer is what it is
  xfail.txt        optional: the engine disagrees with the spec here; the reason. The case is then a
                   strict xfail, so it turns red the day the engine starts agreeing.

Each case runs in every mode of MODES and must print expected.jsonl byte for byte in each, since
output must not depend on how the input is read, batched, split between processes or runs, or on
which other searches share the pass:
  api-batch       Search.run_files, the default batch size
  api-one-event   Search.run_files, one event per batch
  whole-events    `spl-lite run --whole-events` (every key of every event decoded)
  projected       `spl-lite run` (only the keys the search reads, where the plan allows)
  workers-2       `spl-lite run --workers 2` (the stateless head in two worker processes; a search
                  that is not one chain runs in one process, and must give the same bytes)
  batch-size-1    `spl-lite run --batch-size 1`
  two-searches    `spl-lite run search.spl reference.spl search.spl --output-dir DIR`: the case's
                  search twice and the reference detection over one pass; both copies' files compared
  state-split     the events cut in two files at the middle line; `--state DIR` over the first,
                  then `--state DIR --final` over the second, both appending to one `--output` file
The `spl-lite run` modes call spl_lite.cli.main in-process (conftest.cli_in_process: no interpreter
start per run); that each call leaves no global state behind is checked below. A mode known to
disagree with a case is a strict xfail in MODE_BUGS, naming the bug.

expected.jsonl is the spec's answer (../shared/spec/semantics.md), written and checked by hand. To
start a new case, or after a deliberate change, write what the engine prints with

    UPDATE_CASES=1 python -m pytest tests/test_cases.py -k <name>

then read every line against the spec before keeping it: where the engine is wrong, put the
spec's answer back and add xfail.txt. Cases with xfail.txt are never rewritten.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import REFERENCE, cli_in_process
from spl_lite import Search
from spl_lite.io.jsonl import encode_record
from spl_lite.io.outputs import search_names

CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir()) if CASES_DIR.is_dir() else []
UPDATE = os.environ.get("UPDATE_CASES") == "1"


def search_text(case: Path) -> str:
    """search.spl without its leading `# ...` comment lines (SPL2 has no `#` comments)."""
    lines = (case / "search.spl").read_text(encoding="utf-8").splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def search_file(case: Path, where: Path) -> Path:
    """A file holding the case's search as the CLI reads it (search.spl itself unless it has `#` lines)."""
    text = search_text(case)
    if text == (case / "search.spl").read_text(encoding="utf-8"):
        return case / "search.spl"
    path = where / "search.spl"
    path.write_text(text, encoding="utf-8")
    return path


def api_output(case: Path, batch_size: int | None) -> bytes:
    search = Search.compile(search_text(case))
    events = [str(case / "events.jsonl")]
    records = search.run_files(events) if batch_size is None else search.run_files(events, batch_size=batch_size)
    return b"".join(encode_record(record) for record in records)


def run(*args) -> None:
    result = cli_in_process("run", *args, "--no-progress")
    assert result.returncode == 0, result.err
    assert result.leftovers == {}, f"spl_lite.cli.main changed the process: {result.leftovers}"


def cli_output(case: Path, tmp: Path, *flags: str) -> bytes:
    out = tmp / "out.jsonl"
    run(search_file(case, tmp), "--input", case / "events.jsonl", "--output", out, *flags)
    return out.read_bytes()


def two_searches_output(case: Path, tmp: Path) -> bytes:
    search = search_file(case, tmp)
    run(search, REFERENCE, search, "--input", case / "events.jsonl", "--output-dir", tmp / "out")
    names = search_names([str(search), str(REFERENCE), str(search)])
    first, second = ((tmp / "out" / f"{names[i]}.jsonl").read_bytes() for i in (0, 2))
    assert first == second, "the same search twice in one pass gave different output"
    return first


def state_split_output(case: Path, tmp: Path) -> bytes:
    lines = (case / "events.jsonl").read_bytes().splitlines(keepends=True)
    middle = len(lines) // 2
    first, second = tmp / "first.jsonl", tmp / "second.jsonl"
    first.write_bytes(b"".join(lines[:middle]))
    second.write_bytes(b"".join(lines[middle:]))
    search, out, state = search_file(case, tmp), tmp / "out.jsonl", tmp / "state"
    run(search, "--input", first, "--state", state, "--output", out)
    run(search, "--input", second, "--state", state, "--final", "--output", out)
    return out.read_bytes()


MODES = {
    "api-batch": lambda case, tmp: api_output(case, None),
    "api-one-event": lambda case, tmp: api_output(case, 1),
    "whole-events": lambda case, tmp: cli_output(case, tmp, "--whole-events"),
    "projected": lambda case, tmp: cli_output(case, tmp),
    "workers-2": lambda case, tmp: cli_output(case, tmp, "--workers", "2"),
    "batch-size-1": lambda case, tmp: cli_output(case, tmp, "--batch-size", "1"),
    "two-searches": two_searches_output,
    "state-split": state_split_output,
}
# (case, mode) -> the bug that makes this mode disagree with the case's expected output.
MODE_BUGS: dict[tuple[str, str], str] = {
}
# Cases with xfail.txt whose engine answer equals the spec's in some modes: there the case passes.
XFAIL_PASSES_IN: dict[str, set[str]] = {
    # The first record's field order is its own when it is alone in its batch (one event per batch,
    # or the state split's halves where the first record is alone).
    "rename_absent_field_is_a_no_op": {"api-one-event", "batch-size-1", "state-split"},
}


def _params():
    for case in CASES:
        xfail = case / "xfail.txt"
        for mode in MODES:
            marks = []
            if xfail.exists() and mode not in XFAIL_PASSES_IN.get(case.name, ()):
                marks.append(pytest.mark.xfail(reason=xfail.read_text(encoding="utf-8").strip(), strict=True))
            elif (case.name, mode) in MODE_BUGS:
                marks.append(pytest.mark.xfail(reason=MODE_BUGS[case.name, mode], strict=True))
            yield pytest.param(case, mode, id=f"{case.name}-{mode}", marks=marks)


@pytest.fixture
def scratch(request):
    """A directory for a mode's files: in memory (/dev/shm) where there is one, since --state fsyncs
    its state and output files at every save, which on a disk costs most of a small case's time."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield request.getfixturevalue("tmp_path")
        return
    directory = Path(tempfile.mkdtemp(prefix="spl-lite-case-", dir=shm))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize(("case", "mode"), list(_params()))
def test_case(case: Path, mode: str, scratch: Path):
    expected_path = case / "expected.jsonl"
    got = MODES[mode](case, scratch)
    if UPDATE and mode == "api-batch" and not (case / "xfail.txt").exists():  # an xfail case keeps the spec's answer
        expected_path.write_bytes(got)
        return
    assert expected_path.exists(), f"no expected.jsonl in {case.name}; see this module's docstring"
    assert got.decode() == expected_path.read_bytes().decode(), mode


@pytest.mark.parametrize("what", ["gc enabled", "gc frozen objects", "recursion limit", "SIGINT handler",
                                  "SIGTERM handler", "stdin", "stdout", "stderr", "cwd"])
def test_in_process_run_leaves_no_global_state(what: str, leftovers: dict):
    assert what not in leftovers, leftovers[what]


@pytest.fixture(scope="module")
def leftovers(tmp_path_factory) -> dict:
    """What in-process runs (whole events, projected, and with --state, which installs signal
    handlers) leave changed in the process."""
    tmp = tmp_path_factory.mktemp("leftovers")
    case = CASES_DIR / "stats_tumbling_windows"
    search, events = search_file(case, tmp), case / "events.jsonl"
    left = {}
    for flags in (["--whole-events"], [], ["--state", tmp / "state", "--final"]):
        result = cli_in_process("run", search, "--input", events, "--output", tmp / "out.jsonl", "--no-progress",
                                *flags, count_frozen=True)
        assert result.returncode == 0, result.err
        left.update(result.leftovers)
    return left


def test_every_case_is_complete():
    problems = [
        f"{case.name}: no {name}"
        for case in CASES
        for name in ("search.spl", "events.jsonl", "expected.jsonl")
        if not (case / name).exists()
    ]
    assert problems == []


def test_there_are_enough_cases():
    assert len(CASES) >= 40
