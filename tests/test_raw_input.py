"""Raw Windows logs in: recognising each line's shape, converting it to what the source reads, end to end."""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/evtx_build.py

from conftest import EXAMPLE, RAW, REFERENCE, cli, cli_in_process, needs_raw
from spl_lite import Search
from spl_lite.io import evtx, formats, ocsf, windows
from spl_lite.io.formats import InputConverter, kind_of

EXAMPLES = EXAMPLE  # the enriched example events

SYSMON_NXLOG = {
    "EventID": 1, "SourceName": "Microsoft-Windows-Sysmon", "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Hostname": "WIN-DC-1.attackrange.local", "RecordNumber": 77, "UtcTime": "2020-07-20 13:29:52.123",
    "Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd.exe /c whoami",
    "ParentImage": "C:\\Windows\\explorer.exe", "ParentCommandLine": "C:\\Windows\\Explorer.EXE",
    "ProcessGuid": "{A}", "ParentProcessGuid": "{B}", "ProcessId": "4242", "ParentProcessId": "100",
    "User": "ATTACKRANGE\\Administrator", "IntegrityLevel": "High", "Hashes": "SHA1=AB,MD5=CD",
}
SECURITY_EVTX = {
    "ProviderName": "Microsoft-Windows-Security-Auditing", "EventID": 4688, "Channel": "Security",
    "Computer": "PC01.example.corp", "EventRecordID": 9, "TimeCreated": "2019-02-13T18:01:47.562000Z",
    "NewProcessName": "C:\\Windows\\System32\\whoami.exe", "CommandLine": "whoami /all",
    "ParentProcessName": "C:\\Windows\\System32\\cmd.exe", "NewProcessId": "0x1fc", "ProcessId": "0x278",
    "SubjectUserName": "alice", "SubjectDomainName": "EXAMPLE", "SubjectUserSid": "S-1-5-21-1-2-3-1104",
    "TargetUserName": "-", "TargetUserSid": "S-1-0-0", "MandatoryLabel": "S-1-16-8192",
}
SSA_EVENT = {
    "_time": "1602004409000", "event_id": "1", "process_name": "cmd.exe", "process": "cmd.exe /c dir",
    "process_path": "C:\\Windows\\System32\\cmd.exe", "parent_process_name": "C:\\Windows\\explorer.exe",
    "dest_device_id": "win-dc-6565071", "dest_user_id": "administrator", "_datamodels": ["Endpoint_Processes"],
}


def jsonl(path: Path, events) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def run(text: str, events, **kwargs) -> list[dict]:
    return list(Search.compile(text).run(events, **kwargs))


# ---- recognising lines ----

def test_every_kind_is_recognised():
    assert kind_of(SSA_EVENT) == formats.SSA
    assert kind_of({"input_event": SSA_EVENT}) == formats.ENVELOPE
    assert kind_of(ocsf.from_enriched(SSA_EVENT)) == formats.OCSF
    assert kind_of(SYSMON_NXLOG) == formats.RAW
    assert kind_of(SECURITY_EVTX) == formats.RAW
    assert kind_of({"n": 1}) == formats.PLAIN
    # `_raw` holding some other log's text is no Windows event.
    assert kind_of({"_raw": "Oct 11 22:14:15 host sshd[1]: hello", "process_name": "x"}) == formats.SSA


def test_ssa_format_and_uniform_auto_batches_hand_over_the_lines_untouched():
    events = [dict(SSA_EVENT, process_id=i) for i in range(100)]
    for fmt in ("ssa", "auto"):
        converted = InputConverter(fmt).convert(events)
        assert converted.shape("ssa") is events  # no per-record work at all
    ocsf_docs = [ocsf.from_enriched(e) for e in events]
    assert InputConverter("auto").convert(ocsf_docs).shape("ocsf") is ocsf_docs


