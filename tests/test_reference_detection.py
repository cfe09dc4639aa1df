"""The reference detection: byte-identical to the published text, and it runs and detects."""
from __future__ import annotations

import hashlib
import math

import pytest

from conftest import EXAMPLE, REFERENCE, SHARED
from spl_lite import Search

SHARED_REFERENCE = SHARED / "reference" / "rare_parent_child_process_relationship.spl"
SHA256 = "ddd13100bfd56845a1683a6e4150e4cc11446eb50625ecf4d88ee31a235e348b"


def test_search_file_is_the_published_text_byte_for_byte():
    assert hashlib.sha256(REFERENCE.read_bytes()).hexdigest() == SHA256


def test_search_file_matches_shared_reference():
    if not SHARED_REFERENCE.exists():
        pytest.skip("../shared/reference is not beside this checkout")
    assert REFERENCE.read_bytes() == SHARED_REFERENCE.read_bytes()


def _pair_events(pairs):
    return [
        {"_time": str(1000 * (i + 1)), "parent_process_name": f"C:\\Windows\\{parent}", "process_name": child}
        for i, (parent, child) in enumerate(pairs)
    ]


def test_spec_test_vector_detects_only_the_rare_pair():
    """Spec 8.2: ten alternating common pairs, then explorer.exe -> cmd.exe, flagged with z = 12.19."""
    pairs = [("services.exe", "cmd.exe"), ("explorer.exe", "notepad.exe")] * 10 + [("explorer.exe", "cmd.exe")]
    records = list(Search.compile(REFERENCE.read_text()).run(_pair_events(pairs)))
    assert len(records) == 1
    record = records[0]
    assert (record["parent_process_name"], record["process_name"], record["timestamp"]) == ("explorer.exe", "cmd.exe", 21000)
    assert record["output"] == pytest.approx(0.173554, abs=1e-6)
    assert record["input"] == pytest.approx(0.760566, abs=1e-6)
    assert record["mean"] == pytest.approx(-0.225630, abs=1e-6)
    assert record["variance"] == pytest.approx(0.00654653, abs=1e-8)
    z = (record["input"] - record["mean"]) / math.sqrt(record["variance"])
    assert z == pytest.approx(12.19, abs=0.01)
    assert record["entities"] == [] and record["label"] is True
    assert list(record) == [
        "parent_process_name", "process_name", "cmd_line", "timestamp", "dest_device_id", "dest_user_id",
        "output", "input", "mean", "variance", "label", "start_time", "end_time", "entities", "body",
    ]
    assert list(record["body"]) == [
        "process_name", "parent_process_name", "input", "mean", "variance", "output", "cmd_line",
    ]


def test_shipped_example_yields_detections_of_listed_children():
    records = list(Search.compile(REFERENCE.read_text()).run_files([str(EXAMPLE)]))
    assert records, "the quick-start sample must show the detection firing"
    for record in records:
        assert record["label"] is True and record["input"] > record["mean"]
        assert record["process_name"] in REFERENCE.read_text()
        assert "\\" not in record["parent_process_name"]
