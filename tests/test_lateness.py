"""Records later than their stats window are never dropped unsaid, and `--lateness` counts them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT.parent / "shared" / "data" / "raw"
COUNT = """| from read_ssa_enriched_events()
| eval timestamp = parse_long(ucast(map_get(input_event, "_time"), "string", null))
| stats count() AS n BY span(timestamp, 10m)
| into write_ssa_detected_events();
"""


def run(search: Path, *args) -> tuple[list[dict], str]:
    result = subprocess.run([sys.executable, "-m", "spl_lite.cli", "run", str(search), *map(str, args)],
                            capture_output=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr.decode()
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr.decode()


@pytest.fixture
def count_search(tmp_path) -> Path:
    path = tmp_path / "count.spl"
    path.write_text(COUNT)
    return path


def test_a_late_record_is_warned_about_counted_and_kept_with_lateness(tmp_path, count_search):
    minute = 60_000
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps({"_time": str(t), "process_name": "x"}) + "\n"
                              for t in (0, 11 * minute, 1 * minute, 12 * minute)))
    records, stderr = run(count_search, "--input", events)
    assert [r["n"] for r in records] == [1, 2]  # the record at 1 minute came after [0, 10m) closed
    assert "a record came after its `stats` window had closed and was dropped" in stderr
    assert "warning: 1 late record dropped by `stats`" in stderr
    records, stderr = run(count_search, "--input", events, "--lateness", "5m")
    assert [r["n"] for r in records] == [2, 2]
    assert "late" not in stderr


@pytest.mark.skipif(not RAW.is_dir(), reason=f"the shared data is not at {RAW}")
def test_lateness_makes_window_counts_right_over_unordered_files(count_search):
    """The nine sources read with one glob overlap in time: without a bound most records are late."""
    records, stderr = run(count_search, "--input", RAW / "*" / "*.jsonl.gz")
    dropped = int(stderr.split("warning: ")[-1].split(" late record")[0].replace(",", ""))
    assert sum(r["n"] for r in records) + dropped == 11_040 and dropped > 10_000
    records, stderr = run(count_search, "--input", RAW / "*" / "*.jsonl.gz", "--lateness", "4000d")
    assert sum(r["n"] for r in records) == 11_040 and "late" not in stderr


def test_lateness_takes_durations_and_rejects_the_rest(count_search):
    bad = subprocess.run([sys.executable, "-m", "spl_lite.cli", "run", str(count_search), "--input", "-",
                          "--lateness", "soon"], capture_output=True, input=b"")
    assert bad.returncode == 2 and b"a duration such as 30s" in bad.stderr
