"""Tests of the raw Windows process-creation normaliser against real lines of the shared corpus."""

from __future__ import annotations

import gzip
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from conftest import RAW, SHARED, needs_raw
from spl_lite.io.windows import FORMATS, _parse_time, detect_format, normalise

README = SHARED / "data" / "README.md"

ENRICHED_KEYS = {
    "_time", "event_id", "process_name", "process", "process_path", "parent_process_name", "parent_process",
    "process_guid", "parent_process_guid", "process_id", "parent_process_id", "process_hash",
    "dest_device_id", "dest_user_id", "_datamodels",
}

# The raw shapes each source is made of (README "Field names").
SOURCE_FORMATS = {
    "eqllib-sysmon": {"eqllib"},
    "evtx-attack-samples": {"evtx"},
    "msticpy-sentinel-securityevent": {"sentinel"},
    "otrf-security-datasets": {"nxlog", "winlogbeat", "sentinel"},
    "otrf-security-datasets-legacy": {"nxlog", "winlogbeat", "sentinel"},
    "sigma-regression-data": {"evtx"},
    "splunk-attack-data-nxlog": {"nxlog"},
    "splunk-attack-data-xmlwineventlog": {"xml"},
    "splunk-wineventlog-4688": {"wineventlog"},
}


def ms(iso: str) -> str:
    """Epoch milliseconds of a UTC `YYYY-MM-DDTHH:MM:SS.fff` time, as the string `_time` holds."""
    return str(int(datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp() * 1000))