def test_mixed_batch_each_line_by_its_kind_and_skips_counted():
    converter = InputConverter("auto")
    lines = [
        SSA_EVENT,
        SYSMON_NXLOG,
        {**SYSMON_NXLOG, "EventID": 3},  # network connection
        {"input_event": SSA_EVENT, "body": {"x": 1}},
        ocsf.from_enriched(SSA_EVENT),
        {**SECURITY_EVTX, "EventID": 4624},  # logon
        SECURITY_EVTX,
        {"_raw": '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'},  # cut short
    ]
    converted = converter.convert(lines)
    assert converted.length == 5
    ssa = converted.shape("ssa")
    assert [e.get("process_name") or e["input_event"]["process_name"] for e in ssa] == [
        "cmd.exe", "cmd.exe", "cmd.exe", "cmd.exe", "whoami.exe"
    ]
    assert ssa[0] is SSA_EVENT and ssa[2]["body"] == {"x": 1}
    assert ssa[3] == ocsf.to_enriched(ocsf.from_enriched(SSA_EVENT))
    docs = converted.shape("ocsf")
    assert all(d["class_uid"] == 1007 for d in docs)  # the envelope is unwrapped for G4
    assert converted.shape("ba")[2]["input_event"]["class_uid"] == 1007  # ... and kept for G3
    assert converter.normalised == 2
    assert dict(converter.skipped) == {formats.NOT_PROCESS_CREATION: 2, formats.UNREADABLE: 1}


@pytest.mark.parametrize(
    ("fmt", "kept", "skipped"),
    [
        ("windows", ["cmd.exe", "whoami.exe"], {formats.NOT_RAW: 1}),
        ("sysmon", ["cmd.exe"], {formats.NOT_RAW: 1, formats.OTHER_CHANNEL["sysmon"]: 1}),
        ("winsec", ["whoami.exe"], {formats.NOT_RAW: 1, formats.OTHER_CHANNEL["winsec"]: 1}),
    ],
)
def test_forced_raw_formats(fmt, kept, skipped):
    converter = InputConverter(fmt)
    converted = converter.convert([SYSMON_NXLOG, SSA_EVENT, SECURITY_EVTX])
    assert [e["process_name"] for e in converted.shape("ssa")] == kept
    assert dict(converter.skipped) == skipped


def test_forced_ocsf_format_converts_for_ssa_sources():
    doc = ocsf.from_enriched(SSA_EVENT)
    converted = InputConverter("ocsf").convert([doc])
    assert converted.shape("ssa") == [ocsf.to_enriched(doc)]
    assert converted.shape("ocsf") == [doc]


def test_a_known_shape_with_values_of_the_wrong_type_is_skipped_not_fatal():
    converter = InputConverter("auto")
    broken = {"winlog": {"event_id": 1, "provider_name": "Microsoft-Windows-Sysmon", "event_data": ["x"]}}
    assert converter.convert([broken, SYSMON_NXLOG]).length == 1
    assert dict(converter.skipped) == {formats.UNREADABLE: 1}


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown input format"):
        InputConverter("syslog")


# ---- the OCSF shape ----

