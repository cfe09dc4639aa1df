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

Each case runs twice, batch by batch (the default batch size) and one event at a time; both must
print expected.jsonl byte for byte, since output must not depend on how input is batched.

expected.jsonl is the spec's answer (../shared/spec/semantics.md), written and checked by hand. To
start a new case, or after a deliberate change, write what the engine prints with

    UPDATE_CASES=1 python -m pytest tests/test_cases.py -k <name>

then read every line against the spec before keeping it: where the engine is wrong, put the
spec's answer back and add xfail.txt. Cases with xfail.txt are never rewritten.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from spl_lite import Search
from spl_lite.io.jsonl import encode_record

CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir()) if CASES_DIR.is_dir() else []
UPDATE = os.environ.get("UPDATE_CASES") == "1"


def search_text(case: Path) -> str:
    """search.spl without its leading `# ...` comment lines (SPL2 has no `#` comments)."""
    lines = (case / "search.spl").read_text(encoding="utf-8").splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def output(case: Path, batch_size: int | None) -> bytes:
    search = Search.compile(search_text(case))
    events = [str(case / "events.jsonl")]
    records = search.run_files(events) if batch_size is None else search.run_files(events, batch_size=batch_size)
    return b"".join(encode_record(record) for record in records)


def _param(case: Path):
    xfail = case / "xfail.txt"
    marks = []
    if xfail.exists():
        marks.append(pytest.mark.xfail(reason=xfail.read_text(encoding="utf-8").strip(), strict=True))
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: Path):
    expected_path = case / "expected.jsonl"
    got = output(case, None)
    if UPDATE and not (case / "xfail.txt").exists():  # an xfail case keeps the spec's answer
        expected_path.write_bytes(got)
        return
    assert expected_path.exists(), f"no expected.jsonl in {case.name}; see this module's docstring"
    expected = expected_path.read_bytes()
    assert got.decode() == expected.decode(), "default batch size"
    assert output(case, 1).decode() == expected.decode(), "one event per batch"


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
