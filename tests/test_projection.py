"""Projected reading (spl_lite/io/projection.py) must be invisible: which searches it serves, and
that the projected path gives byte for byte what decoding whole events gives, on real data, on
awkward lines (which must fall back to the whole-event path), through the CLI and the API."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS, EXAMPLE, REFERENCE, ROOT, cli_in_process, compile_cached, needs_corpus
from spl_lite import Search
from spl_lite.io import ocsf
from spl_lite.io import jsonl
from spl_lite.io.jsonl import EventReader
from spl_lite.io.projection import BlockGatherer, ProjectedDecoder
from spl_lite.io.formats import DOCUMENT_KEYS
from spl_lite.plan import physical
from spl_lite.plan.physical import choose_reading
from spl_lite.plan.rules.projection import deferred_keys, events_written, keys_read


def decoder_for(plans, input_format):
    """The projecting decoder the physical plan chooses; None for whole events."""
    decoder = choose_reading(plans, input_format).decoder(input_format)
    return None if decoder.keys is None else decoder
from spl_lite.core.batch import NULL_KINDS, Batch, DeferredColumn, ProjectedMaps, kinds_of

GENERATOR = ROOT / "benchmarks" / "generate_events.py"

SOURCE = "| from read_ssa_enriched_events() "
SINK = " | into write_ssa_detected_events();"
# Writes five read keys of every event: any value the projected path decodes differently shows.
READ_KEYS = ("_time", "process_name", "parent_process_name", "process", "dest_user_id")
FIVE_KEYS = (SOURCE + "| eval " + ", ".join(f'v{i} = map_get(input_event, "{key}")' for i, key in enumerate(READ_KEYS))
             + " | select " + ", ".join(f"v{i}" for i in range(len(READ_KEYS))) + SINK)
# The same with a filter (that keeps every record) after the select, so that the five keys are
# deferred (decoded late, at the output) instead of with their batch: both ways of decoding.
FIVE_KEYS_DEFERRED = FIVE_KEYS.replace(SINK, " | where true" + SINK)
FIVE_KEYS_VARIANTS = pytest.mark.parametrize("five_keys", [FIVE_KEYS, FIVE_KEYS_DEFERRED], ids=["at-once", "deferred"])


def keys_of(text: str) -> frozenset[str] | None:
    return keys_read(Search.compile(text).plan)


def without_timing(stderr: bytes) -> list[bytes]:
    """stderr lines with the summary's seconds and rate (which vary run to run) cut off."""
    return [re.sub(rb", [\d.]+ s \([^)]*\)$", b"", line) for line in stderr.splitlines()]


# ---- 1, 2: which plans are projected ----

def test_reference_detection_reads_exactly_its_seven_keys():
    assert keys_of(REFERENCE.read_text()) == {
        "_time", "parent_process_name", "process_name", "process", "dest_user_id", "dest_device_id", "event_id"}


# (search needing whole events, the same search changed just enough to be projected, its keys):
# the control shows that it is the construct named by the id that turns projection off.
WHOLE_AND_CONTROL = {
    "select input_event": (
        SOURCE + '| eval a = map_get(input_event, "a") | select a, input_event' + SINK,
        SOURCE + '| eval a = map_get(input_event, "a") | select a' + SINK, {"a"}),
    "eval e = input_event": (
        SOURCE + "| eval e = input_event | select e" + SINK,
        SOURCE + '| eval e = map_get(input_event, "e") | select e' + SINK, {"e"}),
    "map_get with a non-literal key": (
        SOURCE + '| eval k = "a" | eval v = map_get(input_event, k) | select v' + SINK,
        SOURCE + '| eval k = "a" | eval v = map_get(input_event, "a") | select v' + SINK, {"a"}),
    "input_event.path": (
        SOURCE + "| eval v = input_event.process_name | select v" + SINK,
        SOURCE + '| eval v = map_get(input_event, "process_name") | select v' + SINK, {"process_name"}),
    "where on input_event itself": (
        SOURCE + '| where input_event != null | eval v = map_get(input_event, "a") | select v' + SINK,
        SOURCE + '| where map_get(input_event, "b") != null | eval v = map_get(input_event, "a") | select v' + SINK,
        {"a", "b"}),
    "ucast of input_event": (
        SOURCE + '| eval m = ucast(input_event, "map<string, any>", null), v = map_get(m, "a") | select v' + SINK,
        SOURCE + '| eval m = ucast(map_get(input_event, "m"), "map<string, any>", null), v = map_get(m, "a") '
                 "| select v" + SINK, {"m"}),
    "read_ba_enriched_events, the document given to a function": (
        '| from read_ba_enriched_events() | eval v = serialize_json(input_event) | select v '
        "| into write_ba_finding_events();",
        SOURCE + '| eval v = serialize_json(map_get(input_event, "a")) | select v | into write_ba_finding_events();',
        {"a"}),
    "G4 from source, a document's map given to a function": (
        '$main = from source | eval s = serialize_json(process) | fields s | into sink;',
        '$main = | from read_ssa_enriched_events() | eval s = serialize_json(map_get(input_event, "process")) '
        "| fields s | into write_ssa_detected_events();", {"process"}),
}


# Searches whose records need the source's other fields (a sink writes the events whole, `_datamodels`
# is read, `body` set, a stateful node keeps no records): projected with the events decoded late
# (events_written), and the keys they read.
EVENTS_LATE = {
    "no select before into": (SOURCE + '| eval a = map_get(input_event, "a")' + SINK, {"a"}),
    "where, then into": (SOURCE + '| eval a = map_get(input_event, "a") | where a = "x" | eval n = 1' + SINK, {"a"}),
    "where on _datamodels": (
        SOURCE + '| where "Endpoint_Processes" IN(_datamodels) | eval v = map_get(input_event, "a") | select v' + SINK,
        {"a", "_datamodels"}),
    "select keeps _datamodels and body": (
        SOURCE + '| eval v = map_get(input_event, "a") | select v, _datamodels, body' + SINK, {"a", "_datamodels"}),
    "conditional_anomaly before select": (
        SOURCE + '| eval p = map_get(input_event, "p"), c = map_get(input_event, "c") '
                 '| conditional_anomaly conditional="p" target="c" | select p, c, output' + SINK, {"p", "c"}),
    "first_time_event before into": (
        SOURCE + '| eval p = ucast(map_get(input_event, "p"), "string", null) '
                 '| first_time_event input_columns=["p"] | where first_time_p' + SINK, {"p"}),
    "stats before select": (
        SOURCE + '| eval a = ucast(map_get(input_event, "a"), "string", null), '
                 'timestamp = parse_long(ucast(map_get(input_event, "_time"), "string", null)) '
                 "| stats count() AS c BY a, span(timestamp, 5m) | select a, c" + SINK, {"a", "_time"}),
    "eval assigns body, then into": (
        SOURCE + '| eval v = map_get(input_event, "a"), body = create_map(["v", v])' + SINK, {"a"}),
    "eval assigns body from the event": (SOURCE + '| eval body = map_get(input_event, "a") | select body' + SINK, {"a"}),
    "one branch keeps the event": (
        '$e = | from read_ssa_enriched_events() | eval a = map_get(input_event, "a");\n'
        '| from $e | where a = "x" | select a | into write_ssa_detected_events();\n'
        "| from $e | into write_ssa_finding_events();", {"a"}),
}