def test_ocsf_from_raw_sysmon():
    doc = ocsf.from_process_creation(windows.process_creation(SYSMON_NXLOG))
    assert doc["time"] == 1595251792123
    assert doc["metadata"] == {
        "uid": "WIN-DC-1.attackrange.local/Microsoft-Windows-Sysmon/Operational/77",
        "product": {"name": "Sysmon", "vendor_name": "Microsoft"},
        "version": "1.0.0",
        "log_name": "Microsoft-Windows-Sysmon/Operational",
        "source": "Microsoft-Windows-Sysmon/Operational",
        "source_type": "nxlog",
        "event_code": "1",
    }
    # hostname as the log reports it; name and uuid the short lower-cased entity id of the SSA event
    assert doc["device"] == {"hostname": "WIN-DC-1.attackrange.local", "name": "win-dc-1", "uuid": "win-dc-1"}
    assert doc["process"]["pid"] == 4242 and doc["process"]["uid"] == "{A}"
    assert doc["process"]["file"] == {
        "name": "cmd.exe", "path": "C:\\Windows\\System32\\cmd.exe",
        "hashes": [{"algorithm": "SHA1", "algorithm_id": 2, "value": "AB"},
                   {"algorithm": "MD5", "algorithm_id": 1, "value": "CD"}],
    }
    user = {"name": "Administrator", "domain": "ATTACKRANGE", "uuid": "administrator"}
    assert doc["process"]["user"] == user and doc["process"]["integrity"] == "High"
    assert doc["actor"] == {
        "process": {"pid": 100, "uid": "{B}", "cmd_line": "C:\\Windows\\Explorer.EXE",
                    "file": {"name": "explorer.exe", "path": "C:\\Windows\\explorer.exe"}},
        "user": user,  # Sysmon before 13.30 has no ParentUser: the same account
    }
    with_parent_user = windows.process_creation({**SYSMON_NXLOG, "ParentUser": "NT AUTHORITY\\SYSTEM"})
    assert ocsf.from_process_creation(with_parent_user)["actor"]["user"] == {
        "name": "SYSTEM", "domain": "NT AUTHORITY", "uuid": "system"
    }


def test_ocsf_from_raw_4688():
    doc = ocsf.from_process_creation(windows.process_creation(SECURITY_EVTX))
    alice = {"name": "alice", "domain": "EXAMPLE", "uid": "S-1-5-21-1-2-3-1104", "uuid": "alice"}
    assert doc["process"] == {
        "pid": 0x1FC, "cmd_line": "whoami /all",
        "file": {"name": "whoami.exe", "path": "C:\\Windows\\System32\\whoami.exe"},
        "user": alice,  # Target Subject `-` / NULL SID: the creator's account
        "integrity": "Medium",
    }
    assert doc["actor"] == {
        "process": {"pid": 0x278, "file": {"name": "cmd.exe", "path": "C:\\Windows\\System32\\cmd.exe"}},
        "user": alice,
    }
    runas = windows.process_creation(
        {**SECURITY_EVTX, "TargetUserName": "bob", "TargetDomainName": "EXAMPLE", "TargetUserSid": "S-1-5-21-9"}
    )
    doc = ocsf.from_process_creation(runas)
    assert doc["process"]["user"]["name"] == "bob" and doc["actor"]["user"]["name"] == "alice"
    assert windows.enriched(runas)["dest_user_id"] == "bob"


def test_ocsf_and_enriched_round_trip_on_the_examples():
    for line in EXAMPLES.read_bytes().splitlines():
        event = orjson.loads(line)
        assert ocsf.to_enriched(ocsf.from_enriched(event)) == event


G3 = """| from read_ba_enriched_events()
| eval process = ucast(map_get(input_event, "process"), "map<string, any>", null)
| eval file = ucast(map_get(process, "file"), "map<string, any>", null)
| eval actor = ucast(map_get(input_event, "actor"), "map<string, any>", null)
| eval actor_process = ucast(map_get(actor, "process"), "map<string, any>", null)
| eval parent = ucast(map_get(ucast(map_get(actor_process, "file"), "map<string, any>", null), "name"), "string", null)
| eval name = ucast(map_get(file, "name"), "string", null), pid = ucast(map_get(process, "pid"), "long", null)
| where name = "cmd.exe"
| select name, parent, pid
| into write_ba_finding_events();
"""
G4 = """$main = from source
| eval name = process.file.name, host = device.hostname, user = actor.user.name, uid = metadata.uid
| where name = "cmd.exe"
| fields name, host, user, uid
| into sink;
"""


