"""Raw Windows JSON records read in part (io/windows_columns.py) give what the whole-event path gives."""
from __future__ import annotations

import gzip
import random

import orjson
import pytest

from conftest import RAW, REFERENCE, cli_in_process, needs_raw
from spl_lite.io import windows
from spl_lite.io.formats import InputConverter
from spl_lite.io.projection import ProjectedDecoder
from spl_lite.io.windows_columns import _ENRICHED_KEYS, WindowsJsonDecoder

# Every key of an enriched event, and one that none has.
EVERY_KEY = frozenset(_ENRICHED_KEYS) | {"not_a_key"}
REFERENCE_KEYS = frozenset(("_time", "parent_process_name", "process_name", "process", "dest_user_id",
                            "dest_device_id", "event_id"))
# Directories whose records are all of the flat JSON shapes the decoder reads (no block declined).
READ_IN_PART = ("splunk-attack-data-nxlog", "evtx-attack-samples", "msticpy-sentinel-securityevent",
                "eqllib-sysmon", "sigma-regression-data", "otrf-security-datasets", "otrf-security-datasets-legacy")

NXLOG_SYSMON = {
    "EventID": 1, "SourceName": "Microsoft-Windows-Sysmon", "Channel": "Microsoft-Windows-Sysmon/Operational",
    "Hostname": "WIN-DC-1.attackrange.local", "UtcTime": "2020-07-20 13:29:52.123",
    "Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd.exe /c echo 1 &gt; out.txt",
    "ParentImage": "C:\\Windows\\explorer.exe", "ParentCommandLine": "C:\\Windows\\Explorer.EXE",
    "ProcessGuid": "{A}", "ParentProcessGuid": "{B}", "ProcessId": "4242", "ParentProcessId": 100,
    "User": "ATTACKRANGE\\Administrator", "Hashes": "SHA1=AB",
}
EVTX_4688 = {
    "ProviderName": "Microsoft-Windows-Security-Auditing", "EventID": 4688, "Channel": "Security",
    "Computer": "PC01.example.corp", "TimeCreated": "2019-02-13T18:01:47.562000Z",
    "NewProcessName": "C:\\Windows\\System32\\whoami.exe", "CommandLine": "whoami /all",
    "ParentProcessName": "C:\\Windows\\System32\\cmd.exe", "NewProcessId": "0x1fc", "ProcessId": "0x278",
    "SubjectUserName": "alice", "TargetUserName": "-",
}


def whole_path(lines: list[bytes]) -> tuple[list[dict], InputConverter]:
    converter = InputConverter("auto")
    return converter.convert([orjson.loads(line) for line in lines]).shape("ssa"), converter


def assert_same(lines: list[bytes], keys: frozenset[str] = EVERY_KEY) -> None:
    """The decoder serves these lines, with the events and counts of the whole-event path."""
    decoded = WindowsJsonDecoder(keys).decode_block(b"\n".join(lines) + b"\n")
    assert decoded is not None, "declined"
    converter = InputConverter("auto")
    fast = converter.convert(decoded).shape("ssa")
    slow, expected = whole_path(lines)
    assert (converter.lines, converter.normalised, converter.skipped) == \
           (expected.lines, expected.normalised, expected.skipped)
    assert len(fast) == len(slow)
    for key in keys:
        assert orjson.dumps(fast.key(key).tolist()) == orjson.dumps([event.get(key) for event in slow]), key


def lines_of(*records: dict) -> list[bytes]:
    return [orjson.dumps(record) for record in records]


@needs_raw
@pytest.mark.parametrize("keys", [EVERY_KEY, REFERENCE_KEYS], ids=["every key", "reference keys"])
def test_every_file_of_the_corpus_reads_as_the_whole_event_path_reads_it(keys):
    decoder = WindowsJsonDecoder(keys)
    files = sorted(RAW.glob("*/*.jsonl.gz"))
    assert files
    served = 0
    for path in files:
        lines = [line.rstrip(b"\r\n") for line in gzip.open(path) if line.strip()]
        for first in range(0, len(lines), 1024):
            block = lines[first:first + 1024]
            decoded = decoder.decode_block(b"\n".join(block) + b"\n")
            if decoded is None:
                assert path.parent.name not in READ_IN_PART, f"{path.name}: block at line {first + 1} declined"
                continue
            served += 1
            assert_same(block, keys)
    assert served > 0