class StartsWith(str):
    """Expected value for command lines too long to spell out (base64 PowerShell)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(str(self))

    __hash__ = str.__hash__


def read_raw(path: Path) -> list[dict]:
    with gzip.open(path, "rb") as fh:
        return [orjson.loads(line) for line in fh]


def find_raw(relpath: str, match) -> dict:
    for record in read_raw(RAW / relpath):
        if match(record):
            return record
    raise LookupError(f"no record of {relpath} matches")


SEC4688_NULLS = {"parent_process": None, "process_guid": None, "parent_process_guid": None, "process_hash": None}
ENDPOINT = {"_datamodels": ["Endpoint_Processes"]}

CASES = [
    pytest.param(
        "eqllib-sysmon/sysmon-atomic-red-team.jsonl.gz",
        lambda r: r["ProcessGuid"] == "{42FC7E13-CC1A-5C05-0000-001008A45701}",
        {
            "_time": ms("2018-12-04T00:36:42.427"),
            "event_id": "1",
            "process_name": "cmd.exe",
            "process": '"C:\\WINDOWS\\system32\\cmd.exe" /c ',
            "process_path": "C:\\Windows\\System32\\cmd.exe",
            "parent_process_name": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "parent_process": '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" ',
            "process_guid": "{42FC7E13-CC1A-5C05-0000-001008A45701}",
            "parent_process_guid": "{42FC7E13-C11D-5C05-0000-0010C6E90401}",
            "process_id": 4248,
            "parent_process_id": 7036,
            "process_hash": "SHA1=3CE71813199ABAE99348F61F0CAA34E2574F831C,MD5=4E2ACF4F8A396486AB4268C94A6A245F,"
            "SHA256=9A7C58BD98D70631AA1473F7B57B426DB367D72429A5455B433A05EE251F3236,"
            "IMPHASH=8542FB14699D84D7E8DA92F66145C7FE",
            "dest_device_id": None,  # eqllib exported no host
            "dest_user_id": "bob",
            **ENDPOINT,
        },
        id="eqllib-sysmon",
    ),
    pytest.param(
        "evtx-attack-samples/evtx-attack-samples.jsonl.gz",
        lambda r: r["EventID"] == 1 and r["Computer"] == "IEWIN7" and r["EventRecordID"] == 6577,
        {
            "_time": ms("2019-04-27T15:57:53.368"),  # UtcTime, not TimeCreated ...53.368863Z
            "event_id": "1",
            "process_name": "Flash_update.exe",
            "process": '"C:\\Users\\IEUser\\Downloads\\Flash_update.exe" ',
            "process_path": "C:\\Users\\IEUser\\Downloads\\Flash_update.exe",
            "parent_process_name": "C:\\Windows\\explorer.exe",
            "parent_process": "C:\\Windows\\Explorer.EXE",
            "process_guid": "365ABB72-7C01-5CC4-0000-00102B3E0C00",
            "parent_process_guid": "365ABB72-7ACC-5CC4-0000-0010B2470300",
            "process_id": 2680,
            "parent_process_id": 2772,
            "process_hash": "SHA1=B4E581F173F782A2F1DA5D29C95946EE500EB2D0,MD5=42893ADBC36605EC79B5BD610759947E,"
            "SHA256=1A061C74619DE6AF8C02CBA0FA00754BDD9E3515C0E08CAD6350C7ADFC8CDD5B,"
            "IMPHASH=40BEC1A4A3BCB7D3089B5E1532386613",
            "dest_device_id": "iewin7",
            "dest_user_id": "ieuser",
            **ENDPOINT,
        },
        id="evtx-sysmon",
    ),
    pytest.param(
        "evtx-attack-samples/evtx-attack-samples.jsonl.gz",
        lambda r: r["EventID"] == 4688 and r["EventRecordID"] == 227695,
        {
            "_time": ms("2019-02-13T18:01:47.562"),
            "event_id": "4688",
            "process_name": "TSTheme.exe",
            "process": None,  # CommandLine "" (auditing off)
            "process_path": "C:\\Windows\\System32\\TSTheme.exe",
            "parent_process_name": None,  # 4688 version 1 has no ParentProcessName
            "process_id": 0x1FC,
            "parent_process_id": 0x278,
            "dest_device_id": "pc01",
            "dest_user_id": "pc01$",
            **SEC4688_NULLS,
            **ENDPOINT,
        },
        id="evtx-4688-v1",
    ),
    pytest.param(
        "msticpy-sentinel-securityevent/processes_on_host.jsonl.gz",
        lambda r: r["NewProcessId"] == "0x1610" and r["TimeGenerated"] == "2019-01-15 05:24:24.010",
        {
            "_time": ms("2019-01-15T05:24:24.010"),
            "event_id": "4688",
            "process_name": "ASMHost.exe",
            "process": StartsWith(
                '"C:\\Program Files\\Microsoft Monitoring Agent\\Agent\\Health Service State\\CT_602681692'
                '\\NativeDSC\\DesiredStateConfiguration\\ASMHost.exe" GetInventory '
            ),
            "process_path": "C:\\Program Files\\Microsoft Monitoring Agent\\Agent\\Health Service State"
            "\\CT_602681692\\NativeDSC\\DesiredStateConfiguration\\ASMHost.exe",
            "parent_process_name": "C:\\Program Files\\Microsoft Monitoring Agent\\Agent\\MonitoringHost.exe",
            "process_id": 0x1610,
            "parent_process_id": 0x888,
            "dest_device_id": "msticalertswin1",
            "dest_user_id": "msticalertswin1$",
            **SEC4688_NULLS,
            **ENDPOINT,
        },
        id="msticpy-sentinel-4688",
    ),
    pytest.param(
        "otrf-security-datasets/aadinternals_export_adfsdatabaseconfig_remotely.jsonl.gz",
        lambda r: r.get("NewProcessId") == "0x11d4",
        {
            "_time": ms("2021-04-27T04:07:58.697"),
            "event_id": "4688",
            "process_name": "SenseCncProxy.exe",
            "process": "1432",
            "process_path": "C:\\Program Files\\Windows Defender Advanced Threat Protection\\SenseCncProxy.exe",
            "parent_process_name": "C:\\Program Files\\Windows Defender Advanced Threat Protection\\MsSense.exe",
            "process_id": 0x11D4,
            "parent_process_id": 0x1EFC,
            "dest_device_id": "adfs01",  # Hostname ADFS01.blacksmith.local
            "dest_user_id": "adfs01$",
            **SEC4688_NULLS,
            **ENDPOINT,
        },
        id="otrf-nxlog-4688",
    ),
    pytest.param(
        "otrf-security-datasets/empire_enable_rdp.jsonl.gz",
        lambda r: r.get("record_number") == "287720",
        {
            "_time": ms("2019-05-18T20:37:10.356"),
            "event_id": "4688",
            "process_name": "reg.exe",
            "process": '"C:\\Windows\\system32\\reg.exe" add "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server"'
            " /v fDenyTSConnections /t REG_DWORD /d 0 /f",
            "process_path": "C:\\Windows\\System32\\reg.exe",
            "parent_process_name": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "process_id": 0x1E70,
            "parent_process_id": 0x154C,
            "dest_device_id": "hr001",
            "dest_user_id": "nmartha",
            **SEC4688_NULLS,
            **ENDPOINT,
        },
        id="otrf-winlogbeat-4688",
    ),
    pytest.param(
        "otrf-security-datasets/sysmon_log4shell_cve2021_44228_java_serialized_object.jsonl.gz",
        lambda r: orjson.loads(r["EventData"])["ProcessId"] == "2084",
        {
            "_time": ms("2022-05-13T08:54:08.420"),  # EventData UtcTime 2022-05-13T08:54:08.4200000Z
            "event_id": "1",
            "process_name": "powershell.exe",
            "process": StartsWith("powershell.exe -NonI -W Hidden -NoP -Exec Bypass -Enc SQBmACgAJABQAFMAVgBl"),
            "process_path": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "parent_process_name": "C:\\ProgramData\\chocolatey\\lib\\Tomcat\\tools\\apache-tomcat-9.0.62\\bin"
            "\\tomcat9.exe",
            "parent_process": "C:\\ProgramData\\chocolatey\\lib\\Tomcat\\tools\\apache-tomcat-9.0.62\\bin"
            "\\Tomcat9.exe //RS//Tomcat9",
            "process_guid": "{f3329a35-1cb0-627e-f916-000000000600}",
            "parent_process_guid": "{f3329a35-1c6c-627e-e516-000000000600}",
            "process_id": 2084,
            "parent_process_id": 3936,
            "process_hash": StartsWith("SHA1=F43D9BB316E30AE1A3494AC5B0624F6BEA1BF054,"),
            "dest_device_id": "workstation5",
            "dest_user_id": "local service",
            **ENDPOINT,
        },
        id="otrf-sentinel-json-eventdata-sysmon",
    ),
    pytest.param(
        "otrf-security-datasets-legacy/DC01_Windows_Security_03f6777c.jsonl.gz",
        lambda r: r["EventRecordID"] == "7448970",
        {
            "_time": ms("2022-09-26T11:26:05.887"),  # TimeGenerated, not TimeCreated 07:26:05.887Z
            "event_id": "4688",
            "process_name": "dllhost.exe",
            "process": "C:\\Windows\\system32\\DllHost.exe /Processid:{E10F6C3A-F1AE-4ADC-AA9D-2FE65525666E}",
            "process_path": "C:\\Windows\\System32\\dllhost.exe",
            "parent_process_name": "C:\\Windows\\System32\\svchost.exe",
            "process_id": 0x2CC0,
            "parent_process_id": 0x3A8,
            "dest_device_id": "dc01",
            "dest_user_id": "dc01$",
            **SEC4688_NULLS,
            **ENDPOINT,
        },
        id="otrf-legacy-log-analytics-4688",
    ),
    pytest.param(
        "otrf-security-datasets-legacy/empire_invoke_psexec_2634c68c.jsonl.gz",
        lambda r: r["EventID"] == 1 and r.get("RecordNumber") == 694833,
        {
            # Flattened EventData missing: everything but host and envelope comes from the Message.
            "_time": ms("2020-08-07T19:12:29.536"),
            "event_id": "1",
            "process_name": "powershell.exe",
            "process": StartsWith("C:\\Windows\\System32\\WindowsPowershell\\v1.0\\powershell  -noP -sta -w 1 -enc  "),
            "process_path": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "parent_process_name": "C:\\Windows\\System32\\cmd.exe",
            "parent_process": StartsWith("C:\\windows\\system32\\cmd.exe /C start /b C:\\Windows\\System32"),
            "process_guid": "{49a15388-a79d-5f2d-8908-000000000400}",
            "parent_process_guid": "{49a15388-a79d-5f2d-8808-000000000400}",
            "process_id": 7516,
            "parent_process_id": 4688,
            "process_hash": StartsWith("SHA1=36C5D12033B2EAF251BAE61C00690FFB17FDDC87,"),
            "dest_device_id": "workstation6",
            "dest_user_id": "system",
            **ENDPOINT,
        },
        id="otrf-legacy-nxlog-message-only-sysmon",
    ),
    pytest.param(
        "sigma-regression-data/sigma-regression-data.jsonl.gz",
        lambda r: r["EventRecordID"] == 67583 and r["Computer"] == "swachchhanda",
        {
            "_time": ms("2025-12-06T21:11:02.632"),
            "event_id": "1",
            "process_name": "cmd.exe",
            "process": 'C:\\WINDOWS\\system32\\cmd.exe /d /s /c "whoami"',
            "process_path": "C:\\Windows\\System32\\cmd.exe",
            "parent_process_name": "C:\\Users\\xodih\\AppData\\Local\\Temp\\bun-node-274e01c73\\node.exe",
            "parent_process": "C:\\Users\\xodih\\AppData\\Local\\Temp\\bun-node-274e01c73\\node.exe C:\\Users\\xodih"
            "\\Downloads\\CVE-2025-55182-main\\CVE-2025-55182-main\\test-server\\node_modules\\next\\dist\\server"
            "\\lib\\start-server.js",
            "process_guid": "0197231E-9BE6-6934-5301-000000000B00",
            "parent_process_guid": "0197231E-9B6B-6934-2B01-000000000B00",
            "process_id": 3412,
            "parent_process_id": 1092,
            "process_hash": "MD5=352B525E9C26CB92693899528FE007C2,"
            "SHA256=1F1D918EC49E0B7C59B704FF412E1A6E224DA81C08CDA657E1CB482ABAAC146C,"
            "IMPHASH=94F3EFC2DF40ECD7229B904540DD83CF",
            "dest_device_id": "swachchhanda",
            "dest_user_id": "xodih",
            **ENDPOINT,
        },
        id="sigma-evtx-sysmon",
    ),
    pytest.param(
        "splunk-attack-data-nxlog/T1027_atomic_red_team.jsonl.gz",
        lambda r: r["RecordNumber"] == 1845,
        {
            "_time": ms("2020-08-01T05:46:47.730"),
            "event_id": "1",
            "process_name": "cmd.exe",
            # NXLog's flattened field reads `2&gt;&amp;1`.
            "process": 'C:\\Windows\\system32\\cmd.exe /c "C:\\Program Files\\SplunkUniversalForwarder\\bin'
            '\\splunk.exe" _internal pre-flight-checks --answer-yes --no-prompt 2>&1',
            "process_path": "C:\\Windows\\System32\\cmd.exe",
            "parent_process_name": "C:\\Program Files\\SplunkUniversalForwarder\\bin\\splunkd.exe",
            "parent_process": '"C:\\Program Files\\SplunkUniversalForwarder\\bin\\splunkd.exe" service',
            "process_guid": "{A837DB8D-01C7-5F25-0000-0010B4BC0300}",
            "parent_process_guid": "{A837DB8D-01C5-5F25-0000-0010C3C30200}",
            "process_id": 3724,  # only in the Message: NXLog's own ProcessID (2740) shadows it
            "parent_process_id": 3088,
            "process_hash": "MD5=F4F684066175B77E0C3A000549D2922C,"
            "SHA256=935C1861DF1F4018D698E8B65ABFA02D7E9037D8F68CA3C2065B6CA165D44AD2,"
            "IMPHASH=3062ED732D4B25D1C64F084DAC97D37A",
            "dest_device_id": "win-dc-881393",
            "dest_user_id": "system",
            **ENDPOINT,
        },
        id="splunk-nxlog-sysmon",
    ),
    pytest.param(
        "splunk-attack-data-xmlwineventlog/xmlwineventlog_process_creation.jsonl.gz",
        lambda r: r["EventID"] == "4688" and r["EventRecordID"] == "246274",
        {
            "_time": ms("2025-10-24T14:07:52.091"),  # SystemTime ...52.091131100Z truncated
            "event_id": "4688",
            "process_name": "splunk-netmon.exe",
            "process": None,
            "process_path": "C:\\Program Files\\SplunkUniversalForwarder\\bin\\splunk-netmon.exe",
            "parent_process_name": "C:\\Program Files\\SplunkUniversalForwarder\\bin\\splunkd.exe",
            "process_id": 0x1050,
            "parent_process_id": 0x994,
            "dest_device_id": "ar-win-1",
            "dest_user_id": "ar-win-1$",
            **SEC4688_NULLS,
            **ENDPOINT,
        },
        id="splunk-xml-4688",
    ),
    pytest.param(
        "splunk-attack-data-xmlwineventlog/xmlwineventlog_process_creation.jsonl.gz",
        lambda r: r["EventID"] == "1" and r["EventRecordID"] == "83570",
        {
            "_time": ms("2025-10-24T14:07:52.091"),
            "event_id": "1",
            "process_name": "splunk-netmon.exe",
            "process": '"C:\\Program Files\\SplunkUniversalForwarder\\bin\\splunk-netmon.exe"',
            "process_path": "C:\\Program Files\\SplunkUniversalForwarder\\bin\\splunk-netmon.exe",
            "parent_process_name": "C:\\Program Files\\SplunkUniversalForwarder\\bin\\splunkd.exe",
            "parent_process": '"C:\\Program Files\\SplunkUniversalForwarder\\bin\\splunkd.exe" service',
            "process_guid": "{2d9b1c52-8838-68fb-f71c-010000006903}",
            "parent_process_guid": "{2d9b1c52-0eb0-68f1-3b00-000000006903}",
            "process_id": 4176,
            "parent_process_id": 2452,
            "process_hash": "MD5=E30CB50BE9EC2FB49497F136DC71448F,"
            "SHA256=7835B39374396001E12637509AE0D22FCB7E2A89F6143DED03186B500276E537,"
            "IMPHASH=D30C8E545B1C24DE4E0DC100EF70F2D0",
            "dest_device_id": "ar-win-1",
            "dest_user_id": "system",
            **ENDPOINT,
        },
        id="splunk-xml-sysmon",
    ),
    pytest.param(
        "splunk-wineventlog-4688/wineventlog_security_4688.jsonl.gz",
        lambda r: "RecordNumber=528213\n" in r["_raw"],
        {
            "_time": ms("2020-09-15T23:48:27.000"),  # header 09/15/2020 11:48:27 PM, read as UTC
            "event_id": "4688",
            "process_name": "cmd.exe",
            "process": None,
            "process_path": "C:\\Windows\\System32\\cmd.exe",
            "parent_process_name": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "process_id": 0x13D8,
            "parent_process_id": 0xD44,
            "dest_device_id": "win-dc-4473022",
            "dest_user_id": "administrator",
            **SEC4688_NULLS,
            **ENDPOINT,
        },
        id="splunk-wineventlog-4688",
    ),
    pytest.param(
        "splunk-wineventlog-4688/wineventlog_security_4688.jsonl.gz",
        lambda r: "RecordNumber=540110\n" in r["_raw"],
        {
            "_time": ms("2021-03-12T01:19:11.000"),  # 01:19:11 AM
            "event_id": "4688",
            "process_name": "cmd.exe",
            # This SSA e2e sample indents its message with spaces, not tabs.
            "process": '"C:\\Windows\\system32\\cmd.exe" /c "reg save HKLM\\sam %temp%\\sam & reg save HKLM\\system'
            ' %temp%\\system & reg save HKLM\\Security %temp%\\security"',
            "process_path": "C:\\Windows\\system32\\cmd.exe",
            "parent_process_name": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "process_id": 0xD4C,
            "parent_process_id": 0xC88,
            "dest_device_id": "win-dc-5236904",
            "dest_user_id": "superuser01",
            **SEC4688_NULLS,
            **ENDPOINT,
        },
        id="splunk-wineventlog-4688-space-indented",
    ),
]


@needs_raw
@pytest.mark.parametrize(("relpath", "match", "expected"), CASES)
def test_real_record_field_by_field(relpath, match, expected):
    got = normalise(find_raw(relpath, match))
    assert got is not None
    assert set(got) == ENRICHED_KEYS
    for key in sorted(ENRICHED_KEYS):
        assert got[key] == expected[key], key


def readme_expected_counts() -> dict[tuple[str, str], Counter]:
    """(source, file) -> Counter of event ids, from README's per-file tables or, for one-file sources, its totals."""
    text = README.read_text(encoding="utf-8")
    parts = re.split(r"^### `([^`]+)`\s*$", text, flags=re.M)
    expected: dict[tuple[str, str], Counter] = {}
    for source, body in zip(parts[1::2], parts[2::2]):
        files = sorted(p.name for p in (RAW / source).glob("*.jsonl.gz"))
        header = next((line for line in body.splitlines() if line.startswith("| output file |")), "")
        columns = [c.strip() for c in header.strip("|").split("|")]
        if "sysmon1" in columns:
            for line in body.splitlines():
                cells = [c.strip() for c in line.strip("|").split("|")]
                if len(cells) == len(columns) and cells[0].endswith(".jsonl.gz"):
                    row = dict(zip(columns, cells))
                    expected[(source, row["output file"])] = Counter(
                        {"1": int(row["sysmon1"]), "4688": int(row["4688"])}
                    )
        else:
            assert len(files) == 1, source
            totals = re.search(r"\*\*Records:\*\* [\d,]+ \(([^)]*)\)", body).group(1)
            counts = dict(re.findall(r"(sec4688|sysmon1): ([\d,]+)", totals))
            expected[(source, files[0])] = Counter(
                {"1": int(counts.get("sysmon1", "0").replace(",", "")),
                 "4688": int(counts.get("sec4688", "0").replace(",", ""))}
            )
    return expected