def test_g3_and_g4_read_raw_records():
    assert run(G3, [SYSMON_NXLOG, SECURITY_EVTX]) == [{"name": "cmd.exe", "parent": "explorer.exe", "pid": 4242}]
    assert run(G4, [SYSMON_NXLOG, SSA_EVENT]) == [
        {"name": "cmd.exe", "host": "WIN-DC-1.attackrange.local", "user": "Administrator",
         "uid": "WIN-DC-1.attackrange.local/Microsoft-Windows-Sysmon/Operational/77"},
        {"name": "cmd.exe", "host": "win-dc-6565071", "user": "administrator", "uid": None},
    ]


# ---- EVTX ----

SYSMON_EVTX_JSON = {"Event": {
    "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
    "System": {
        "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "5770385F-C22A-43E0-BF4C-06F5698FFBD9"}},
        "EventID": 1, "Version": 5, "Level": 4, "Task": 1, "Opcode": 0, "Keywords": "0x8000000000000000",
        "TimeCreated": {"#attributes": {"SystemTime": "2019-04-27T15:57:53.368863Z"}},
        "EventRecordID": 6577, "Correlation": None,
        "Execution": {"#attributes": {"ProcessID": 1800, "ThreadID": 2012}},
        "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "IEWIN7",
        "Security": {"#attributes": {"UserID": "S-1-5-18"}},
    },
    "EventData": {
        "UtcTime": "2019-04-27 15:57:53.368", "ProcessGuid": "365ABB72-7C01-5CC4-0000-00102B3E0C00",
        "ProcessId": 2680, "Image": "C:\\Users\\IEUser\\Downloads\\Flash_update.exe",
        "CommandLine": '"C:\\Users\\IEUser\\Downloads\\Flash_update.exe" ', "User": "IEWIN7\\IEUser",
        "ParentProcessGuid": "365ABB72-7ACC-5CC4-0000-0010B2470300", "ParentProcessId": 2772,
        "ParentImage": "C:\\Windows\\explorer.exe", "ParentCommandLine": "C:\\Windows\\Explorer.EXE",
    },
}}
SECURITY_EVTX_JSON = {"Event": {
    "System": {
        "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
        "EventID": {"#attributes": {"Qualifiers": 0}, "#text": 4688},
        "TimeCreated": {"#attributes": {"SystemTime": "2019-02-13T18:01:47.562000Z"}},
        "EventRecordID": 227695, "Channel": "Security", "Computer": "PC01.example.corp", "Security": None,
    },
    "EventData": {"NewProcessName": "C:\\Windows\\System32\\TSTheme.exe", "NewProcessId": "0x1fc",
                  "ProcessId": "0x278", "SubjectUserName": "PC01$", "CommandLine": ""},
}}


def test_evtx_json_flattens_to_the_evtx_shape():
    flat = evtx.flatten(SYSMON_EVTX_JSON)
    assert flat["ProviderName"] == "Microsoft-Windows-Sysmon" and flat["EventID"] == 1
    assert flat["TimeCreated"] == "2019-04-27T15:57:53.368863Z" and flat["SecurityUserID"] == "S-1-5-18"
    assert windows.detect_format(flat) == "evtx"
    event = windows.normalise(flat)
    assert (event["process_name"], event["parent_process_name"], event["dest_device_id"], event["dest_user_id"]) == (
        "Flash_update.exe", "C:\\Windows\\explorer.exe", "iewin7", "ieuser"
    )
    security = windows.normalise(evtx.flatten(SECURITY_EVTX_JSON))
    assert (security["event_id"], security["process_id"], security["parent_process_id"]) == ("4688", 0x1FC, 0x278)