@pytest.mark.parametrize("case", EVENTS_LATE, ids=list(EVENTS_LATE))
def test_plans_needing_the_records_fields_are_projected_with_their_events_decoded_late(case):
    text, keys = EVENTS_LATE[case]
    plan = Search.compile(text).plan
    assert keys_read(plan) is None and events_written(plan) == keys
    decoder = decoder_for([plan], "auto")
    assert set(decoder.keys) == keys and decoder.events_late


def test_events_decoded_late_give_the_bytes_of_whole_events(awkward, tmp_path):
    """Every EVENTS_LATE search over the awkward lines, stream records and odd `_datamodels`: one run
    projected, one on whole events; each search's output and the warnings alike."""
    odd = [b'{"_time": "10", "a": "x", "p": "p1", "c": "c1", "_datamodels": ["Endpoint_Processes"]}\n',
           b'{"_time": "11", "a": "x", "p": "p1", "c": "c2", "_datamodels": "Endpoint_Processes"}\n',
           b'{"id": 1, "_datamodels": ["Endpoint_Processes"], "input_event": {"_time": "12", "a": "x", "p": "p2"}}\n',
           b'{"id": 2, "input_event": {"_time": "13", "a": ["x"], "c": "c1", "_datamodels": ["Endpoint_Processes"]}}\n',
           b'{"_time": "14", "a": {"k": [1, 2.5, null]}, "p": 3, "body": {"kept": "no"}}\n',
           b'{"_time": "15", "a": "x", "p": "p1", "c": "c1", "_datamodels": []}\n']
    lines = awkward.read_bytes().splitlines(keepends=True)
    data = tmp_path / "events.jsonl"
    data.write_bytes(b"".join(line for i, line in enumerate(lines) for line in ([line] + odd if i % 500 == 7 else [line])))
    searches = []
    for n, (text, _) in enumerate(EVENTS_LATE.values()):
        searches.append(tmp_path / f"s{n}.spl")
        searches[-1].write_text(text)
    explained = cli_in_process("explain", *searches).stdout
    assert b"whole events decoded only for the records that reach a sink" in explained
    runs = {}
    for mode, flags in {"projected": [], "whole": ["--whole-events"]}.items():
        result = cli_in_process("run", *searches, "--input", data, "--batch-size", "256", "--output-dir",
                                tmp_path / mode, *flags)
        assert result.returncode == 0, result.stderr
        runs[mode] = ({path.name: path.read_bytes() for path in (tmp_path / mode).iterdir()},
                      without_timing(result.stderr))
    assert runs["projected"] == runs["whole"]
    written = runs["projected"][0]
    assert written["s0.jsonl"].count(b"\n") > 4000 and b"Endpoint_Processes" in written["s3.jsonl"]


# Searches reading OCSF documents (of flat events) only by key: projected for the keys the documents
# are made of (io/formats.py DOCUMENT_KEYS), the documents read through io/ocsf.py DocumentsView.
DOCUMENTS_BY_KEY = {
    "G4 from source": '$main = from source | eval v = map_get(input_event, "a"), p = process.pid | fields v, p | into sink;',
    "read_ba_enriched_events": ('| from read_ba_enriched_events() | eval v = map_get(input_event, "a") | select v '
                                "| into write_ba_finding_events();"),
}


@pytest.mark.parametrize("case", DOCUMENTS_BY_KEY, ids=list(DOCUMENTS_BY_KEY))
def test_plans_reading_ocsf_documents_by_key_are_projected_for_the_keys_documents_are_made_of(case):
    plan = Search.compile(DOCUMENTS_BY_KEY[case]).plan
    assert keys_read(plan) is None and events_written(plan) is None
    decoder = decoder_for([plan], "auto")
    assert set(decoder.keys) == DOCUMENT_KEYS and decoder.documents
    assert decoder_for([plan], "ssa") is None  # `ssa` hands the lines over as they are, no documents made
    assert physical.choose([plan], "auto", documents_by_key=False).reading.keys is None  # the plain path


@pytest.mark.parametrize("case", WHOLE_AND_CONTROL, ids=list(WHOLE_AND_CONTROL))
def test_plans_needing_whole_events_are_not_projected(case):
    whole, control, keys = WHOLE_AND_CONTROL[case]
    assert keys_of(whole) is None
    assert keys_of(control) == keys
    assert decoder_for([Search.compile(whole).plan], "auto") is None


PROJECTED = {
    "where then fields": (
        SOURCE + '| eval a=map_get(input_event, "a") | where a="x" | fields a' + SINK, {"a"}),
    "map_get inside select items": (
        SOURCE + '| select map_get(input_event, "x") AS x, lower(ucast(map_get(input_event, "y"), "string", null)) AS y'
        + SINK, {"x", "y"}),
    "where on the event before any eval": (
        SOURCE + '| where map_get(input_event, "k") = "v" | eval a = map_get(input_event, "a") | fields a' + SINK,
        {"k", "a"}),
    "several statements, every branch selects": (
        '$a = | from read_ssa_enriched_events() | eval n = ucast(map_get(input_event, "n"), "long", null), '
        'm = map_get(input_event, "m");\n'
        "| from $a | where n <= 2 | select n | into write_ssa_detected_events();\n"
        '| from $a | where map_get(input_event, "w") = "z" | select m | into write_ssa_finding_events();\n'
        '| from $a | eval q = map_get(input_event, "q") | fields q, n | into write_null();', {"n", "m", "w", "q"}),
}


@pytest.mark.parametrize("case", PROJECTED, ids=list(PROJECTED))
def test_plans_reading_only_literal_keys_are_projected(case):
    text, keys = PROJECTED[case]
    plan = Search.compile(text).plan
    assert keys_read(plan) == keys
    decoder = decoder_for([plan], "auto")
    assert decoder is not None and set(decoder.keys) == keys
    assert decoder_for([plan], "ssa") is not None
    for fmt in ("ocsf", "windows", "sysmon", "winsec"):
        assert decoder_for([plan], fmt) is None  # those formats convert whole records


