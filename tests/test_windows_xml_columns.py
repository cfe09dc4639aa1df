"""XmlWinEventLog records read in part (io/windows_xml_columns.py) give what the whole-event path gives."""
from __future__ import annotations

import gzip

import orjson
import pytest

import spl_lite.io.windows_columns as windows_columns
from conftest import RAW, REFERENCE, cli_in_process, needs_raw
from spl_lite.io.formats import InputConverter
from spl_lite.io.projection import ProjectedDecoder
from spl_lite.io.windows_columns import _ENRICHED_KEYS
from spl_lite.io.windows_xml_columns import WindowsXmlDecoder

EVERY_KEY = frozenset(_ENRICHED_KEYS) | {"not_a_key"}
REFERENCE_KEYS = frozenset(("_time", "parent_process_name", "process_name", "process", "dest_user_id",
                            "dest_device_id", "event_id"))
XML_DIRECTORY = "splunk-attack-data-xmlwineventlog"
CLASSIC_DIRECTORY = "splunk-wineventlog-4688"  # classic WinEventLog text in `_raw`

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
SYSMON_PROVIDER = "<Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'/>"
SYSMON_CHANNEL = "<Channel>Microsoft-Windows-Sysmon/Operational</Channel>"
SYSMON_SYSTEM = (f"{SYSMON_PROVIDER}<EventID>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task>"
                 "<Opcode>0</Opcode>"
                 "<Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime='2025-10-24T14:07:52.094045400Z'/>"
                 "<EventRecordID>83570</EventRecordID><Correlation/><Execution ProcessID='2480' ThreadID='3748'/>"
                 f"{SYSMON_CHANNEL}<Computer>ar-win-1.corp.local</Computer>"
                 "<Security UserID='S-1-5-18'/>")
SYSMON_DATA = {"RuleName": "-", "UtcTime": "2025-10-24 14:07:52.091", "ProcessGuid": "{2d9b1c52-8838}",
               "ProcessId": "4176", "Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd.exe /c echo hi",
               "User": "CORP\\Alice", "Hashes": "MD5=E30C", "ParentProcessGuid": "{2d9b1c52-0eb0}",
               "ParentProcessId": "2452", "ParentImage": "C:\\Windows\\explorer.exe",
               "ParentCommandLine": "C:\\Windows\\Explorer.EXE"}
SECURITY_SYSTEM = ("<Provider Name='Microsoft-Windows-Security-Auditing' "
                   "Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/>"
                   "<EventID>4688</EventID><Version>2</Version><Level>0</Level><Task>13312</Task><Opcode>0</Opcode>"
                   "<Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime='2025-10-24T14:07:52.091131100Z'/>"
                   "<EventRecordID>246274</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='3688'/>"
                   "<Channel>Security</Channel><Computer>10.0.0.5</Computer><Security/>")
SECURITY_DATA = {"SubjectUserName": "AR-WIN-1$", "SubjectDomainName": "WORKGROUP", "NewProcessId": "0x1050",
                 "NewProcessName": "C:\\Program Files\\a\\b.exe", "ProcessId": "0x994", "CommandLine": "",
                 "TargetUserName": "-", "ParentProcessName": "C:\\Program Files\\a\\splunkd.exe"}


def event(system: str = SYSMON_SYSTEM, data: dict | str = SYSMON_DATA, quote: str = "'") -> str:
    if isinstance(data, dict):
        data = "".join(f"<Data Name={quote}{name}{quote}>{text}</Data>" for name, text in data.items())
    return f"<Event xmlns={quote}{NS}{quote}><System>{system}</System><EventData>{data}</EventData></Event>"


def line(raw: str, **other) -> bytes:
    # Splunk's extractions beside `_raw`, which the whole-event path does not read for this shape.
    return orjson.dumps({"_raw": raw, "EventID": "1", "Image": "C:\\not\\this.exe", **other})


def whole_rows_and_decoded(lines: list[bytes], keys: frozenset[str], monkeypatch) -> tuple[int, object]:
    """How many rows the decoder left to io/windows.py, and what it decoded."""
    left = []
    whole_record = windows_columns._whole_record
    monkeypatch.setattr(windows_columns, "_whole_record", lambda one: left.append(one) or whole_record(one))
    decoded = WindowsXmlDecoder(keys).decode_block(b"\n".join(lines) + b"\n")
    return len(left), decoded