def test_missing_null_and_odd_values_are_normalised_as_record_by_record():
    assert_same(lines_of(
        NXLOG_SYSMON,
        {**NXLOG_SYSMON, "Image": None, "User": None, "UtcTime": None, "Hostname": "10.0.0.5"},
        {k: v for k, v in NXLOG_SYSMON.items() if k not in ("CommandLine", "ParentImage", "UtcTime")},
        {**NXLOG_SYSMON, "ParentImage": "-", "CommandLine": " ", "ProcessId": "x", "User": "NT AUTHORITY\\SYSTEM"},
        {**NXLOG_SYSMON, "EventID": 5, "Image": "C:\\a.exe"},  # not a process creation
        {**NXLOG_SYSMON, "SourceName": "Something else"},
        EVTX_4688,
        {**EVTX_4688, "TargetUserName": "bob", "EventID": "4688", "NewProcessName": "C:\\dir\\"},
        {**EVTX_4688, "TimeCreated": "2019-13-13T18:01:47Z"},  # month 13: unreadable, skipped
        {"EventId": 1, "Image": "C:\\x\\Y.EXE", "ParentImage": "C:\\p.exe", "User": "ART\\bob",
         "UtcTime": "2018-12-04 00:31:24.1"},  # eqllib: no provider, no host
        {"EventId": 1, "UtcTime": "2018-12-04 00:31:24"},  # eqllib without Image: no Sysmon
        {**EVTX_4688, "TimeGenerated": "2019-01-15 04:15:26.5", "EventID": "4688", "ProviderName": None},
    ))


@pytest.mark.parametrize("text", ["plain", "1 &gt; out.txt", "&amp;lt;", "&lt;&gt;&quot;&apos;&amp;", "&&amp;amp;;",
                                  "&quot", "a & b", "&#60;", "&AMP;"])
def test_nxlog_event_data_is_unescaped_as_xml_sax_unescapes_it(text):
    from xml.sax.saxutils import unescape

    assert windows.xml_unescaped(text) == unescape(text, {"&quot;": '"', "&apos;": "'"})
    assert_same(lines_of({**NXLOG_SYSMON, "CommandLine": text, "Image": f"C:\\{text}.exe", "User": f"D\\{text}"}))


def test_a_rendered_message_fills_what_the_record_lacks():
    message = ("Process Create:\r\nUtcTime: 2020-07-20 13:29:52.999\r\nImage: C:\\from\\message.exe\r\n"
               "CommandLine: from message\r\nUser: DOM\\carol")
    lacking = {k: v for k, v in NXLOG_SYSMON.items() if k not in ("Image", "CommandLine", "UtcTime")}
    assert_same(lines_of({**lacking, "Message": message}, {**NXLOG_SYSMON, "Message": message},
                         {**lacking, "Message": None}))


def test_winlogbeat_event_data_is_read_inside_its_object():
    data = {k: v for k, v in NXLOG_SYSMON.items() if k in ("UtcTime", "Image", "CommandLine", "ParentImage", "User")}
    beat = {"event_id": 1, "source_name": "Microsoft-Windows-Sysmon", "log_name": "Microsoft-Windows-Sysmon/Operational",
            "computer_name": "HR001.shire.com", "@timestamp": "2020-07-20T13:29:53.000Z", "event_data": data,
            "Hostname": "not this one", "Image": "C:\\not\\this.exe"}
    message = "Process Create:\nImage: C:\\from\\message.exe\nUser: X\\eve"
    assert_same(lines_of(
        beat,
        {**beat, "event_data": {k: v for k, v in data.items() if k != "Image"}, "message": message},
        {**beat, "event_data": {k: v for k, v in data.items() if k != "Image"}, "message": None},
        {**beat, "event_data": {}, "source_name": None, "log_name": None},  # no provider, no Image: no Sysmon
        {**beat, "event_id": 4688, "source_name": "Microsoft-Windows-Security-Auditing", "log_name": "Security",
         "event_data": {"NewProcessName": "C:\\w.exe", "SubjectUserName": "bob", "TargetUserName": "-"}},
        {**NXLOG_SYSMON, "event_data": data},  # no event_id: an NXLog record, its event_data ignored
    ))