def test_decoder_for_several_plans_reads_the_union_or_nothing():
    a = Search.compile(PROJECTED["where then fields"][0]).plan
    xy = Search.compile(PROJECTED["map_get inside select items"][0]).plan
    whole = Search.compile(WHOLE_AND_CONTROL["select input_event"][0]).plan
    assert set(decoder_for([a, xy], "auto").keys) == {"a", "x", "y"}
    assert decoder_for([a, whole], "auto") is None
    assert decoder_for([], "auto") is None


# ---- 3: the reference detection on real and generated data ----

@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("generated") / "events.jsonl"
    subprocess.run([sys.executable, str(GENERATOR), "--events", "30000", "--output", str(path)],
                   check=True, capture_output=True, timeout=120)
    return path


@pytest.mark.parametrize("which", ["example", "generated"])
def test_reference_detection_output_is_identical_projected_whole_and_parallel(which, generated):
    path = EXAMPLE if which == "example" else generated
    runs = {mode: cli_in_process("run", REFERENCE, "--input", path, *flags)
            for mode, flags in {"projected": [], "whole": ["--whole-events"], "workers": ["--workers", "2"]}.items()}
    for mode, result in runs.items():
        assert result.returncode == 0, (mode, result.stderr)
    assert runs["projected"].stdout, "the detection must fire, or the comparison shows nothing"
    assert runs["projected"].stdout == runs["whole"].stdout
    assert runs["workers"].stdout == runs["whole"].stdout
    explained = cli_in_process("explain", REFERENCE).stdout
    assert b"projected" in explained  # the default run above did take the projected path


# ---- 4: awkward lines fall back to the whole-event path and give the same everything ----

SSA_LIKE = {"_time": "1602004409000", "event_id": "1", "parent_process_name": "C:\\x\\p.exe",
            "process": "ocsfonly.exe /x", "dest_user_id": "u", "dest_device_id": "d", "process_name": "ocsfonly.exe"}
PRETTY = json.dumps({"_time": "3", "process_name": "pretty.exe", "process": "pretty.exe /a"}, indent=2).encode() + b"\n"
TRICKY = [
    b'{"process_name": "cmd.exe", \n',  # malformed JSON
    b"[1, 2, 3]\n",  # a JSON array
    b'{"_time": "4", "process_name": "utf.exe", "process_path": "C:\\\\\xff\xfe.exe"}\n',  # bad UTF-8, unread key
    b'{"_time": 1180591620717411303424, "process_name": "bigtime.exe"}\n',  # 2**70 in a read key
    b'{"_time": "5", "process_name": "bigpid.exe", "process_id": 1180591620717411303424}\n',  # ... unread key
    b"\n",  # blank
    b'{"process_name": "one.exe"} {"process_name": "two.exe"}\n',  # two documents on one line
    PRETTY,  # one object over several lines
    b'{"_time": "6", "process_name": "first.exe", "process_name": "second.exe"}\n',  # duplicate keys
    b'{"input_event": {"_time": "7", "process_name": "wrapped.exe", "process": "w /x"}, "_datamodels": []}\n',
    orjson.dumps(ocsf.from_enriched(SSA_LIKE)) + b"\n",  # OCSF
    # read keys holding other values than text: nested, floats, bools, unicode
    '{"_time": 1.5e3, "process_name": "ünïcødé 😀.exe", "process": ["a", {"b": [true, null, -0.25]}], '
    '"dest_user_id": false, "parent_process_name": {"x": 1}}\n'.encode(),
]