def assert_same(lines: list[bytes], monkeypatch, keys: frozenset[str] = EVERY_KEY) -> int:
    """The decoder serves these lines with the events and counts of the whole-event path; the
    number of rows it left whole."""
    whole, decoded = whole_rows_and_decoded(lines, keys, monkeypatch)
    assert decoded is not None, "declined"
    converter = InputConverter("auto")
    fast = converter.convert(decoded).shape("ssa")
    expected = InputConverter("auto")
    slow = expected.convert([orjson.loads(one) for one in lines]).shape("ssa")
    assert (converter.lines, converter.normalised, converter.skipped) == \
           (expected.lines, expected.normalised, expected.skipped)
    assert len(fast) == len(slow)
    for key in keys:
        assert orjson.dumps(fast.key(key).tolist()) == orjson.dumps([e.get(key) for e in slow]), key
    return whole


@needs_raw
@pytest.mark.parametrize("keys", [EVERY_KEY, REFERENCE_KEYS], ids=["every key", "reference keys"])
def test_every_file_of_the_corpus_reads_as_the_whole_event_path_reads_it(keys, monkeypatch):
    files = sorted(RAW.glob("*/*.jsonl.gz"))
    assert files
    served = 0
    for path in files:
        lines = [one.rstrip(b"\r\n") for one in gzip.open(path) if one.strip()]
        for first in range(0, len(lines), 1024):
            block = lines[first:first + 1024]
            if WindowsXmlDecoder(keys).decode_block(b"\n".join(block) + b"\n") is None:
                assert path.parent.name not in (XML_DIRECTORY, CLASSIC_DIRECTORY), \
                    f"{path.name}: block at line {first + 1} declined"
                continue
            whole = assert_same(block, monkeypatch, keys)
            if path.parent.name in (XML_DIRECTORY, CLASSIC_DIRECTORY):
                assert whole == 0, f"{path.name}: {whole} records at line {first + 1} left whole"
            served += 1
    assert served > 0


