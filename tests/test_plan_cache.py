"""Plans kept between runs (driver/plan_cache.py): read back instead of parsed, never trusted when
damaged, foreign or made by other code, and a run gives the same bytes with or without them."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import EXAMPLE, REFERENCE, cli_in_process

from spl_lite.driver import plan_cache
from spl_lite.syntax import parse

# A search with a warning, which a plan read back must still print.
WARNS = ('| from read_ssa_enriched_events() | eval n = ucast(map_get(input_event, "process_name"), "string", null) '
         '| select n | eval m = lower(gone) | into write_ssa_detected_events();')


@pytest.fixture
def cache(tmp_path, monkeypatch):
    directory = tmp_path / "plans"
    monkeypatch.setenv(plan_cache.CACHE_ENV, str(directory))
    return directory


def run(search, out):
    result = cli_in_process("run", search, "--input", EXAMPLE, "--output", out, "--no-progress")
    assert result.returncode == 0, result.err
    return out.read_bytes(), result.err


def test_a_plan_read_back_runs_as_the_one_planned(cache, tmp_path, monkeypatch):
    search = tmp_path / "warns.spl"
    search.write_text(WARNS)
    for path in (REFERENCE, search):
        first = run(path, tmp_path / "first.jsonl")
        assert len(list(cache.iterdir())) == 1 + (path == search)

        def not_again(text):
            raise AssertionError("parsed again")

        with monkeypatch.context() as patched:
            patched.setattr(parse, "parse", not_again)
            assert run(path, tmp_path / "second.jsonl") == first
    assert "warning[W0201]" in first[1]


def test_a_run_from_a_cached_plan_imports_no_parser_nor_process_pool(cache, tmp_path):
    """What a run reads back needs neither Lark nor multiprocessing, which are a tenth of every
    start-up, nor, without a regex in its searches or a file to write, the `regex` package and
    tempfile (another twentieth): a real interpreter, as each run starts one."""
    run(REFERENCE, tmp_path / "planned.jsonl")
    show = ("import sys, runpy; sys.argv = ['spl-lite'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('spl_lite.cli', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('lark', 'multiprocessing', 'concurrent.futures', 'regex', 'tempfile')"
            " if m in sys.modules),"
            " file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", show, "run", str(REFERENCE), "--input", str(EXAMPLE), "--output",
                             str(tmp_path / "again.jsonl"), "--no-progress", "--workers", "1"],
                            capture_output=True, text=True, env={**os.environ, plan_cache.CACHE_ENV: str(cache)})
    assert result.stderr.strip().splitlines()[-1] == "[]", result.stderr


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"text": "x", "plan": [], "warnings": []}',
                                    b'{"text": null}', b"[1, 2]"])
def test_a_damaged_or_foreign_entry_is_a_miss_and_is_replaced(cache, tmp_path, damage):
    planned = run(REFERENCE, tmp_path / "planned.jsonl")
    (entry,) = cache.iterdir()
    entry.write_bytes(damage)
    assert run(REFERENCE, tmp_path / "again.jsonl") == planned
    assert entry.read_bytes() not in (damage, b"")


def test_another_planner_never_reads_the_plan(cache, tmp_path, monkeypatch):
    run(REFERENCE, tmp_path / "one.jsonl")
    monkeypatch.setattr(plan_cache, "code_digest", lambda: "other code")
    assert plan_cache.load(REFERENCE.read_text()) is None
    run(REFERENCE, tmp_path / "two.jsonl")
    assert len(list(cache.iterdir())) == 2


def test_off_or_unwritable_the_run_is_the_same(tmp_path, monkeypatch):
    planned = None
    for setting in ("", str(tmp_path / "a-file")):
        (tmp_path / "a-file").write_text("not a directory")
        monkeypatch.setenv(plan_cache.CACHE_ENV, setting)
        got = run(REFERENCE, tmp_path / "out.jsonl")
        planned = planned or got
        assert got == planned
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "out.jsonl"]


def test_entries_unread_for_a_month_and_stale_temporary_files_are_removed(cache, tmp_path, monkeypatch):
    import os
    import time

    run(REFERENCE, tmp_path / "one.jsonl")
    (in_use,) = cache.iterdir()
    month = plan_cache.UNUSED_DAYS * 86400
    old_code = cache / ("0" * 64 + ".json")  # an entry an older spl-lite wrote: never read again
    killed = cache / "tmpkilled.tmp"
    writing = cache / "tmpwriting.tmp"
    for path in (old_code, killed, writing):
        path.write_bytes(b"{}")
    long_ago = time.time() - month - 60
    for path in (in_use, old_code):
        os.utime(path, (long_ago, long_ago))
    os.utime(killed, (time.time() - 7200,) * 2)

    assert plan_cache.load(REFERENCE.read_text()) is not None  # a read keeps the entry young
    monkeypatch.setattr(plan_cache, "code_digest", lambda: "other code")
    plan_cache._sweep.cache_clear()  # as in a new process: its first write sweeps the directory
    run(REFERENCE, tmp_path / "two.jsonl")
    left = {p.name for p in cache.iterdir()}
    assert in_use.name in left and writing.name in left
    assert old_code.name not in left and killed.name not in left and len(left) == 3