@pytest.fixture(scope="module")
def awkward(tmp_path_factory) -> Path:
    """4,356 real events, the tricky lines 300 lines apart (a different 64-line batch each), a run
    of CRLF lines, and a last line without its newline."""
    good = EXAMPLE.read_bytes().splitlines(keepends=True) * 4
    lines = []
    for i, line in enumerate(good):
        if i % 300 == 150 and i // 300 < len(TRICKY):
            lines.append(TRICKY[i // 300])
        if 3800 <= i < 3900:
            line = line[:-1] + b"\r\n"
        lines.append(line)
    lines.append(b'{"_time": "9", "process_name": "no-newline.exe"}')
    path = tmp_path_factory.mktemp("awkward") / "awkward.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def oracle(data: bytes) -> tuple[list[int], int]:
    """(numbers of the lines orjson rejects or finds no object in, count of good objects): what
    the whole-event path must report, worked out line by line here."""
    bad, good = [], 0
    for line_no, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            bad.append(line_no)
            continue
        if isinstance(value, dict):
            good += 1
        else:
            bad.append(line_no)
    return bad, good


def run_modes(search: Path, data_path: Path, tmp: Path, *extra, modes=("projected", "whole", "workers")) -> dict:
    flags = {"projected": [], "whole": ["--whole-events"], "workers": ["--workers", "2"]}
    runs = {}
    for mode in modes:
        dead = tmp / f"{mode}.dead"
        # --workers is not used with --dead-letter (one process reads), so the workers run goes without.
        letters = [] if mode == "workers" else ["--dead-letter", dead]
        result = cli_in_process("run", search, "--input", data_path, *letters, *extra, *flags[mode])
        assert result.returncode == 0, (mode, result.stderr)
        index = Path(f"{dead}.index.jsonl")
        runs[mode] = {
            "stdout": result.stdout,
            "stderr": without_timing(result.stderr),
            "dead": dead.read_bytes() if dead.exists() else b"",
            "index": index.read_bytes() if index.exists() else b"",
        }
    return runs


@FIVE_KEYS_VARIANTS
def test_awkward_lines_give_the_same_output_warnings_and_dead_letters(five_keys, awkward, tmp_path):
    search = tmp_path / "five.spl"
    search.write_text(five_keys)
    assert keys_of(five_keys) == set(READ_KEYS)
    runs = run_modes(search, awkward, tmp_path, "--batch-size", "64")
    for part in ("stdout", "stderr", "dead", "index"):
        assert runs["whole"][part] == runs["projected"][part], part
    assert runs["workers"]["stdout"] == runs["projected"]["stdout"]
    assert runs["workers"]["stderr"] == runs["projected"]["stderr"]

    projected = runs["projected"]
    data = awkward.read_bytes()
    bad, good = oracle(data)
    assert len(bad) >= 3 + PRETTY.count(b"\n")  # malformed, array, bad UTF-8, two documents, the pretty lines
    reported = [orjson.loads(line) for line in projected["index"].splitlines()]
    assert [entry["line"] for entry in reported] == bad
    assert projected["dead"] == b"".join(data.split(b"\n")[n - 1] + b"\n" for n in bad)
    warnings = [line for line in projected["stderr"] if line.startswith(b"warning: ")]
    assert warnings[0].startswith(f"warning: {awkward}:{bad[0]}: invalid JSON".encode())
    assert projected["stdout"].count(b"\n") == good  # one record per good object, none lost
    for name in (b"wrapped.exe", b"ocsfonly.exe", b"second.exe", b"bigtime.exe", b"no-newline.exe",
                 "ünïcødé 😀.exe".encode()):
        assert name in projected["stdout"], name
    assert b"first.exe" not in projected["stdout"] and b"pretty.exe" not in projected["stdout"]


# ---- 5: corpus searches through the API ----

@needs_corpus
@pytest.mark.corpus  # a corpus-wide comparison: CI's corpus step (pyproject addopts)
def test_corpus_searches_with_their_events_decoded_late_write_what_whole_events_give(tmp_path):
    """A sample (every 12th, in corpus order; compiling them all is slow) of the corpus texts that
    read the SSA source, those of them projected only with their events decoded late, all in one
    run over the example, then on whole events: the same bytes."""
    texts = list(dict.fromkeys(text for line in CORPUS.read_bytes().splitlines()
                               if "read_ssa_enriched_events" in (text := orjson.loads(line)["search"])
                               and "time()" not in text))
    searches = []
    for text in texts[::12]:
        try:
            plan = compile_cached(text).plan
        except Exception:
            continue
        if keys_read(plan) is None and events_written(plan) is not None:
            searches.append(tmp_path / f"s{len(searches)}.spl")
            searches[-1].write_text(text)
    assert len(searches) >= 40
    outputs = []
    for flags in ([], ["--whole-events"]):
        out = tmp_path / f"out{len(outputs)}"
        result = cli_in_process("run", *searches, "--input", EXAMPLE, "--output-dir", out, *flags)
        assert result.returncode == 0, result.stderr
        outputs.append({path.name: path.read_bytes() for path in out.iterdir()})
    assert outputs[0] == outputs[1]
    assert sum(map(bool, outputs[0].values())) >= 5, "too few searches wrote anything to compare"


@needs_corpus
def test_corpus_searches_projected_by_run_files_match_run_on_whole_events():
    events = [orjson.loads(line) for line in EXAMPLE.read_bytes().splitlines()]
    seen, compared, records = set(), 0, 0
    for line in CORPUS.read_bytes().splitlines():
        text = orjson.loads(line)["search"]
        # Only texts that can be projected at all (cheap filters; compiling every text is slow).
        if text in seen or "read_ssa_enriched_events" not in text or not re.search(r"\b(select|fields)\b", text):
            continue
        seen.add(text)
        try:
            search = compile_cached(text)
        except Exception:
            continue
        if keys_read(search.plan) is None:
            continue
        projected = list(search.run_files([str(EXAMPLE)], batch_size=256))
        assert projected == list(search.run(events, batch_size=256)), text
        compared += 1
        records += len(projected)
    assert compared >= 5
    assert records > 0, "no corpus search wrote anything: the comparison would show nothing"


# ---- 6: ProjectedDecoder.decode_block itself ----

GOOD = b'{"a": "ok", "n": 1}\n'
FALLBACK = {
    "invalid JSON": b'{"a": "x", \n',
    "non-object line": b"[1, 2]\n",
    "a string line": b'"text"\n',
    "invalid UTF-8 in an unread key": b'{"a": "x", "z": "\xff"}\n',
    "invalid UTF-8 in a read key": b'{"a": "\xc3\x28"}\n',
    "invalid UTF-8 in a key name": b'{"a": "x", "\xff": 1}\n',
    "int beyond int64 in a read key": b'{"n": %d}\n' % 2**70,
    "int 2**63 in a read key": b'{"n": %d}\n' % 2**63,
    "negative int beyond int64 in a read key": b'{"n": %d}\n' % -(2**70),
    "blank line": b"\n",
    "whitespace line": b"   \n",
    "two documents on one line": b'{"a": "x"} {"a": "y"}\n',
    "object over several lines": b'{"a":\n"x"}\n',
    "input_event a string": b'{"input_event": "x", "a": "x"}\n',
    "input_event null": b'{"input_event": null, "a": "x"}\n',
    "input_event a list": b'{"input_event": [{"a": "x"}]}\n',
    "input_event a number": b'{"input_event": 1}\n',
    "class_uid inside input_event": b'{"input_event": {"class_uid": 1007, "a": "x"}}\n',
    "guard key beside input_event": b'{"input_event": {"a": "x"}, "EventID": 1}\n',
    "int beyond int64 in a read key of input_event": b'{"input_event": {"n": %d}}\n' % 2**70,
    "class_uid": b'{"class_uid": 1007, "a": "x"}\n',
    "_raw": b'{"_raw": "<Event/>", "a": "x"}\n',
    "winlog": b'{"winlog": {}, "a": "x"}\n',
    "event_data": b'{"event_data": {}, "a": "x"}\n',
    "EventID": b'{"EventID": 1, "a": "x"}\n',
    "EventId": b'{"EventId": 1, "a": "x"}\n',
    "lone surrogate": b'{"a": "\\ud800"}\n',
    "trailing comma": b'{"a": "x",}\n',
    "wide int inside a read list": b'{"a": [1, {"b": -9223372036854775809}]}\n',
    "nested beyond orjson's 1,024 levels": b'{"a": "x", "z": ' + b"[" * 1025 + b"]" * 1025 + b"}\n",
    "nested 1,000 levels (orjson's to decide)": b'{"a": "x", "z": ' + b"[" * 1000 + b"]" * 1000 + b"}\n",
}


@pytest.mark.parametrize("case", FALLBACK, ids=list(FALLBACK))
def test_decode_block_declines_what_it_cannot_decode_like_orjson(case):
    decoder = ProjectedDecoder(frozenset({"a", "n"}))
    assert isinstance(decoder.decode_block(GOOD * 2), ProjectedMaps)  # the same decoder takes good lines
    block = GOOD + FALLBACK[case] + GOOD
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4000))  # as a run sets it (values.py walks deep values)
    assert decoder.decode_block(block) is None


