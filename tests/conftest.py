"""Helpers shared by the test modules: where things are, the `spl-lite` command (as a process and
in-process), skip markers for the ../shared folder, and a session-wide cache of compiled searches.

They are plain names imported with `from conftest import ...`, not fixtures: paths and skip
markers are needed at import time (in decorators and module constants), where fixtures cannot
reach, and `cli(...)` is called from module-scoped fixtures and helper functions as well as from
tests. pytest puts this directory on sys.path (rootdir conftest, default "prepend" import mode)
and registers this file as the module `conftest`, so the import gets this very module.
"""
from __future__ import annotations

import atexit
import gc
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# The plans the tests compile are cached here, never in the user's cache (driver/plan_cache.py);
# processes the tests start inherit it.
os.environ["SPL_LITE_CACHE_DIR"] = tempfile.mkdtemp(prefix="spl-lite-test-plans-")
atexit.register(shutil.rmtree, os.environ["SPL_LITE_CACHE_DIR"], ignore_errors=True)

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
        "stdin": sys.stdin,
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
    sys.stdin, sys.stdout, sys.stderr = before["stdin"], before["stdout"], before["stderr"]
    os.chdir(before["cwd"])


def cli_in_process(*args, stdin: bytes | None = None, count_frozen: bool = False) -> subprocess.CompletedProcess:
    """spl_lite.cli.main(ARGS) in this process, as cli() would run it but without an interpreter
    start (~0.3 s a run): standard input from `stdin`, standard output and error captured, the
    same result (returncode, stdout and stderr as bytes, .out / .err decoded). For tests of what the
    command does with its input and options; cli() remains for what needs a real process (exit
    through the interpreter, signals, the environment).

    What the call left changed in the process (`_global_state`) is in `.leftovers` (the count of
    frozen objects only with count_frozen) and is put back, so that one call cannot change the next."""
    from spl_lite import cli as cli_module

    nothing_was_frozen = gc.get_freeze_count() == 0  # cheap while nothing is frozen
    before = _global_state(count_frozen)
    stdout, stderr = io.BytesIO(), io.StringIO()
    fake_stdout = io.TextIOWrapper(stdout, encoding="utf-8", write_through=True)
    fake_stdin = io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8")
    sys.stdin, sys.stdout, sys.stderr = fake_stdin, fake_stdout, stderr
    try:
        code = cli_module.main([str(a) for a in args])
    except SystemExit as exit:  # argparse: bad arguments, --help, --version
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    finally:
        fake_stdout.flush()
        output = stdout.getvalue()
        after = _global_state(count_frozen)
        for name, fake in (("stdin", fake_stdin), ("stdout", fake_stdout), ("stderr", stderr)):
            after[name] = before[name] if after[name] is fake else after[name]  # ours, left in place: fine
        leftovers = {k: (before[k], after[k]) for k in before if after[k] != before[k]}
        _restore(before, nothing_was_frozen)
    result = subprocess.CompletedProcess(list(args), code, output, stderr.getvalue().encode())
    result.out, result.err, result.leftovers = output.decode(errors="replace"), stderr.getvalue(), leftovers
    assert "Traceback" not in result.err, result.err
    return result


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
            # Kept without the frames it was raised through (the parser's whole state at the error).
            error.__traceback__ = error.__context__ = error.__cause__ = None
            found = error
        _COMPILED[text] = found
    if isinstance(found, SplError):
        raise found
    return found
