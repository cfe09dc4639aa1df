"""The DuckDB SQL baseline (benchmarks/duckdb_reference.py) detects what spl-lite detects."""
from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import orjson
import pytest

pytest.importorskip("duckdb")

from spl_lite import Search  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "searches" / "rare_parent_child_process_relationship.spl"
EXAMPLE = ROOT / "examples" / "process_creation.jsonl"

_spec = importlib.util.spec_from_file_location("duckdb_reference", ROOT / "benchmarks" / "duckdb_reference.py")
duckdb_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(duckdb_reference)


def _write(path: Path, events: list) -> str:
    path.write_bytes(b"".join((e if isinstance(e, bytes) else orjson.dumps(e)) + b"\n" for e in events))
    return str(path)


def _spl_detections(text: str, path: str) -> list[tuple]:
    return [
        (r["timestamp"], r["parent_process_name"], r["process_name"], r["input"], r["mean"], r["variance"])
        for r in Search.compile(text).run_files([path])
    ]


def _spl_scored(text: str, path: str) -> list[tuple]:
    """Every record adaptive_threshold scored (timestamp not null), with its label."""
    text = text.replace("| where label AND input > mean", "")
    return [
        (r["timestamp"], r["parent_process_name"], r["process_name"], r["input"], r["mean"], r["variance"], r["label"])
        for r in Search.compile(text).run_files([path])
        if r["timestamp"] is not None
    ]


def _sql(path: str, window_ms: int = duckdb_reference.WINDOW_MS, all_rows: bool = False) -> list[tuple]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET asof_loop_join_threshold = 0")
    return con.execute(duckdb_reference.detection_sql(window_ms, all_rows=all_rows), {"path": path}).fetchall()


def _assert_same(spl: list[tuple], sql: list[tuple]) -> None:
    assert [r[:3] for r in sql] == [r[:3] for r in spl]
    assert [r[6:] for r in sql] == [r[6:] for r in spl]  # labels, when present
    for a, b in zip(spl, sql):
        assert b[3] == a[3]  # input: same lift, same log10
        for x, y in zip(a[4:6], b[4:6]):
            assert (x is None) == (y is None)
            if x is not None:
                assert y == pytest.approx(x, rel=1e-9, abs=1e-12)


def test_z_cutoffs_reproduce_the_per_tail_threshold():
    low, high = duckdb_reference.z_cutoffs(0.001)
    assert low == pytest.approx(-3.0902, abs=1e-4) and high == pytest.approx(3.0902, abs=1e-4)


def test_spec_test_vector(tmp_path):
    """Spec 8.2: ten alternating common pairs, then explorer.exe -> cmd.exe, the one detection."""
    pairs = [("services.exe", "cmd.exe"), ("explorer.exe", "notepad.exe")] * 10 + [("explorer.exe", "cmd.exe")]
    path = _write(tmp_path / "vector.jsonl", [
        {"_time": str(1000 * (i + 1)), "parent_process_name": f"C:\\Windows\\{parent}", "process_name": child}
        for i, (parent, child) in enumerate(pairs)
    ])
    detections = duckdb_reference.detect(path, 1)
    assert [d[:3] for d in detections] == [(21000, "explorer.exe", "cmd.exe")]
    _, _, _, x, mean, variance = detections[0]
    assert (x, mean, variance) == pytest.approx((0.760566, -0.225630, 0.00654653), abs=1e-6)
    text = REFERENCE.read_text()
    _assert_same(_spl_detections(text, path), detections)
    # Row 3 has the constant history {0.0}: variance 0, z = -inf, label true (but input < mean).
    scored = _sql(path, all_rows=True)
    assert [r[6] for r in scored] == [False, True] + [False] * 8 + [True]
    _assert_same(_spl_scored(text, path), scored)


def test_shipped_example(tmp_path):
    text = REFERENCE.read_text()
    detections = duckdb_reference.detect(str(EXAMPLE), 2)
    assert len(detections) > 0
    _assert_same(_spl_detections(text, str(EXAMPLE)), detections)
    _assert_same(_spl_scored(text, str(EXAMPLE)), _sql(str(EXAMPLE), all_rows=True))


@pytest.mark.parametrize("window_ms", [3_600_000, 86_400_000, 604_800_000])
def test_out_of_order_timestamps_and_odd_records(tmp_path, window_ms):
    """The general window rule: late records, jumps of the watermark, gaps that empty the history,
    bursts of one pair (constant histories), and records the search skips or nulls out."""
    rng = random.Random(window_ms)
    parents = ["C:\\Windows\\explorer.exe", "C:\\Windows\\System32\\services.exe", "winword.exe", "C:\\odd\\", ""]
    children = ["cmd.exe", "POWERSHELL.EXE", "notepad.exe", "Reg.exe"]
    t, events = 1_700_000_000_000, []
    for _ in range(1500):
        r = rng.random()
        t += 8 * 86_400_000 if r < 0.003 else -rng.randint(0, 3 * 86_400_000) if r < 0.01 else rng.randint(0, 600_000)
        ts = t + rng.choice([0, 0, 0, -rng.randint(0, 2 * 86_400_000), rng.randint(0, 3_600_000)])
        event = {"_time": str(ts), "parent_process_name": rng.choice(parents), "process_name": rng.choice(children)}
        k = rng.random()
        if k < 0.02:
            event["_time"] = ts  # a number, not a string: timestamp null
        elif k < 0.03:
            event["_time"] = f"+{ts}"
        elif k < 0.04:
            event["_time"] = f"{ts}.0"
        elif k < 0.05:
            event["process_name"] = 5
        elif k < 0.06:
            del event["parent_process_name"]
        events.append(event)
        if rng.random() < 0.02:
            events += [{"_time": str(t), "parent_process_name": parents[0], "process_name": "cmd.exe"}] * 4
        if rng.random() < 0.005:
            events.append(rng.choice([b"not json", b"[1, 2]", b"  "]))
    path = _write(tmp_path / "events.jsonl", events)
    text = REFERENCE.read_text().replace("window=604800000L", f"window={window_ms}L")
    scored = _sql(path, window_ms, all_rows=True)
    assert any(r[6] for r in scored)
    _assert_same(_spl_scored(text, path), scored)
    _assert_same(_spl_detections(text, path), _sql(path, window_ms))
