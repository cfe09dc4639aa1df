"""Tests of the synthetic enriched-event generator used by the benchmarks."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import orjson
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "generate_events.py"
_spec = importlib.util.spec_from_file_location("generate_events", _PATH)
generate_events = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate_events)

# The same keys as spl_lite.io.windows.normalise writes.
FIELDS = {
    "_time", "event_id", "process_name", "process", "process_path", "parent_process_name", "parent_process",
    "process_guid", "parent_process_guid", "process_id", "parent_process_id", "process_hash",
    "dest_device_id", "dest_user_id", "_datamodels",
}
N = 20_000


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return list(generate_events.generate(N, seed=7))


def test_same_seed_same_bytes(lines):
    again = b"".join(generate_events.generate(N, seed=7))
    assert b"".join(lines) == again
    assert b"".join(generate_events.generate(N, seed=8)) != again


def test_prefix_does_not_depend_on_chunking():
    # A chunk boundary in the middle must not change what comes before it.
    n = generate_events.CHUNK + 100
    head = list(itertools.islice(generate_events.generate(n, seed=3), 50))
    assert head == list(itertools.islice(generate_events.generate(n, seed=3), 50))


def test_field_set_and_types(lines):
    for line in lines:
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        event = orjson.loads(line)
        assert set(event) == FIELDS
        assert event["event_id"] in ("1", "4688")
        assert event["_datamodels"] == ["Endpoint_Processes"]
        assert event["process_path"].lower().endswith("\\" + event["process_name"])
        assert isinstance(event["process_id"], int) and event["process_id"] % 4 == 0
        sysmon = event["event_id"] == "1"
        for key in ("parent_process", "process_guid", "parent_process_guid", "process_hash"):
            assert (event[key] is not None) == sysmon, key


def test_time_is_monotone_over_fourteen_days(lines):
    times = [int(orjson.loads(line)["_time"]) for line in lines]
    assert all(a <= b for a, b in zip(times, times[1:]))
    assert generate_events.START_MS <= times[0] < times[-1] < generate_events.START_MS + 14 * 86_400_000
    assert times[-1] - times[0] > 13 * 86_400_000


def test_mean_line_length(lines):
    mean = sum(map(len, lines)) / len(lines)
    assert 800 <= mean <= 1000, mean


def test_popularity_hosts_and_lolbas(lines):
    events = [orjson.loads(line) for line in lines]
    pairs = {}
    for e in events:
        key = (e["parent_process_name"].rsplit("\\", 1)[-1], e["process_name"])
        pairs[key] = pairs.get(key, 0) + 1
    counts = sorted(pairs.values(), reverse=True)
    assert counts[0] > 10 * counts[len(counts) // 2]  # a heavy head and a long tail
    assert len({e["dest_device_id"] for e in events}) > 1_500
    assert {e["process_name"] for e in events} & set(generate_events.LOLBAS) >= {"cmd.exe", "powershell.exe"}


def test_rare_pairs_are_injected_at_the_asked_rate():
    rare = set(generate_events._World(7).rare_pairs)
    events = [orjson.loads(line) for line in generate_events.generate(N, seed=7, rare_rate=0.01)]
    hits = sum((e["parent_process_name"].rsplit("\\", 1)[-1], e["process_name"]) in rare for e in events)
    assert 0.005 * N < hits < 0.02 * N
    events = [orjson.loads(line) for line in generate_events.generate(N, seed=7, rare_rate=0.0)]
    assert not any((e["parent_process_name"].rsplit("\\", 1)[-1], e["process_name"]) in rare for e in events)