@needs_raw
def test_process_creation_counts_per_file_match_readme():
    expected = readme_expected_counts()
    on_disk = {(p.parent.name, p.name) for p in RAW.glob("*/*.jsonl.gz")}
    assert set(expected) == on_disk
    for (source, name), want in sorted(expected.items()):
        got: Counter = Counter()
        formats = set()
        for record in read_raw(RAW / source / name):
            formats.add(detect_format(record))
            event = normalise(record)
            assert event is not None, (source, name, record)
            assert event["_time"] is not None and event["_time"].isdigit(), (source, name, event)
            got[event["event_id"]] += 1
        assert +got == +want, (source, name)
        assert formats <= SOURCE_FORMATS[source], (source, name, formats)


@needs_raw
@pytest.mark.parametrize(
    "relpath",
    [
        "splunk-attack-data-xmlwineventlog/xmlwineventlog_process_creation.jsonl.gz",
        "splunk-wineventlog-4688/wineventlog_security_4688.jsonl.gz",
    ],
)
def test_raw_text_alone_gives_the_same_event(relpath):
    # The corpus added parsed keys beside `_raw`; a Splunk export has only `_raw`, and must read the same.
    for record in read_raw(RAW / relpath):
        assert normalise({"_raw": record["_raw"]}) == normalise(record)