# Read by the pattern: the values exactly as the XML parser gives them.
READ = {
    "references": event(data={**SYSMON_DATA, "CommandLine": "a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;",
                              "ParentCommandLine": "&#38;&#x26;&#10;&#13;&#9;&#x1F600;&#0065;", "User": "&#x5c;x"}),
    "reference in an attribute": event(SYSMON_SYSTEM.replace("Name='Microsoft-Windows-Sysmon'",
                                                             "Name='Microsoft-Windows-&#83;ysmon &amp; co'")),
    "reference in the computer": event(SYSMON_SYSTEM.replace("ar-win-1.corp.local", "ar&#45;win&amp;1")),
    "reference in the time": event(SYSMON_SYSTEM.replace("T14:07:52", "&#84;14:07:52"),
                                   data={**SYSMON_DATA, "UtcTime": "2025-10-24&#32;14:07:52.091"}),
    "double quotes": event(SYSMON_SYSTEM.replace("'", '"'), quote='"'),
    "security 4688": event(SECURITY_SYSTEM, SECURITY_DATA),
    "4688 of another account": event(SECURITY_SYSTEM, {**SECURITY_DATA, "TargetUserName": "DOM\\Bob"}),
    "empty texts": event(SYSMON_SYSTEM.replace("ar-win-1.corp.local", ""),
                         data={**SYSMON_DATA, "CommandLine": "", "ParentImage": "-", "User": " "}),
    "no computer, no time": event(SYSMON_SYSTEM.replace("<Computer>ar-win-1.corp.local</Computer>", "")
                                  .replace("<TimeCreated SystemTime='2025-10-24T14:07:52.094045400Z'/>", ""),
                                  data={k: v for k, v in SYSMON_DATA.items() if k != "UtcTime"}),
    "self-closing computer": event(SYSMON_SYSTEM.replace("<Computer>ar-win-1.corp.local</Computer>", "<Computer/>")),
    "qualifiers": event(SYSMON_SYSTEM.replace("<EventID>", "<EventID Qualifiers='16384'>")),
    "not a process creation": event(SYSMON_SYSTEM.replace("<EventID>1<", "<EventID>3<")),
    "empty event id": event(SYSMON_SYSTEM.replace("<EventID>1<", "<EventID><")),
    "another provider": event(SYSMON_SYSTEM.replace("Microsoft-Windows-Sysmon", "Something")),
    "no provider, no channel": event(SYSMON_SYSTEM.replace(SYSMON_PROVIDER, "").replace(SYSMON_CHANNEL, "")),
    "no provider, no channel, no image": event(SYSMON_SYSTEM.replace(SYSMON_PROVIDER, "").replace(SYSMON_CHANNEL, ""),
                                               {k: v for k, v in SYSMON_DATA.items() if k != "Image"}),
    "duplicate data": event(data="".join(f"<Data Name='{k}'>{v}</Data>" for k, v in SYSMON_DATA.items())
                            + "<Data Name='Image'>C:\\second\\image.exe</Data><Data Name=''>nameless</Data>"),
    "whitespace between elements": event(SYSMON_SYSTEM.replace("><", ">\n  <"),
                                         "\n  ".join(f"<Data Name='{k}'>{v}</Data>" for k, v in SYSMON_DATA.items())),
    "empty event data": event(data=""),
    "characters beyond ASCII": event(data={**SYSMON_DATA, "CommandLine": "notepad ü € 😀 \x85"}),
    "markup characters in text": event(data={**SYSMON_DATA, "CommandLine": "a > b ] ]> ' \" c"}),
}
# Left to io/windows.py, record by record: the same events, by the plain path.
LEFT_WHOLE = {
    "cdata": event(data={**SYSMON_DATA, "CommandLine": "<![CDATA[a < b]]>"}),
    "comment": event(data={**SYSMON_DATA, "CommandLine": "a<!-- c -->b"}),
    "element inside data": event(data={**SYSMON_DATA, "CommandLine": "a<b/>c"}),
    "self-closing data": event(data="<Data Name='Image'/>" + "".join(
        f"<Data Name='{k}'>{v}</Data>" for k, v in SYSMON_DATA.items() if k != "Image")),
    "mixed quotes": event(SYSMON_SYSTEM.replace("Name='Microsoft-Windows-Sysmon'", 'Name="Microsoft-Windows-Sysmon"')),
    "attributes in another order": event(SYSMON_SYSTEM.replace(
        "Name='Microsoft-Windows-Sysmon' Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'",
        "Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}' Name='Microsoft-Windows-Sysmon'")),
    "namespace prefix": event(data="<e:Data Name='Image'>C:\\prefixed.exe</e:Data>")
                        .replace(f"<Event xmlns='{NS}'>", f"<Event xmlns='{NS}' xmlns:e='{NS}'>"),
    "other namespace": event().replace(NS, "urn:other"),
    "leading whitespace": "\n " + event(),
    "carriage return": event(data={**SYSMON_DATA, "CommandLine": "a\r\nb"}),
    "tab in an attribute": event(SYSMON_SYSTEM.replace("Microsoft-Windows-Sysmon'", "Microsoft-Windows\tSysmon'")),
    "undefined entity": event(data={**SYSMON_DATA, "CommandLine": "a &nbsp; b"}),
    "bare ampersand": event(data={**SYSMON_DATA, "CommandLine": "a & b"}),
    "reference to a forbidden character": event(data={**SYSMON_DATA, "CommandLine": "a &#0; b"}),
    "reference to a surrogate": event(data={**SYSMON_DATA, "CommandLine": "&#xD800;"}),
    "reference beyond unicode": event(data={**SYSMON_DATA, "CommandLine": "&#x110000;"}),
    "reference of 5,000 digits": event(data={**SYSMON_DATA, "CommandLine": "&#" + "9" * 5000 + ";"}),
    "reference with leading zeros": event(data={**SYSMON_DATA, "CommandLine": "&#x" + "0" * 20 + "41;"}),
    "reference in a data name": event(data={**SYSMON_DATA, "Im&#97;ge": "C:\\spelled\\oddly.exe"}),
    "forbidden character": event(data={**SYSMON_DATA, "CommandLine": "a \x01 b"}),
    "cdata end in text": event(data={**SYSMON_DATA, "CommandLine": "a ]]> b"}),
    "unknown system element": event(SYSMON_SYSTEM + "<Message>Process Create: Image: C:\\m.exe</Message>"),
    "system elements out of order": event(SYSMON_SYSTEM.replace("<Version>5</Version>", "")
                                          .replace("<Security", "<Version>5</Version><Security")),
    "rendering info": event().replace("</Event>", "<RenderingInfo Culture='en-US'><Message>m</Message>"
                                                  "</RenderingInfo></Event>"),
    "user data": event().replace("<EventData>", "<UserData><EventData>").replace("</EventData>",
                                                                                  "</EventData></UserData>"),
    "broken": event()[:-20],
    "unclosed data": event(data="<Data Name='Image'>C:\\a.exe"),
    # Read by the pattern, but normalising it raises (month 13): windows_columns.py leaves it whole.
    "time that does not parse": event(data={**SYSMON_DATA, "UtcTime": "2025-13-24 14:07:52"}),
}