def test_winlogbeat_ecs_records_are_read_inside_winlog():
    data = {k: v for k, v in NXLOG_SYSMON.items() if k in ("UtcTime", "Image", "CommandLine", "ParentImage", "User")}
    winlog = {"event_id": 1, "provider_name": "Microsoft-Windows-Sysmon", "channel": "Microsoft-Windows-Sysmon/Operational",
              "computer_name": "HR001.shire.com", "record_id": 7, "event_data": data}
    ecs = {"@timestamp": "2020-07-20T13:29:53.000Z", "winlog": winlog, "host": {"name": "from-host.shire.com"},
           "event": {"code": 1}, "Image": "C:\\not\\this.exe", "EventID": 4688}
    message = "Process Create:\nImage: C:\\from\\message.exe\nUser: X\\eve"
    security = {"event_id": "4688", "provider_name": "Microsoft-Windows-Security-Auditing", "channel": "Security",
                "event_data": {"NewProcessName": "C:\\w.exe", "SubjectUserName": "bob", "TargetUserName": "-"}}
    assert_same(lines_of(
        ecs,
        {**ecs, "winlog": {**winlog, "computer_name": ""}},  # the host's name instead
        {**ecs, "winlog": {**winlog, "computer_name": None}, "host": "a text"},  # .get of a text: unreadable
        {**ecs, "winlog": {**winlog, "computer_name": None}, "host": {"name": ["a", "list"]}},
        {**ecs, "winlog": {**winlog, "computer_name": None}, "host": None},
        {**ecs, "winlog": {k: v for k, v in winlog.items() if k != "computer_name"}, "host": {"name": 5}},
        {**ecs, "winlog": {**winlog, "event_data": {k: v for k, v in data.items() if k != "Image"}}, "message": message},
        {**ecs, "winlog": {**winlog, "event_data": None, "provider_name": None, "channel": None}},  # no Image: no Sysmon
        {**ecs, "winlog": {**winlog, "event_data": {}}, "message": message},
        {**ecs, "winlog": {**winlog, "event_id": 3}},  # not a process creation
        {**ecs, "winlog": security},
        {**ecs, "winlog": {**security, "computer_name": "dc01"}, "@timestamp": "13/45/2020"},  # unreadable time
        {**NXLOG_SYSMON, "host": "wec.internal"},  # another shape beside: its `host` unread
        {"event_id": 1, "source_name": "Microsoft-Windows-Sysmon", "event_data": data, "computer_name": "W6"},
    ))


def test_event_data_text_is_merged_as_the_whole_event_path_merges_it():
    xml = '<EventData><Data Name="NewProcessName">C:\\w.exe</Data><Data Name="CommandLine">w &amp; x</Data></EventData>'
    assert_same(lines_of({**EVTX_4688, "TimeGenerated": "2019-01-15 04:15:26", "EventData": xml},
                         {**EVTX_4688, "TimeGenerated": "2019-01-15 04:15:26", "EventData": "<broken"},
                         {**EVTX_4688, "TimeGenerated": "2019-01-15 04:15:26", "EventData": {"not": "text"}}))


@pytest.mark.parametrize("odd", [
    {"Image": 1.5}, {"CommandLine": ["a"]}, {"EventID": True}, {"User": {"n": 1}}, {"ProcessId": 2**64 - 1},
], ids=["float", "list", "bool", "object", "beyond int64"])
def test_a_value_of_another_type_declines_the_block(odd):
    # The whole-event path decides these (str() of a float, a list, ...): the block goes there.
    assert WindowsJsonDecoder(EVERY_KEY).decode_block(orjson.dumps({**NXLOG_SYSMON, **odd}) + b"\n") is None


@pytest.mark.parametrize("other", [
    {"process_name": "cmd.exe", "process_path": "C:\\cmd.exe"},  # a flat SSA event
    {"input_event": {"process_name": "cmd.exe"}},  # a stream record
    {"_raw": "<Event/>"}, {"class_uid": 1007}, {"event_data": "text", "event_id": 1},
    {"EventID": 1, "Image": "C:\\x.exe"},  # EventID but no shape detect_format knows: a plain line
    {"winlog": None}, {"winlog": "text"}, {"winlog": {"event_data": "text"}}, {"winlog": {"event_id": 1.5}},
], ids=["ssa", "stream record", "xml", "ocsf", "event_data text", "plain", "winlog null", "winlog text",
        "winlog event_data text", "winlog event_id float"])
def test_a_block_holding_another_shape_is_declined(other):
    block = b"\n".join([orjson.dumps(NXLOG_SYSMON), orjson.dumps(other)]) + b"\n"
    assert WindowsJsonDecoder(EVERY_KEY).decode_block(block) is None


def test_the_projected_decoder_serves_flat_then_raw_then_flat_blocks():
    decoder = ProjectedDecoder(REFERENCE_KEYS, "auto")
    flat = orjson.dumps({"process_name": "a.exe", "parent_process_name": "b.exe"}) + b"\n"
    raw = orjson.dumps(NXLOG_SYSMON) + b"\n"
    kinds = [decoder.decode_block(block).skips is None for block in (flat, raw, raw, flat)]
    assert kinds == [True, False, False, True]
    # `ssa` uses lines as they are: only `auto` recognises raw records.
    assert ProjectedDecoder(REFERENCE_KEYS, "ssa").decode_block(raw).skips is None


