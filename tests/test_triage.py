"""--time-format, --trace, --why and --provenance of `spl-lite run` (docs/triage.md)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import cli_in_process
from spl_lite.io.timeformat import iso_ms

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "searches" / "rare_parent_child_process_relationship.spl"
EXAMPLE = ROOT / "examples" / "process_creation.jsonl"
RAW_XML = ROOT / "searches" / "tests" / "data" / "splunk-attack-data-xmlwineventlog.jsonl"
BURST = ROOT / "searches" / "lolbas_burst_per_host.spl"


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def plain():
    result = cli_in_process("run", REFERENCE, "--input", EXAMPLE)
    assert result.returncode == 0
    return result


# ---- --time-format ----

def test_iso_ms():
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(1543883486986) == "2018-12-04T00:31:26.986Z"
    assert iso_ms(-1) == "1969-12-31T23:59:59.999Z"
    assert iso_ms(1543883486986.7) == "2018-12-04T00:31:26.986Z"
    for value in ("2018", None, True, [1], float("nan"), 10**20):
        assert iso_ms(value) is value


def test_time_format_iso_changes_only_time_fields(plain):
    iso = cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--time-format", "iso")
    epoch = cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--time-format", "epoch")
    assert epoch.stdout == plain.stdout  # the default, byte for byte
    before, after = records(plain.out), records(iso.out)
    assert len(after) == 14
    assert after[0]["timestamp"] == after[0]["start_time"] == after[0]["end_time"] == "2018-12-04T00:31:26.986Z"
    for old, new in zip(before, after):
        for name in ("timestamp", "start_time", "end_time"):
            assert new[name] == iso_ms(old[name])
        assert {k: v for k, v in new.items() if k not in ("timestamp", "start_time", "end_time")} == \
               {k: v for k, v in old.items() if k not in ("timestamp", "start_time", "end_time")}


def test_time_format_iso_windows():
    out = records(cli_in_process("run", BURST, "--input", ROOT / "searches/tests/data/eqllib-sysmon.jsonl",
                                 "--time-format", "iso").out)
    assert out and all(r["window_start"].endswith(":00.000Z") and r["window_trigger"].endswith(":59.999Z")
                       for r in out)


# ---- --trace ----

def test_trace_funnel_and_json(plain, tmp_path):
    trace_file = tmp_path / "trace.json"
    result = cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--trace", "--trace-json", trace_file)
    assert result.stdout == plain.stdout
    assert "trace: rare_parent_child_process_relationship" in result.err
    assert "14 records out, 0 late records dropped" in result.err
    document = json.loads(trace_file.read_text())
    [search] = document["searches"]
    assert search["records_out"] == 14 and search["late_records_dropped"] == 0
    counts = [(s["command"], s["records_in"], s["records_out"]) for s in search["stages"]]
    assert counts == [("from", 1089, 1089), ("eval", 1089, 1089), ("eval", 1089, 1089), ("where", 1089, 1089),
                      ("select", 1089, 1089), ("conditional_anomaly", 1089, 1089), ("where", 1089, 436),
                      ("eval", 436, 436), ("adaptive_threshold", 436, 436), ("where", 436, 14),
                      ("eval", 14, 14), ("into", 14, 0)]


def test_trace_stats_counts_late_and_released_at_end(tmp_path):
    trace_file = tmp_path / "trace.json"
    data = sorted((ROOT / "searches/tests/data").glob("*.jsonl"))
    result = cli_in_process("run", BURST, "--input", *data, "--trace-json", trace_file)
    [search] = json.loads(trace_file.read_text())["searches"]
    stats = next(s for s in search["stages"] if s["command"] == "stats")
    assert search["late_records_dropped"] == 10 and stats["released_at_end"] == 1
    assert search["records_out"] == len(records(result.out))


# ---- --why ----

def test_why_each_detection_of_the_example(plain, tmp_path):
    provenance = records(cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--provenance").out)
    lines = [r["provenance"]["line"] for r in provenance]
    assert len(lines) == 14
    trace_file = tmp_path / "why.json"
    args = [arg for line in lines for arg in ("--why", f"line:{line}")]
    result = cli_in_process("run", REFERENCE, "--input", EXAMPLE, *args, "--trace-json", trace_file)
    assert result.stdout == plain.stdout
    why = json.loads(trace_file.read_text())["why"]
    assert [w["line"] for w in why] == lines
    for entry, detection in zip(why, records(plain.out)):
        steps = entry["searches"]["rare_parent_child_process_relationship"]
        assert [s["status"] for s in steps] == ["passed"] * 11 + ["written"]
        scored = steps[8]["record"]
        assert steps[8]["command"] == "adaptive_threshold" and scored["label"] is True
        for name in ("output", "input", "mean", "variance"):
            assert scored[name] == detection[name]
    assert result.err.count("=> written to the output (a detection)") == 14


def test_why_numbers_of_a_detection_and_of_an_event_not_flagged():
    result = cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--why", "line:26", "--why", "line:27")
    flagged, missed = result.err.split("why line:27: ")
    assert "why line:26: " in flagged and flagged.rstrip().endswith("=> written to the output (a detection)")
    assert "set: output=0.8125" in flagged
    assert "set: input=0.090176630349088" in flagged
    assert "set: mean=-0.26057532139339534, variance=0.005832509902008642, label=True" in flagged
    assert "= 4.592745220931259, p = Phi(z) = 0.9999978127349651; label = p < 0.001 or p > 0.999 -> True" in flagged
    assert "set: output=1.588235294117647" in missed
    assert "set: mean=-0.24708486171099212, variance=0.010157995159148892, label=False" in missed
    assert "= 0.458095527691405, p = Phi(z) = 0.6765580940634657; label = p < 0.001 or p > 0.999 -> False" in missed
    assert "#9 where label AND input > mean: DROPPED here" in missed
    assert "it read: input=-0.20091484278071337, label=False, mean=-0.24708486171099212" in missed
    assert missed.rstrip().endswith("=> dropped by #9")
    # the numbers are the gaussian test of streaming_ml.py
    z = (-0.20091484278071337 - -0.24708486171099212) / math.sqrt(0.010157995159148892)
    assert z == pytest.approx(0.458095527691405, rel=1e-12)


def test_why_field_selector_and_no_match():
    result = cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--why", "process_name=RegSvcs.exe",
                            "--why", "process_name=nothing.exe")
    assert "why process_name=RegSvcs.exe: " in result.err and f"{EXAMPLE}:27" in result.err
    assert "why process_name=nothing.exe: no input event matched" in result.err


def test_why_event_dropped_early():
    result = cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--why", "line:491")  # whoami.exe: no LOLBin
    assert "it read: process_name=whoami.exe" in result.err
    assert "#6 where process_name=" in result.err and "DROPPED here" in result.err
    assert "=> dropped by #6" in result.err and "#7" not in result.err


def test_why_bad_selector():
    result = cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--why", "nonsense")
    assert result.returncode != 0 and "line:N" in result.err


# ---- --provenance ----

def test_provenance_points_at_the_input_line(plain):
    out = records(cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--provenance").out)
    source = EXAMPLE.read_text().splitlines()
    assert [{k: v for k, v in r.items() if k != "provenance"} for r in out] == records(plain.out)
    for record in out:
        assert record["provenance"]["file"] == str(EXAMPLE)
        event = json.loads(source[record["provenance"]["line"] - 1])
        assert int(event["_time"]) == record["timestamp"] and event["process"] == record["cmd_line"]


def test_provenance_counts_bad_and_blank_lines(tmp_path):
    lines = EXAMPLE.read_text().splitlines()
    messy = tmp_path / "messy.jsonl"
    messy.write_text("\n".join(["", "not json", *lines[:10], "", "[1]", *lines[10:]]) + "\n")
    out = records(cli_in_process("run", REFERENCE, "--input", messy, "--provenance").out)
    text = messy.read_text().splitlines()
    assert len(out) == 14
    for record in out:
        assert json.loads(text[record["provenance"]["line"] - 1])["process"] == record["cmd_line"]


def test_provenance_raw_windows_record_id():
    out = records(cli_in_process("run", ROOT / "searches/first_seen_parent_child_per_host.spl",
                                 "--input", RAW_XML, "--provenance").out)
    text = RAW_XML.read_text().splitlines()
    assert out
    for record in out:
        where = record["provenance"]
        raw = text[where["line"] - 1]
        assert f"<EventRecordID>{where['record_id']}</EventRecordID>" in raw
        assert where["computer"] and where["computer"] in raw


def test_provenance_with_state_resume(tmp_path):
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    growing, state = tmp_path / "events.jsonl", tmp_path / "state"
    growing.write_text("".join(lines[:500]))
    first = cli_in_process("run", REFERENCE, "--input", growing, "--provenance", "--state", state)
    with growing.open("a") as handle:
        handle.write("".join(lines[500:]))
    second = cli_in_process("run", REFERENCE, "--input", growing, "--provenance", "--state", state)
    whole = cli_in_process("run", REFERENCE, "--input", growing, "--provenance")
    resumed = records(first.out) + records(second.out)
    assert records(first.out) and records(second.out)
    assert resumed == records(whole.out)


def test_provenance_with_workers_runs_in_one_process(plain):
    result = cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--provenance", "--workers", "2")
    assert "--workers is not used with --provenance" in result.err
    assert len(records(result.out)) == 14


def test_provenance_not_on_aggregates():
    result = cli_in_process("run", BURST, "--input", ROOT / "searches/tests/data/eqllib-sysmon.jsonl", "--provenance")
    assert records(result.out) and all("provenance" not in r for r in records(result.out))
    assert "no provenance on the records of lolbas_burst_per_host (aggregated by stats)" in result.err


def test_provenance_evtx_record_number(tmp_path):
    pytest.importorskip("evtx", reason="the optional `evtx` package is not installed (pip install 'spl-lite[evtx]')")
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from evtx_build import write_evtx
    from test_raw_input import FLAT_SYSMON

    path = tmp_path / "Sysmon.evtx"
    write_evtx(path, [{**FLAT_SYSMON, "EventID": 3, "EventRecordID": 6577},
                      {**FLAT_SYSMON, "EventRecordID": 6578}, {**FLAT_SYSMON, "EventRecordID": 6590}])
    search = tmp_path / "all.spl"
    search.write_text('| from read_ssa_enriched_events() | eval n = map_get(input_event, "process_name") '
                      "| select n | into write_ssa_detected_events();")
    out = records(cli_in_process("run", search, "--input", path, "--provenance").out)
    assert [r["provenance"] for r in out] == [
        {"file": str(path), "line": 2, "record_id": 6578, "computer": FLAT_SYSMON["Computer"]},
        {"file": str(path), "line": 3, "record_id": 6590, "computer": FLAT_SYSMON["Computer"]},
    ]


RAW_SEARCH = """| from read_ssa_enriched_events()
| eval raw = map_get(input_event, "raw")
| eval integrity = map_get(raw, "IntegrityLevel"), cwd = map_get(raw, "CurrentDirectory"),
    logon = map_get(raw, "LogonId"), record = map_get(raw, "EventRecordID"), label = map_get(raw, "MandatoryLabel")
