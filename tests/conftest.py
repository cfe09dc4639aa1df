"""Helpers shared by the test modules: where things are, the `spl-lite` command (as a process and
in-process), skip markers for the ../shared folder, and a session-wide cache of compiled searches.

They are plain names imported with `from conftest import ...`, not fixtures: paths and skip
markers are needed at import time (in decorators and module constants), where fixtures cannot
reach, and `cli(...)` is called from module-scoped fixtures and helper functions as well as from
tests. pytest puts this directory on sys.path (rootdir conftest, default "prepend" import mode)
and registers this file as the module `conftest`, so the import gets this very module.
"""
from __future__ import annotations

import contextlib
import gc
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "process_creation.jsonl"
REFERENCE = ROOT / "searches" / "rare_parent_child_process_relationship.spl"

# ../shared sits beside the checkout: the corpus of published searches and raw Windows logs.
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "searches.jsonl"
RAW = SHARED / "data" / "raw"

needs_corpus = pytest.mark.skipif(
    not CORPUS.exists(), reason=f"search corpus not found at {CORPUS} (the shared/ folder sits beside the checkout)"
)
needs_raw = pytest.mark.skipif(
    not RAW.is_dir(), reason=f"raw Windows logs not found at {RAW} (the shared/ folder sits beside the checkout)"
)
needs_evtx_samples = pytest.mark.skipif(
    not (RAW / "evtx-attack-samples").is_dir(), reason=f"raw logs not found under {RAW / 'evtx-attack-samples'}"
)


# ---- the command as a process ----

def cli(*args, stdin: bytes | None = None, cwd: Path | None = None, env: dict | None = None,
        timeout: float = 120, check_traceback: bool = True) -> subprocess.CompletedProcess:
    """`python -m spl_lite.cli ARGS` (each arg str()-ed) in ROOT unless `cwd`; stdout/stderr as bytes
    and also decoded as `.out` / `.err`. A traceback on stderr fails the test unless check_traceback
    is false (a test that kills the process on purpose)."""
    result = subprocess.run(
        [sys.executable, "-m", "spl_lite.cli", *map(str, args)],
        input=stdin, capture_output=True, cwd=cwd or ROOT, env=env, timeout=timeout,
    )
    result.out = result.stdout.decode(errors="replace")
    result.err = result.stderr.decode(errors="replace")
    if check_traceback:
        assert "Traceback" not in result.err, result.err
    return result


def cli_process(*args, **popen_options) -> subprocess.Popen:
    """`python -m spl_lite.cli ARGS` started and left running (--follow, signals); pipes for
    stdout and stderr unless given."""
    popen_options.setdefault("stdout", subprocess.PIPE)
    popen_options.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, "-m", "spl_lite.cli", *map(str, args)], **popen_options)


# ---- the command in-process ----

def _global_state(count_frozen: bool) -> dict:
    """What a call of spl_lite.cli.main could change for the rest of the test process. Counting the
    objects gc.freeze() moved to the permanent generation walks them all (milliseconds per call once
    a run has frozen the whole heap), so it is done only where asked."""
    state = {
        "gc enabled": gc.isenabled(),
        "recursion limit": sys.getrecursionlimit(),
        "SIGINT handler": signal.getsignal(signal.SIGINT),
        "SIGTERM handler": signal.getsignal(signal.SIGTERM),
        "stdout": sys.stdout,
        "stderr": sys.stderr,
        "cwd": os.getcwd(),
    }
    if count_frozen:
        state["gc frozen objects"] = gc.get_freeze_count()
    return state


def _restore(before: dict, nothing_was_frozen: bool) -> None:
    if before["gc enabled"]:
        gc.enable()
    else:
        gc.disable()
    if nothing_was_frozen:
        gc.unfreeze()  # a run freezes everything alive (the driver's gc.freeze); make it collectable again
    sys.setrecursionlimit(before["recursion limit"])
    signal.signal(signal.SIGINT, before["SIGINT handler"])
    signal.signal(signal.SIGTERM, before["SIGTERM handler"])
    sys.stdout, sys.stderr = before["stdout"], before["stderr"]
    os.chdir(before["cwd"])


class InProcessResult:
    def __init__(self, returncode: int, err: str, leftovers: dict):
        self.returncode, self.err, self.leftovers = returncode, err, leftovers


def cli_in_process(*args, count_frozen: bool = False) -> InProcessResult:
    """spl_lite.cli.main(ARGS) in this process: no interpreter start (~0.3 s a run). The output must
    go to --output / --output-dir files (standard output is not captured); stderr is returned as
    `.err`. What the call left changed in the process (`_global_state`) is in `.leftovers` (the
    count of frozen objects only with count_frozen) and is put back, so that one call cannot change
    the next."""
    from spl_lite import cli as cli_module

    nothing_was_frozen = gc.get_freeze_count() == 0  # cheap while nothing is frozen
    before = _global_state(count_frozen)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            code = cli_module.main([str(a) for a in args])
    finally:
        after = _global_state(count_frozen)
        after["stderr"] = before["stderr"] if after["stderr"] is stderr else after["stderr"]
        leftovers = {k: (before[k], after[k]) for k in before if after[k] != before[k]}
        _restore(before, nothing_was_frozen)
    assert "Traceback" not in stderr.getvalue(), stderr.getvalue()
    return InProcessResult(code, stderr.getvalue(), leftovers)


# ---- compiled searches, shared by the tests that compile corpus texts ----

_COMPILED: dict[str, object] = {}


def compile_cached(text: str):
    """Search.compile(text), once per text per test session (parsing is most of the corpus tests'
    time, and several modules compile the same corpus texts). A Search is its text and its plan;
    every run builds its own Execution, so sharing one between tests shares no run state. An
    SplError is cached too and raised again."""
    from spl_lite.core.errors import SplError
    from spl_lite.driver.api import Search

    found = _COMPILED.get(text)
    if found is None:
        try:
            found = Search.compile(text)
        except SplError as error:
            found = error
        _COMPILED[text] = found
    if isinstance(found, SplError):
        raise found
    return found