def as_evtx_json(flat: dict) -> dict:
    """The inverse of the corpus's EVTX flattening: the `evtx` package's JSON of that record."""
    flat = dict(flat)
    flat.pop("_source_file", None)
    attrs = lambda **kv: {"#attributes": {k: v for k, v in kv.items() if v is not None}}  # noqa: E731
    system = {
        "Provider": attrs(Name=flat.pop("ProviderName", None), Guid=flat.pop("ProviderGuid", None)),
        **{k: flat.pop(k) for k in ("EventID", "Version", "Level", "Task", "Opcode", "Keywords") if k in flat},
        "TimeCreated": attrs(SystemTime=flat.pop("TimeCreated", None)),
        "EventRecordID": flat.pop("EventRecordID", None),
        "Execution": attrs(ProcessID=flat.pop("ExecutionProcessID", None), ThreadID=flat.pop("ExecutionThreadID", None)),
        **{k: flat.pop(k) for k in ("Channel", "Computer") if k in flat},
        "Security": attrs(UserID=flat.pop("SecurityUserID")) if "SecurityUserID" in flat else None,
    }
    return {"Event": {"System": system, "EventData": flat}}


@needs_raw
@pytest.mark.parametrize("relpath", ["evtx-attack-samples/evtx-attack-samples.jsonl.gz",
                                     "sigma-regression-data/sigma-regression-data.jsonl.gz"])
def test_evtx_flattening_matches_the_corpus_conversion(relpath):
    # The corpus's EVTX sources were flattened by the same rules from the same package's JSON.
    with gzip.open(RAW / relpath) as handle:
        for record in map(orjson.loads, handle):
            flat = evtx.flatten(as_evtx_json(record))
            assert flat == {k: v for k, v in record.items() if k != "_source_file"}
            assert windows.normalise(flat) == windows.normalise(record)


def test_evtx_reader_maps_each_record(tmp_path, monkeypatch):
    """The record iterator of the `evtx` package, mocked: batches, flattening, a bad record reported."""
    path = tmp_path / "Sysmon.evtx"
    path.write_bytes(evtx.MAGIC + b"\0" * 100)
    records = [{"event_record_id": 1, "data": orjson.dumps(SYSMON_EVTX_JSON).decode()},
               {"event_record_id": 2, "data": "{not json"},
               {"event_record_id": 3, "data": orjson.dumps(SECURITY_EVTX_JSON).decode()}]

    class Parser:
        def records_json(self):
            return iter(records)

    monkeypatch.setattr(evtx, "_parser", lambda p: Parser())
    bad: list[str] = []
    batches = list(evtx.read_batches(str(path), 2, bad.append))
    assert [[r["EventID"] for r in b] for b in batches] == [[1], [4688]]
    assert len(bad) == 1 and "record 2" in bad[0]
    assert evtx.is_evtx(str(path)) and not evtx.is_evtx(str(EXAMPLES))
    out = run(G4, (r for b in batches for r in b))
    assert [r["name"] for r in out] == []  # neither is cmd.exe; both normalised without error


FLAT_SYSMON = {
    "ProviderName": "Microsoft-Windows-Sysmon", "EventID": 1, "Version": 5, "Level": 4, "Task": 1, "Opcode": 0,
    "Keywords": "0x8000000000000000", "TimeCreated": "2019-04-27T15:57:53.368863Z", "EventRecordID": 6577,
    "ExecutionProcessID": 1800, "ExecutionThreadID": 2012, "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Computer": "IEWIN7", "SecurityUserID": "S-1-5-18", **SYSMON_EVTX_JSON["Event"]["EventData"],
}


def test_a_real_evtx_file_is_read(tmp_path):
    pytest.importorskip("evtx", reason="the optional `evtx` package is not installed (pip install 'spl-lite[evtx]')")
    from evtx_build import write_evtx

    path = tmp_path / "Sysmon.evtx"
    security = {**SECURITY_EVTX, "TimeCreated": "2019-02-13T18:01:47.562Z"}
    write_evtx(path, [FLAT_SYSMON, {**FLAT_SYSMON, "EventID": 3, "EventRecordID": 6578}, security])
    bad: list[str] = []
    records = [r for batch in evtx.read_batches(str(path), 2, bad.append) for r in batch]
    assert bad == [] and records[0] == FLAT_SYSMON and records[2]["NewProcessId"] == "0x1fc"
    assert [r["name"] for r in Search.compile(G4.replace('"cmd.exe"', '"cmd.exe" OR true')).run_files(
        [str(path)])] == ["Flash_update.exe", "whoami.exe"]
    result = cli_in_process("run", REFERENCE, "--input", path, "--progress")
    assert result.returncode == 0 and "1 skipped: not process creation" in result.err