@needs_raw
def test_winlogbeat_ecs_nesting_reads_like_winlogbeat_6():
    for record in read_raw(RAW / "otrf-security-datasets" / "empire_enable_rdp.jsonl.gz")[:50]:
        nested = {
            "@timestamp": record["@timestamp"],
            "message": record["message"],
            "host": {"name": "WECserver"},
            "winlog": {
                "event_id": str(record["event_id"]),
                "computer_name": record["computer_name"],
                "provider_name": record["source_name"],
                "channel": record["log_name"],
                "event_data": record["event_data"],
            },
        }
        assert detect_format(nested) == "winlogbeat-ecs"
        assert normalise(nested) == normalise(record)


@needs_raw
def test_other_event_ids_and_providers_are_not_process_creations():
    sysmon = find_raw("sigma-regression-data/sigma-regression-data.jsonl.gz", lambda r: True)
    assert normalise({**sysmon, "EventID": 3}) is None
    assert normalise({**sysmon, "ProviderName": "Microsoft-Windows-Kernel-General", "Channel": "System"}) is None
    security = find_raw("evtx-attack-samples/evtx-attack-samples.jsonl.gz", lambda r: r["EventID"] == 4688)
    assert normalise({**security, "EventID": 4624}) is None
    assert normalise({"hello": "world"}) is None
    assert detect_format({"hello": "world"}) is None