@pytest.mark.parametrize("keys", [EVERY_KEY, REFERENCE_KEYS], ids=["every key", "reference keys"])
def test_records_in_the_layout_are_read_by_the_pattern(keys, monkeypatch):
    assert assert_same([line(raw) for raw in READ.values()], monkeypatch, keys) == 0


@pytest.mark.parametrize("name", LEFT_WHOLE)
def test_anything_unusual_is_left_to_the_whole_event_path_record_by_record(name, monkeypatch):
    lines = [line(event()), line(LEFT_WHOLE[name]), line(event(SECURITY_SYSTEM, SECURITY_DATA))]
    assert assert_same(lines, monkeypatch) == 1


@pytest.mark.parametrize("other", [
    {"_raw": "some other log line"},
    {"_raw": 5}, {"Image": "C:\\a.exe"},  # no `_raw` text
    {"_raw": event(), "input_event": {"process_name": "a.exe"}},  # a stream record
    # Not starting with `<Event`: no event XML to windows.detect_format, so plain lines.
    {"_raw": event().replace("Event", "e:Event").replace("xmlns=", "xmlns:e=")},
    {"_raw": "<!DOCTYPE Event>" + event()}, {"_raw": "<?xml version='1.0'?>" + event()},
], ids=["other text", "not text", "no _raw", "stream record", "prefixed root", "doctype", "declaration"])
def test_a_block_holding_another_shape_is_declined(other):
    block = b"\n".join([line(event()), orjson.dumps(other)]) + b"\n"
    assert WindowsXmlDecoder(EVERY_KEY).decode_block(block) is None


CLASSIC_4688 = ("09/15/2020 11:48:27 PM\nLogName=Security\nSourceName=Microsoft Windows security auditing.\n"
                "EventCode=4688\nComputerName=win-dc-4473022.attackrange.local\nRecordNumber=528213\n"
                "Message=A new process has been created.\n\nCreator Subject:\n\tSecurity ID:\t\tATTACKRANGE\\Administrator\n"
                "\tAccount Name:\t\tAdministrator\n\tAccount Domain:\t\tATTACKRANGE\n\nTarget Subject:\n"
                "\tAccount Name:\t\t-\n\nProcess Information:\n\tNew Process ID:\t\t0x13d8\n"
                "\tNew Process Name:\tC:\\Windows\\System32\\cmd.exe\n\tCreator Process ID:\t0xd44\n"
                "\tCreator Process Name:\tC:\\Windows\\powershell.exe\n\tProcess Command Line:\tcmd /c \"a &amp; b\"\n")
CLASSIC_SYSMON = ("07/20/2020 01:29:52 PM\nLogName=Microsoft-Windows-Sysmon/Operational\n"
                  "SourceName=Microsoft-Windows-Sysmon\nEventCode=1\nComputerName=WIN-1\n"
                  "Message=Process Create:\nUtcTime: 2020-07-20 13:29:52.123\nImage: C:\\a\\B.EXE\n"
                  "CommandLine: b.exe /x\n  and a second line\nParentImage: C:\\p.exe\nUser: DOM\\Carol\n")