@needs_raw
def test_evtx_file_gives_what_its_json_lines_give(tmp_path):
    pytest.importorskip("evtx", reason="the optional `evtx` package is not installed (pip install 'spl-lite[evtx]')")
    from evtx_build import write_evtx

    source = RAW / "evtx-attack-samples" / "evtx-attack-samples.jsonl.gz"
    with gzip.open(source) as handle:
        write_evtx(tmp_path / "samples.evtx", [orjson.loads(line) for line in handle])
    from_evtx = cli_in_process("run", REFERENCE, "--input", tmp_path / "samples.evtx")
    from_json = cli_in_process("run", REFERENCE, "--input", source)
    assert from_evtx.returncode == from_json.returncode == 0
    assert from_evtx.stdout == from_json.stdout and from_json.stdout.count(b"\n") == 50


def test_evtx_without_the_extra_says_how_to_install(tmp_path):
    path = tmp_path / "Security.evtx"
    path.write_bytes(evtx.MAGIC + b"\0" * 4088)
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "evtx.py").write_text("raise ImportError('blocked for the test')\n")
    import os

    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = cli("run", REFERENCE, "--input", path, env=env)
    assert result.returncode == 3
    assert "pip install 'spl-lite[evtx]'" in result.err and "Security.evtx" in result.err


def test_evtx_is_refused_by_formats_that_cannot_read_it(tmp_path):
    path = tmp_path / "Security.evtx"
    path.write_bytes(evtx.MAGIC + b"\0" * 4088)
    result = cli_in_process("run", REFERENCE, "--input", path, "--input-format", "ssa")
    assert result.returncode == 3 and "raw Windows records" in result.err


# ---- the CLI on raw files ----

def raw_file(relpath: str) -> Path:
    return RAW / relpath


@needs_raw
@pytest.mark.parametrize(
    ("relpath", "expected"),
    [
        ("splunk-wineventlog-4688/wineventlog_security_4688.jsonl.gz", 2),
        ("splunk-attack-data-xmlwineventlog/xmlwineventlog_process_creation.jsonl.gz", 45),
        ("sigma-regression-data/sigma-regression-data.jsonl.gz", 38),
        ("msticpy-sentinel-securityevent/processes_on_host.jsonl.gz", 1),
    ],
)
def test_reference_detection_runs_on_raw_files_with_no_flags(relpath, expected, tmp_path):
    result = cli_in_process("run", REFERENCE, "--input", raw_file(relpath))
    assert result.returncode == 0, result.err
    records = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == expected
    assert all(r["label"] is True and r["process_name"] for r in records)
    assert result.err == ""  # nothing skipped, nothing to warn about