@needs_raw
@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_reference_search_gives_the_same_bytes_as_whole_events(tmp_path, workers):
    path = tmp_path / "raw.jsonl"
    flat = orjson.dumps({"process_name": "cmd.exe", "parent_process_name": "C:\\x\\explorer.exe", "_time": "1"})
    with open(path, "wb") as out:
        for directory in READ_IN_PART + ("otrf-security-datasets",):
            for part in sorted((RAW / directory).glob("*.jsonl.gz")):
                out.write(gzip.open(part).read())
            out.write(flat + b"\n")  # a change of shape between blocks
    fast = cli_in_process("run", REFERENCE, "--input", path, "--no-progress", "--workers", workers)
    plain = cli_in_process("run", REFERENCE, "--input", path, "--no-progress", "--whole-events")
    assert fast.returncode == plain.returncode == 0, fast.err + plain.err
    assert fast.stdout == plain.stdout and fast.stdout.count(b"\n") > 10


def test_times_parsed_a_block_at_once_are_those_parsed_one_by_one():
    from spl_lite.io.windows import _parse_time, iso_times_ms

    rnd = random.Random(5)
    values = ["2019-02-13T18:01:47.562000Z", "2020-07-20 13:29:52.1", "2020-07-20 13:29:52", "2020-07-20T13:29:52Z",
              "2020-13-20 13:29:52", "0000-01-01 00:00:00", "2020-07-20 13:29:52.", "2020-07-20 13:29:52.Z",
              "2020-07-20 13:29:52+01:00", " 2020-07-20 13:29:52", "2020-02-31 99:99:99.999", "1600-02-29 00:00:00",
              "1969-12-31 23:59:59.9999999Z", "2020-07-20 13:29:52,12a", "２020-07-20 13:29:52", 5, None,
              "1/2/2020 1:02:03 PM"]
    base = list("2019-02-13T18:01:47.562000Z")
    for _ in range(3000):  # the common layout, with a few characters changed
        text = base[:rnd.randint(17, 28)]
        for _ in range(rnd.randint(0, 3)):
            text[rnd.randrange(len(text))] = rnd.choice("0123456789-: TZ.,+a")
        values.append("".join(text))
    values += [f"{rnd.randint(1, 9999):04d}-{rnd.randint(0, 13):02d}-{rnd.randint(0, 99):02d} {rnd.randint(0, 99):02d}:"
               f"{rnd.randint(0, 99):02d}:{rnd.randint(0, 99):02d}.{rnd.randint(0, 10**7)}" for _ in range(1000)]
    fast = iso_times_ms(values)
    assert sum(found is not None for found in fast) > 1000
    for value, found in zip(values, fast):
        if found is not None:
            assert found == _parse_time(value), value
    # A few values at a time are parsed one by one: what _parse_time gives, None where it raises.
    few = [found for start in range(0, len(values), 50) for found in iso_times_ms(values[start:start + 50])]
    for value, found, at_once in zip(values, few, fast):
        try:
            expected = _parse_time(value)
        except ValueError:
            expected = None
        assert found == expected, value
        assert at_once is None or found == at_once, value
    assert any(found is not None and at_once is None for found, at_once in zip(few, fast))  # other layouts too


def as_winlogbeat_ecs(record: dict) -> dict:
    """A Winlogbeat 6 record as Winlogbeat 7+ (ECS) writes the same event."""
    return {"@timestamp": record.get("@timestamp"), "message": record.get("message"), "host": record.get("host"),
            "winlog": {"event_id": record["event_id"], "provider_name": record.get("source_name"),
                       "channel": record.get("log_name"), "computer_name": record.get("computer_name"),
                       "record_id": record.get("record_number"), "event_data": record["event_data"]}}


@needs_raw
@pytest.mark.parametrize("workers", ["1", "2"])
def test_winlogbeat_ecs_gives_the_same_bytes_as_whole_events(tmp_path, workers):
    # No ECS export is in the corpus: its Winlogbeat 6 records, re-shaped, and the other records beside.
    path = tmp_path / "ecs.jsonl"
    ecs = 0
    with open(path, "wb") as out:
        for part in sorted(RAW.glob("otrf-security-datasets*/*.jsonl.gz")):
            for line in gzip.open(part):
                record = orjson.loads(line)
                if isinstance(record.get("event_data"), dict) and "event_id" in record:
                    record, ecs = as_winlogbeat_ecs(record), ecs + 1
                out.write(orjson.dumps(record) + b"\n")
    assert ecs > 500
    fast = cli_in_process("run", REFERENCE, "--input", path, "--no-progress", "--workers", workers)
    plain = cli_in_process("run", REFERENCE, "--input", path, "--no-progress", "--whole-events")
    assert fast.returncode == plain.returncode == 0, fast.err + plain.err
    assert fast.stdout == plain.stdout and fast.stdout.count(b"\n") > 10