def test_decode_block_values_are_orjsons():
    lines = [
        b'{"a": "x", "b": 1, "c": 2.5, "d": [1, {"e": null, "f": [true]}], "f": true, "skip": {"deep": [1, 2]}}\n',
        b'{"b": -9223372036854775808, "a": "\\u00e9\\ud83d\\ude00 \xe2\x82\xac", "f": false, "c": -0.0}\n',
        b'{"a": null, "b": 9223372036854775807, "c": 1e300, "d": {"k": "v", "n": [1.5, "s"]}}\r\n',
        b'{}\n',
        b'{"d": "text now", "c": 1E2, "unread": [1, 2, {"x": "y"}], "b": 0}\n',
        b'{"a": "dup", "a": "last wins", "f": null}',  # no newline at the end
    ]
    decoder = ProjectedDecoder(frozenset("abcdf") | {"absent"})
    got = decoder.decode_block(b"".join(lines))
    assert isinstance(got, ProjectedMaps) and len(got) == len(lines)
    for key in "abcdf":
        expected = [orjson.loads(line).get(key) for line in lines]
        values = got.key(key).tolist()
        assert values == expected, key
        assert [type(v) for v in values] == [type(v) for v in expected], key
    assert got.key("absent").tolist() == [None] * len(lines)
    with pytest.raises(RuntimeError):
        list(got)  # the events themselves were never built
    # A key no line has is known to be null (nothing hashes its rows); one some line has is not.
    assert kinds_of(got.key("absent")) == NULL_KINDS
    assert [kinds_of(got.key(key)) != NULL_KINDS for key in "abcdf"] == [True] * 5


def test_rows_chosen_from_projected_events_are_taken_key_by_key_when_read():
    """A filter's rows of a ProjectedMaps (and rows of those) hold each key's values at those rows,
    dictionary encoding and kinds kept; a key's rows are taken only when it is first read."""
    from spl_lite.core.batch import coded, encoding, known, take_rows

    texts = np.array(["a", "b", None, "a", "c", "b", "a", None], dtype=object)
    numbers = known(np.array([1, 2.5, None, 4, 5, 6, 7, 8], dtype=object))
    encoded = coded(np.array(["x", "y"], dtype=object), np.array([0, 1, 1, 0, 0, 1, 0, 1]), frozenset((str,)))
    maps = ProjectedMaps({"t": known(texts, frozenset((str, type(None)))), "n": numbers, "e": encoded}, 8)
    first = np.array([True, False, True, True, True, False, True, True])
    second = np.array([0, 2, 4, 5])
    chosen = maps[first][second]
    assert chosen.values == {} and len(chosen) == 4  # nothing taken yet
    expected = {key: take_rows(take_rows(column, first), second) for key, column in maps.values.items()}
    for key, column in expected.items():
        got = chosen.key(key)
        assert got.tolist() == column.tolist() and kinds_of(got) == kinds_of(column)
        assert (encoding(got) is None) == (encoding(column) is None)
    assert sorted(chosen.values) == ["e", "n", "t"] and sorted(chosen.keys()) == ["e", "n", "t"]
    assert ProjectedMaps.concat([maps[first], chosen]).key("t").tolist() == texts[first].tolist() + expected["t"].tolist()


RARE_LINES = [
    b'{"a": "x", "n": 1}\n',
    b'{"a": "y"}\n',
    b'{"a": "z", "r": "text"}\n',
    b'{"a": "z", "r": null, "v": null}\n',
    b'{"a": "w", "v": [1, {"k": "v"}], "r": "t2"}\n',
    b'{"a": "w", "v": 9223372036854775807}\n',
    b'{"a": "w", "v": -9223372036854775808, "n": 2.5}\n',
    b'{"a": "q", "v": true, "r": "\\u00e9"}\n',
    b'{"id": 1, "input_event": {"a": "s", "r": "in a record"}}\n',
    b'{"id": 2, "input_event": {"a": "s", "v": {"deep": [1]}}}\n',
]
RARE_DECLINED = [
    b'{"a": "w", "v": 9223372036854775808}\n',  # beyond int64 at the top of a key: orjson's business
    b'{"a": "w", "v": [18446744073709551616]}\n',
    b'{"a": "w", "v": 1e400}\n',
]


@pytest.mark.parametrize("seed", range(8))
def test_keys_absent_from_a_block_are_decoded_through_the_hook_with_the_same_values(seed):
    """Keys no line of the last block had are decoded through a hook that sees only the lines
    having them: block after block, with keys coming and going (text, then another type, a wide
    integer), every column is orjson's, and a block is declined exactly when a fresh decoder
    (which reads every key of its first block line by line) declines it."""
    import random

    rng = random.Random(seed)
    keys = frozenset({"a", "n", "r", "v", "never"})
    decoder = ProjectedDecoder(keys)
    rare_seen = set()
    for _ in range(30):
        lines = [rng.choice(RARE_LINES) for _ in range(rng.randint(1, 6))]
        if rng.random() < 0.1:
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(RARE_DECLINED))
        block = b"".join(lines)
        got, alone = decoder.decode_block(block), ProjectedDecoder(keys).decode_block(block)
        assert (got is None) == (alone is None), block
        if got is None:
            continue
        events = [orjson.loads(line) for line in lines]
        events = [event.get("input_event", event) for event in events]  # a stream record's event
        for key in keys:
            expected = [event.get(key) for event in events]
            assert got.key(key).tolist() == expected, (key, block)
            assert [type(v) for v in got.key(key).tolist()] == [type(v) for v in expected]
            kinds = kinds_of(got.key(key))  # what the column vouches for (ucast skips its check on it)
            assert kinds is None or {type(v) for v in expected} <= kinds, (key, block)
        rare_seen |= decoder._rare
    assert {"never", "r", "v"} <= rare_seen  # the hook was used for keys that came and went


# ---- differences once found between the projected and whole-event paths ----
# Each compares the two paths on input the checks above leave out. Two differences were fixed and
# these guard them; one stands, documented in README (Performance) and marked xfail below.
KNOWN_DIFFERENCE = pytest.mark.xfail(
    strict=True,
    reason="a number beyond double range in a key the search does not read: orjson rejects the line, "
           "the projected decoder skips the value unread (no cheap exact check; see README)")


@KNOWN_DIFFERENCE
def test_number_orjson_rejects_in_an_unread_key_falls_back():
    # orjson rejects 1e400 ("number is infinity when parsed as double") wherever it is; msgspec
    # skips an unread key's value without converting it.
    for line in (b'{"a": "x", "z": 1e400}\n', b'{"a": "x", "z": [-1e400]}\n', b'{"a": "x", "z": 1' + b"0" * 400 + b"}\n"):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(line)
        block = GOOD + line + GOOD
        assert ProjectedDecoder(frozenset({"a"})).decode_block(block) is None, line