@pytest.mark.parametrize("name, raw", {
    "4688": CLASSIC_4688,
    "sysmon": CLASSIC_SYSMON,
    "another event": CLASSIC_4688.replace("EventCode=4688", "EventCode=4624"),
    "another source": CLASSIC_4688.replace("LogName=Security\nSourceName=Microsoft Windows security auditing.",
                                           "LogName=Application\nSourceName=Something"),
    "sysmon without source or image": CLASSIC_SYSMON.replace("LogName=Microsoft-Windows-Sysmon/Operational\n"
                                                             "SourceName=Microsoft-Windows-Sysmon\n", ""),
    "no message": CLASSIC_4688.split("Message=")[0],
    "no computer, a Computer line": CLASSIC_4688.replace("ComputerName=", "Computer="),
    "an ISO time with a zone": CLASSIC_4688.replace("09/15/2020 11:48:27 PM", "2020-09-15T23:48:27+02:00"),
    "a time that does not parse": CLASSIC_4688.replace("09/15/2020 11:48:27 PM", "sometime"),
    "a month that raises": CLASSIC_4688.replace("09/15/2020", "13/15/2020"),
    "sysmon time that raises": CLASSIC_SYSMON.replace("2020-07-20 13:29", "2020-13-20 13:29"),
    "carriage returns": CLASSIC_SYSMON.replace("\n", "\r\n"),
    "no header lines": "09/15/2020 11:48:27 PM EventCode=4688",
}.items(), ids=lambda value: value if len(value) < 40 else "")
def test_classic_wineventlog_text_reads_as_the_whole_event_path_reads_it(name, raw, monkeypatch):
    # A value whose normalising raises leaves its record to io/windows.py, for the reason it gives.
    assert assert_same([line(raw), line(event())], monkeypatch) == (1 if "raises" in name else 0)


def test_the_projected_decoder_serves_each_shape_by_its_decoder():
    decoder = ProjectedDecoder(REFERENCE_KEYS, "auto")
    flat = orjson.dumps({"process_name": "a.exe", "parent_process_name": "b.exe"}) + b"\n"
    nxlog = orjson.dumps({"EventID": 1, "SourceName": "Microsoft-Windows-Sysmon", "Hostname": "h",
                          "UtcTime": "2020-07-20 13:29:52.123", "Image": "C:\\x.exe"}) + b"\n"
    xml = line(event()) + b"\n"
    served = [decoder.decode_block(block) for block in (flat, xml, xml, nxlog, xml, flat)]
    assert [found.skips is None for found in served] == [True, False, False, False, False, True]
    assert served[1].key("process_name").tolist() == ["cmd.exe"]


@needs_raw
@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_reference_search_gives_the_same_bytes_as_whole_events(tmp_path, workers):
    path = tmp_path / "xml.jsonl"
    flat = orjson.dumps({"process_name": "cmd.exe", "parent_process_name": "C:\\x\\explorer.exe", "_time": "1"})
    records = gzip.open(RAW / XML_DIRECTORY / "xmlwineventlog_process_creation.jsonl.gz").read()
    records += gzip.open(RAW / CLASSIC_DIRECTORY / "wineventlog_security_4688.jsonl.gz").read()
    awkward = b"\n".join(line(raw) for raw in [*READ.values(), *LEFT_WHOLE.values(), CLASSIC_4688,
                                                 CLASSIC_SYSMON]) + b"\n"
    with open(path, "wb") as out:
        for _ in range(3):
            out.write(records + awkward + flat + b"\n")  # changes of shape between blocks
    fast = cli_in_process("run", REFERENCE, "--input", path, "--no-progress", "--workers", workers)
    plain = cli_in_process("run", REFERENCE, "--input", path, "--no-progress", "--whole-events")
    assert fast.returncode == plain.returncode == 0, fast.err + plain.err
    assert fast.stdout == plain.stdout and fast.stdout.count(b"\n") > 10