| select integrity, cwd, logon, record, label
| into write_ssa_detected_events();
"""


def test_raw_fields_reach_the_search(tmp_path):
    search = tmp_path / "raw.spl"
    search.write_text(RAW_SEARCH)
    sysmon = records(cli_in_process("run", search, "--input", RAW_XML, "--raw-fields").out)
    first = RAW_XML.read_text().splitlines()[0]
    assert sysmon[0]["integrity"] and f"<Data Name='IntegrityLevel'>{sysmon[0]['integrity']}</Data>" in first
    assert f"<Data Name='CurrentDirectory'>{sysmon[0]['cwd']}</Data>" in first.replace("\\\\", "\\")
    assert sysmon[0]["logon"] and sysmon[0]["record"]
    security = records(cli_in_process("run", search, "--input", ROOT / "searches/tests/data/otrf-security-datasets.jsonl",
                                      "--raw-fields").out)
    assert security[0]["label"] == "S-1-16-16384"  # 4688's MandatoryLabel
    # without the flag the events are as before: no `raw`
    plain = records(cli_in_process("run", search, "--input", RAW_XML).out)
    assert set(map(str, plain[0].values())) == {"None"}


def test_raw_fields_leave_other_records_alone(plain):
    assert cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--raw-fields").stdout == plain.stdout