@pytest.mark.parametrize("extra", [
    b'{"a": "x"} {"a": "y"}\n\n',  # two documents on one line + a blank line: 2 lines, 2 documents
    b'{"a":\n"s"}\n{"a": "x"} {"a": "y"}\n',  # one object over two lines + two on one: 3 lines, 3 documents
], ids=["two-on-a-line-and-blank", "split-object-and-two-on-a-line"])
def test_bad_lines_whose_count_cancels_out_fall_back(extra):
    block = GOOD + extra + GOOD
    assert ProjectedDecoder(frozenset({"a"})).decode_block(block) is None


@pytest.mark.parametrize("odd", [
    pytest.param([b'{"_time": "1", "process_name": "inf.exe", "process_id": 1e400}\n'], marks=KNOWN_DIFFERENCE),
    [b'{"process_name": "one.exe"} {"process_name": "two.exe"}\n', b"\n"],
    [b'{"process_name":\n', b'"split.exe"}\n', b'{"process_name": "one.exe"} {"process_name": "two.exe"}\n'],
], ids=["infinite-number-in-unread-key", "two-on-a-line-and-blank", "split-object-and-two-on-a-line"])
def test_cli_output_is_the_same_for_lines_the_decoder_once_accepted(odd, tmp_path):
    search = tmp_path / "five.spl"
    search.write_text(FIVE_KEYS_DEFERRED)  # the odd lines' keys are decoded late, apart from their block
    good = EXAMPLE.read_bytes().splitlines(keepends=True)[:200]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(good[:100] + odd + good[100:]))
    bad, good_count = oracle(path.read_bytes())
    assert bad
    runs = run_modes(search, path, tmp_path, "--batch-size", "64")
    whole = runs["whole"]
    assert [orjson.loads(line)["line"] for line in whole["index"].splitlines()] == bad
    assert whole["stdout"].count(b"\n") == good_count
    for mode in ("projected", "workers"):
        extra = set(runs[mode]["stdout"].splitlines()) - set(whole["stdout"].splitlines())
        assert not extra, f"{mode} wrote records for lines the whole-event path rejects: {extra}"
        assert runs[mode]["stdout"] == whole["stdout"], mode
        assert runs[mode]["stderr"] == whole["stderr"], mode
    assert runs["projected"]["dead"] == whole["dead"] and runs["projected"]["index"] == whole["index"]


@pytest.mark.parametrize("key", ["_raw", "EventID", "class_uid"])
def test_a_search_reading_a_key_that_marks_other_shapes_runs(key, tmp_path):
    # A key that marks a line as another shape cannot be both read and guarded in one schema: such a
    # search reads whole events.
    text = SOURCE + f'| eval r = map_get(input_event, "{key}"), p = map_get(input_event, "process_name") | select r, p' + SINK
    assert keys_of(text) == {key, "process_name"}
    search = tmp_path / "reads.spl"
    search.write_text(text)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"process_name": "a.exe"}\n{"process_name": "b.exe", "dest_user_id": "u"}\n')
    whole = cli_in_process("run", search, "--input", path, "--whole-events")
    assert whole.returncode == 0 and whole.stdout.count(b"\n") == 2
    decoder_for([Search.compile(text).plan], "auto")  # must not raise
    projected = cli_in_process("run", search, "--input", path)
    assert projected.returncode == 0 and projected.stdout == whole.stdout


def test_a_key_holding_other_values_than_text_is_widened_once():
    decoder = ProjectedDecoder(frozenset(["t", "n"]))
    first = decoder.decode_block(b'{"t": "1", "n": "x"}\n')
    assert first.key("t").kinds == {str, type(None)}
    later = decoder.decode_block(b'{"t": "2", "n": 5}\n{"t": null, "n": [1]}\n')
    assert later.key("n").tolist() == [5, [1]] and later.key("n").kinds is None
    assert later.key("t").tolist() == ["2", None] and later.key("t").kinds == {str, type(None)}


def test_keys_msgspec_cannot_name_are_read_from_whole_events():
    text = SOURCE + '| eval v = map_get(input_event, "a\\"b") | select v' + SINK
    assert keys_of(text) == {'a"b'}
    assert decoder_for([Search.compile(text).plan], "auto") is None


@FIVE_KEYS_VARIANTS
def test_awkward_lines_in_the_ssa_format_give_the_same_output(five_keys, awkward, tmp_path):
    # With --input-format ssa only stream records leave the projected path; lines are used as they are.
    search = tmp_path / "five.spl"
    search.write_text(five_keys)
    outputs = [cli_in_process("run", search, "--input", awkward, "--batch-size", "64", "--input-format", "ssa", *flags)
               for flags in ([], ["--whole-events"])]
    assert outputs[0].stdout == outputs[1].stdout and outputs[0].stdout.count(b"\n") > 100
    assert without_timing(outputs[0].stderr) == without_timing(outputs[1].stderr)


# ---- deferred keys: decoded late, for the rows that need them ----

def test_reference_detection_defers_the_keys_it_only_carries_to_its_output():
    plan = Search.compile(REFERENCE.read_text()).plan
    assert deferred_keys(plan) == {"process", "dest_user_id", "dest_device_id", "event_id"}
    assert decoder_for([plan], "auto").deferred == {"process", "dest_user_id", "dest_device_id", "event_id"}


def _eval_select(assignments: str, rest: str = ' | where p = "x"') -> str:
    return SOURCE + f"| eval {assignments} | select v, p{rest}" + SINK