def test_formats_are_documented():
    assert set().union(*SOURCE_FORMATS.values()) | {"winlogbeat-ecs"} == set(FORMATS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-12-04 00:36:42.427", ms("2018-12-04T00:36:42.427")),
        ("2025-10-24T14:07:52.091131100Z", ms("2025-10-24T14:07:52.091")),
        ("2022-05-13T08:54:08.42Z", ms("2022-05-13T08:54:08.420")),
        ("2020-08-01 05:46:46", ms("2020-08-01T05:46:46.000")),
        ("2021-01-01T02:00:00+02:00", ms("2021-01-01T00:00:00.000")),
        ("09/15/2020 11:48:27 PM", ms("2020-09-15T23:48:27.000")),
        ("09/15/2020 12:05:00 AM", ms("2020-09-15T00:05:00.000")),
        ("09/15/2020 12:05:00 PM", ms("2020-09-15T12:05:00.000")),
    ],
)
def test_time_formats(text, expected):
    assert str(_parse_time(text)) == expected


@needs_raw
def test_sysmon_dash_means_no_value():
    # Sysmon writes `-` for a parent it never saw; that is no parent, not a process named `-`.
    record = find_raw("sigma-regression-data/sigma-regression-data.jsonl.gz", lambda r: r.get("ParentImage") == "-")
    event = normalise(record)
    assert event["parent_process_name"] is None and event["parent_process"] is None
    assert event["process_name"] is not None
