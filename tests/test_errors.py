"""Diagnostic snapshots: every tests/errors/<name>.spl must fail with exactly tests/errors/<name>.txt.

The .txt holds `SplError.render(text, "tests/errors/<name>.spl")` plus a final newline. After a
deliberate change to a message, rewrite them with

    UPDATE_SNAPSHOTS=1 python -m pytest tests/test_errors.py

and read the diff before committing it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from spl_lite import Search, SplError

ERRORS = Path(__file__).parent / "errors"
CASES = sorted(ERRORS.glob("*.spl"))
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


def display_path(spl: Path) -> str:
    """The path shown in the diagnostic: relative and with `/`, whatever the working directory."""
    return f"tests/errors/{spl.name}"


def rendered(spl: Path) -> str:
    text = spl.read_text(encoding="utf-8")
    try:
        Search.compile(text)
    except SplError as error:
        return error.render(text, display_path(spl)) + "\n"
    pytest.fail(f"{spl.name} compiled without error; an error snapshot must fail to compile")


@pytest.mark.parametrize("spl", CASES, ids=[c.stem for c in CASES])
def test_diagnostic_matches_snapshot(spl: Path):
    got = rendered(spl)
    snapshot = spl.with_suffix(".txt")
    if UPDATE:
        snapshot.write_text(got, encoding="utf-8")
        return
    assert snapshot.exists(), f"no snapshot {snapshot.name}; create it with UPDATE_SNAPSHOTS=1"
    assert got == snapshot.read_text(encoding="utf-8")


def test_there_are_enough_cases():
    assert len(CASES) >= 15


def test_every_snapshot_has_its_search():
    orphans = [t.name for t in ERRORS.glob("*.txt") if not t.with_suffix(".spl").exists()]
    assert orphans == []


@pytest.mark.parametrize("spl", CASES, ids=[c.stem for c in CASES])
def test_diagnostic_shape(spl: Path):
    """Every diagnostic has a code, a location in this file, the source line and a caret under it."""
    lines = rendered(spl).splitlines()
    assert lines[0].startswith("error[E0") and "]: " in lines[0]
    assert f"--> {display_path(spl)}:" in lines[1]
    line_no = int(lines[1].rsplit(":", 2)[1])
    assert lines[3].startswith(f"{line_no} | ")
    assert "^" in lines[4]
    assert "Traceback" not in "\n".join(lines)