CARRIED = 'v = map_get(input_event, "a"), p = map_get(input_event, "b")'
# (search, the keys it defers): each changes one thing against the first.
DEFERRAL = {
    "carried past a filter": (_eval_select(CARRIED), {"a"}),
    "no filter": (_eval_select(CARRIED, ""), set()),
    "ucast that checks": (_eval_select('v = ucast(map_get(input_event, "a"), "string", ""), p = 1'), {"a"}),
    "ucast that converts": (_eval_select('v = ucast(map_get(input_event, "a"), "double", null), p = 1'), set()),
    "read by a where in the head": (SOURCE + '| eval v = map_get(input_event, "a"), p = 1 | where v != "x" | select v, p'
                                    ' | where p = 2' + SINK, set()),
    "read by a later assignment": (_eval_select('v = map_get(input_event, "a"), p = lower(v)'), set()),
    "read by a select expression": (SOURCE + '| eval v = map_get(input_event, "a") | select upper(v) AS v, v AS p'
                                    ' | where p = "x"' + SINK, set()),
    "key also read in a call": (_eval_select('v = map_get(input_event, "a"), p = lower(map_get(input_event, "a"))'),
                                set()),
    "a nested map_get": (_eval_select('v = map_get(map_get(input_event, "a"), "b"), p = 1'), set()),
    "read after the filter": (_eval_select(CARRIED, ' | where p = "x" | eval w = lower(v)'), {"a"}),
    "read before the filter": (_eval_select(CARRIED, ' | eval w = lower(v) | where p = "x"'), set()),
    "renamed, then read before the filter": (_eval_select(CARRIED, ' | select v AS w, p | eval z = lower(w) | where p = "x"'),
                                             set()),
    "read by a stateful command before the filter": (
        _eval_select(CARRIED, ' | conditional_anomaly conditional="v" target="p" | where p = "x"'), set()),
    "stats after the select": (_eval_select(CARRIED, " | stats count() BY p, span(p, 5m)"), set()),
}


@pytest.mark.parametrize("case", DEFERRAL, ids=list(DEFERRAL))
def test_which_keys_are_deferred(case):
    text, expected = DEFERRAL[case]
    plan = Search.compile(text).plan
    assert keys_read(plan) is not None
    assert deferred_keys(plan) == expected


def test_decoder_defers_a_key_only_if_every_search_can_wait_for_it():
    carried = Search.compile(_eval_select(CARRIED, " | where 1 = 1")).plan
    reading = Search.compile(DEFERRAL["read by a later assignment"][0]).plan
    assert decoder_for([carried], "auto").deferred == {"a", "b"}
    assert decoder_for([carried, reading], "auto").deferred == {"b"}


DEFERRED_LINES = [
    b'{"a": "x", "b": "keep", "c": 1}\n',
    b'{"b": 7, "a": "y"}\n',  # not text: the late decode reads these lines as orjson does
    b'{"a": "z", "b": [1, {"n": null, "f": -0.5}]}\r\n',
    b'{"a": "w"}\n',  # no "b"
    b'{"a": "v", "b": "\\u00e9\\ud83d\\ude00", "b": "last wins"}',
]


def test_a_deferred_column_is_decoded_for_the_chosen_rows_only_and_once():
    decoder = ProjectedDecoder(frozenset({"a", "b"}), deferred=frozenset({"b"}))
    events = decoder.decode_block(b"".join(DEFERRED_LINES))
    expected = [orjson.loads(line).get("b") for line in DEFERRED_LINES]
    assert events.key("a").tolist() == ["x", "y", "z", "w", "v"]
    column = events.key("b")
    assert isinstance(column, DeferredColumn) and len(column) == 5
    values = column.values()
    assert values.tolist() == expected and [type(v) for v in values] == [type(v) for v in expected]

    late = events.deferred.late
    decoded = []
    original = late.decode
    late.decode = lambda lines: decoded.append(len(lines)) or original(lines)
    batch = Batch({"a": events.key("a"), "b": events.key("b"), "c": events.key("b")}, np.arange(5))
    kept = batch.filter(np.array([True, True, False, True, True])).filter(np.array([3, 1, 0]))
    assert isinstance(kept.columns["b"], DeferredColumn) and not decoded  # choosing rows decodes nothing
    assert list(kept.records()) == [{"a": a, "b": expected[i], "c": expected[i]} for a, i in (("v", 4), ("y", 1), ("x", 0))]
    assert decoded == [3]  # one late decode of the three rows, for both columns
    # Nothing reads the values implicitly: a batch decodes the deferred columns a node uses, only those.
    rows = np.array([0, 3])
    again = Batch({"b": events.key("b")[rows], "a": events.key("a")[rows]}, np.arange(2))
    assert again.decoded(frozenset({"a"})) is again
    assert again.decoded(frozenset({"b"})).columns["b"].tolist() == [expected[0], expected[3]]
    assert not hasattr(DeferredColumn, "__eq__") or DeferredColumn.__eq__ is object.__eq__


def test_a_deferred_column_read_after_the_select_gives_whole_event_values():
    text = (SOURCE + '| eval cmd = map_get(input_event, "process"), name = map_get(input_event, "process_name") '
            '| select cmd, name | where name = "cmd.exe" OR name = "powershell.exe" | eval cmd_lower = lower(cmd), '
            'n = len(cmd) | where n > 10' + SINK)
    search = Search.compile(text)
    assert deferred_keys(search.plan) == {"process"}
    events = [orjson.loads(line) for line in EXAMPLE.read_bytes().splitlines()]
    projected = list(search.run_files([str(EXAMPLE)], batch_size=256))
    assert projected == list(search.run(events, batch_size=256))
    assert len(projected) > 10


# ---- blocks decoded one by one are handed on together ----