@needs_raw
@pytest.mark.parametrize(
    "relpaths",
    [
        ["splunk-attack-data-nxlog/T1027_atomic_red_team.jsonl.gz", "splunk-attack-data-nxlog/T1047_atomic_red_team.jsonl.gz"],
        ["evtx-attack-samples/evtx-attack-samples.jsonl.gz"],
    ],
    ids=["nxlog-sysmon", "evtx-sysmon-and-4688"],
)
def test_raw_and_pre_normalised_give_identical_output(relpaths, tmp_path):
    raw = [raw_file(p) for p in relpaths]
    normalised = tmp_path / "normalised.jsonl"
    events = []
    for path in raw:
        with gzip.open(path) as handle:
            events += [windows.normalise(orjson.loads(line)) for line in handle]
    jsonl(normalised, events)
    from_raw = cli_in_process("run", REFERENCE, "--input", *raw)
    from_events = cli_in_process("run", REFERENCE, "--input", normalised, "--input-format", "ssa")
    assert from_raw.returncode == from_events.returncode == 0
    assert from_raw.stdout == from_events.stdout and from_raw.stdout.count(b"\n") > 0
    # G4 over raw records and over OCSF documents made from them in advance: the same.
    g4 = tmp_path / "g4.spl"
    g4.write_text(G4)
    documents = jsonl(tmp_path / "ocsf.jsonl", (ocsf.from_process_creation(windows.process_creation(orjson.loads(line)))
                                               for path in raw for line in gzip.open(path)))
    assert cli_in_process("run", g4, "--input", *raw).stdout == cli_in_process("run", g4, "--input", documents, "--input-format", "ocsf").stdout


@needs_raw
def test_skips_reach_the_summary(tmp_path):
    with gzip.open(raw_file("sigma-regression-data/sigma-regression-data.jsonl.gz")) as handle:
        records = [orjson.loads(line) for line in handle]
    mixed = jsonl(tmp_path / "mixed.jsonl", [*records[:20], *({**r, "EventID": 3} for r in records[20:23]), SSA_EVENT])
    result = cli_in_process("run", REFERENCE, "--input", mixed)
    assert result.returncode == 0
    assert "spl-lite: 20 raw Windows records normalised, 3 skipped: not process creation" in result.err
    sysmon_only = cli_in_process("run", REFERENCE, "--input", mixed, "--input-format", "winsec", "--progress")
    assert "20 skipped: not Security 4688 (--input-format winsec)" in sysmon_only.err
    assert "1 skipped: not a raw Windows record" in sysmon_only.err


@needs_raw
def test_workers_convert_raw_lines_too(tmp_path):
    with gzip.open(raw_file("sigma-regression-data/sigma-regression-data.jsonl.gz")) as handle:
        records = [orjson.loads(line) for line in handle]
    plain = jsonl(tmp_path / "sigma.jsonl", [x for r in records for x in (r, {**r, "EventID": 3})])
    runs = [cli_in_process("run", REFERENCE, "--input", plain, "--workers", n, "--batch-size", 16, "--progress") for n in (1, 2)]
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.count(b"\n") == 38
    for result in runs:
        assert "149 raw Windows records normalised, 149 skipped: not process creation" in result.err


def test_a_batch_of_enriched_events_becomes_the_documents_each_becomes_alone():
    """ocsf.from_enriched_events (flat batches, shared parts) writes the bytes from_enriched writes,
    key order included, for generated events and for odd values: nulls, missing keys, numbers and
    booleans where text is usual (1, 1.0 and True are one dict key), lists, maps (cleaned)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from generate_events import generate

    events = [orjson.loads(line) for line in generate(400, seed=5, rare_rate=0.05)]
    odd = [
        {},
        {"_time": "12a", "event_id": 1, "dest_device_id": 1, "dest_user_id": True, "process_name": 1.0},
        {"_time": None, "event_id": "4688", "dest_device_id": True, "dest_user_id": 1, "process_name": True},
        {"dest_device_id": 1.0, "dest_user_id": 1.0, "process_name": 1, "parent_process_name": 1},
        {"dest_device_id": None, "process_hash": "MD5=AB,bad", "parent_process_name": "C:/x/y.exe"},
        {"process": {"a": None, "b": {}}, "dest_user_id": "u", "parent_process_name": ["a"]},
        {"process_path": {"x": 1}, "process_name": "n.exe"},
        {"dest_device_id": "", "dest_user_id": "", "parent_process_name": "", "process_hash": ""},
    ]
    every = events + odd + events[:50]
    assert orjson.dumps(ocsf.from_enriched_events(every)) == orjson.dumps([ocsf.from_enriched(e) for e in every])