def test_blocks_gathered_into_one_batch_read_as_each_block_does():
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)[:700]
    expected = [orjson.loads(line) for line in lines]
    decoder = ProjectedDecoder(frozenset({"process_name", "process", "_time"}), deferred=frozenset({"process"}))
    gatherer = BlockGatherer(250)
    batches, cuts = [], [0, 1, 90, 91, 300, 480, 520]  # blocks of 1, 89, 1, 209, 180 and 40 lines
    for start, end in zip(cuts, cuts[1:]):
        gathered = gatherer.add(decoder.decode_block(b"".join(lines[start:end])))
        if gathered is not None:
            batches.append(gathered)
    batches.append(gatherer.take())
    assert gatherer.take() is None
    assert [len(b) for b in batches] == [300, 220]  # 1+89+1+209, then what is left
    first = 0
    rng = np.random.default_rng(5)
    for batch in batches:
        mine = expected[first:first + len(batch)]
        assert batch.key("process_name").tolist() == [e.get("process_name") for e in mine]
        assert batch.key("_time").kinds is not None  # what the decoder knew of each block, kept
        # Rows from every block, in any order, and chosen twice: the deferred key's values are
        # those of the lines of several blocks.
        rows = rng.permutation(len(batch))[: len(batch) // 3]
        assert batch[rows].key("process").values().tolist() == [mine[i].get("process") for i in rows]
        assert _values(batch.key("process")).tolist() == [e.get("process") for e in mine]
        first += len(batch)


def test_reader_hands_on_gathered_blocks_in_order_around_blocks_it_cannot_project(awkward, monkeypatch):
    """Small decode blocks, so that many are gathered into each batch, between the awkward lines
    that go to the whole-event path: the events, in order, are those of reading whole events."""
    monkeypatch.setattr(jsonl, "DECODE_BLOCK_LINES", 50)
    keys = frozenset({"process_name", "_time"})

    def read(projection):
        reader = EventReader([str(awkward)], 400, on_bad_line=lambda message: None, decoder=projection)
        sizes, names = [], []
        for events in reader.batches():
            sizes.append(len(events))
            names += _values(events.key("process_name")).tolist() if isinstance(events, ProjectedMaps) else [
                (e["input_event"] if e.get("input_event").__class__ is dict else e).get("process_name")
                for e in events]  # a stream record's event is its input_event
        return sizes, names

    sizes, projected = read(ProjectedDecoder(keys, deferred=frozenset({"process_name"})))
    assert read(None)[1] == projected
    assert max(sizes) >= 400 and min(sizes) < 50  # gathered batches, and the odd block alone


def test_deferred_keys_of_a_plain_file_are_read_back_from_it_and_of_gzip_kept_in_memory(tmp_path):
    import gzip

    text = (SOURCE + '| eval cmd = map_get(input_event, "process"), name = map_get(input_event, "process_name") '
            '| select cmd, name | where name = "cmd.exe" OR name = "powershell.exe"' + SINK)
    search = Search.compile(text)
    assert deferred_keys(search.plan) == {"process"}
    data = EXAMPLE.read_bytes() * 3
    plain, packed = tmp_path / "events.jsonl", tmp_path / "events.jsonl.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    decoder = decoder_for([search.plan], "auto")
    kinds = {}
    for path in (plain, packed):
        batches = list(EventReader([str(path)], 1_000, decoder=decoder).batches())
        kinds[path.name] = {type(batch.deferred).__name__ for batch in batches}
    assert kinds == {"events.jsonl": {"_FileLines"}, "events.jsonl.gz": {"_Lines"}}
    whole = list(search.run(orjson.loads(line) for line in data.splitlines()))
    assert len(whole) > 10
    assert list(search.run_files([str(plain)])) == whole == list(search.run_files([str(packed)]))


def test_a_damaged_gzip_keeps_the_blocks_gathered_before_the_damage(tmp_path):
    """Several decode blocks are read and gathered before the damage, none handed on yet."""
    import gzip
    import zlib

    lines = EXAMPLE.read_bytes().splitlines(keepends=True) * 5
    packed = gzip.compress(b"".join(lines))
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(packed[: len(packed) * 2 // 3])
    readable = zlib.decompressobj(wbits=31).decompress(broken.read_bytes())
    whole = readable[: readable.rfind(b"\n") + 1]
    assert whole.count(b"\n") > 3 * 1024  # more than three decode blocks before the damage
    search = tmp_path / "names.spl"
    search.write_text(SOURCE + '| eval name = map_get(input_event, "process_name") | select name' + SINK)
    result = cli_in_process("run", search, "--input", broken)
    assert result.returncode == 3 and b"gzip data is truncated" in result.stderr
    clean = tmp_path / "whole.jsonl"
    clean.write_bytes(whole)
    assert result.stdout == cli_in_process("run", search, "--input", clean).stdout
    assert result.stdout.count(b"\n") == whole.count(b"\n")


# ---- property: any JSON objects decode as orjson decodes them, or go to the whole-event path ----

_KEYS = ["a", "b", "c.d", "_time", "input_event", "class_uid"]
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS + ["x"]), inner, max_size=3)), max_leaves=8)
_OBJECTS = st.dictionaries(st.sampled_from(_KEYS + ["x", "y"]), _VALUES, max_size=5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(st.lists(_OBJECTS, min_size=1, max_size=6), st.sampled_from(["auto", "ssa"]),
       st.sampled_from([frozenset(), frozenset(["a", "c.d"])]), st.randoms(use_true_random=False))
def test_any_json_objects_decode_as_orjson_decodes_them(objects, input_format, deferred, random):
    # The standard library writes integers of any size (orjson reads those beyond 64 bits as
    # doubles) and lone surrogates (not UTF-8: both paths must reject those lines).
    lines = [json.dumps(o, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n" for o in objects]
    decoder = ProjectedDecoder(frozenset(["a", "b", "c.d", "_time"]), input_format, deferred)
    got = decoder.decode_block(b"".join(lines))
    if got is None:
        return  # the whole-event path decides
    # A line whose `input_event` is an object is a stream record, whose event that is; any other
    # `input_event` makes the line the event, holding that value, which the decoder leaves to the
    # whole-event path.
    assert all(o.get("input_event", {}).__class__ is dict for o in objects)
    events = [o["input_event"] if "input_event" in o else o for o in objects]
    if got.kind == "ocsf":  # OCSF documents (io/ocsf_columns.py): the SSA events they make
        assert input_format == "auto" and all("class_uid" in o for o in objects)
        events = [ocsf.to_enriched(orjson.loads(line)) for line in lines]
        deferred = frozenset()  # every key is decoded at once
    else:
        if input_format == "auto":
            assert not any("class_uid" in o for o in objects + events)
        events = [e["input_event"] if e.get("input_event").__class__ is dict else e for e in map(orjson.loads, lines)]
    rows = np.array(sorted(random.sample(range(len(lines)), random.randint(0, len(lines)))), dtype=np.intp)
    for key in ("a", "b", "c.d", "_time"):
        column = got.key(key)
        assert isinstance(column, DeferredColumn) == (key in deferred)
        expected = [e.get(key) for e in events]
        values = _values(column).tolist()
        assert values == expected and [type(v) for v in values] == [type(v) for v in expected], key
        chosen = _values(got[rows].key(key)).tolist()  # rows of the events first, then the key (the where-in-head order)
        assert chosen == [expected[i] for i in rows], key


def _values(column):
    """A key's values, decoding a deferred column as the executor does before a node uses it."""
    return column.values() if isinstance(column, DeferredColumn) else column


# Bytes that make up UTF-8 and its usual mistakes: lone continuation bytes, truncated and
# overlong sequences, surrogates, code points beyond U+10FFFF, bytes that never occur.
UTF8_PIECES = [b"a", b" ", b"{", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xff", b"\xc3", b"\x80",
               b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(UTF8_PIECES), max_size=10))
def test_utf8_checked_on_the_non_ascii_runs_is_utf8_checked_whole(pieces):
    from spl_lite.io.json_blocks import is_utf8

    data = b"".join(pieces)
    try:
        data.decode()
        expected = True
    except UnicodeDecodeError:
        expected = False
    assert is_utf8(np.frombuffer(data, dtype=np.uint8)) == expected
