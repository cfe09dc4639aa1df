"""Projected reading (spl_lite/io/projection.py) gives exactly what decoding whole events gives.

It decodes only the keys a search reads; whatever it cannot decide the same way goes down the
whole-event path. These tests compare the two paths on real and on deliberately awkward input.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from spl_lite.api import Search
from spl_lite.io.projection import ProjectedDecoder, decoder_for, keys_read

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "process_creation.jsonl"
REFERENCE = ROOT / "searches" / "rare_parent_child_process_relationship.spl"
CORPUS = ROOT.parent / "shared" / "corpus" / "searches.jsonl"
sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_events import generate  # noqa: E402

SOURCE = "| from read_ssa_enriched_events() "
SINK = " | into write_ssa_detected_events();"
# Reads four keys of every event and writes them out: every value read shows in the output.
FOUR_KEYS = (SOURCE + '| eval t = map_get(input_event, "_time"), p = map_get(input_event, "process_name"), '
             'q = map_get(input_event, "parent_process_name"), n = map_get(input_event, "process_id") '
             "| select t, p, q, n" + SINK)


def plan_of(text: str):
    return Search.compile(text).plan


def test_the_reference_detection_reads_seven_keys():
    assert keys_read(plan_of(REFERENCE.read_text())) == {
        "_time", "parent_process_name", "process_name", "process", "dest_user_id", "dest_device_id", "event_id"}


@pytest.mark.parametrize("text", [
    SOURCE + '| eval a = map_get(input_event, "a")' + SINK,  # the event itself is written out
    SOURCE + "| select input_event" + SINK,
    SOURCE + "| eval e = input_event | select e" + SINK,
    SOURCE + '| eval k = "a" | eval v = map_get(input_event, k) | select v' + SINK,  # key known per record only
    SOURCE + "| eval v = input_event.process_name | select v" + SINK,
    SOURCE + '| where "Endpoint_Processes" IN(_datamodels) | eval v = map_get(input_event, "a") | select v' + SINK,
    SOURCE + '| eval p = map_get(input_event, "p"), c = map_get(input_event, "c") '
             '| conditional_anomaly conditional="p" target="c" | select p, c, output' + SINK,
    SOURCE + '| eval body = map_get(input_event, "a") | select body' + SINK,  # assigns a source field
    "| from read_ba_enriched_events() | eval v = map_get(input_event, \"a\") | select v" + SINK,
])
def test_searches_that_need_whole_events_are_not_projected(text):
    assert keys_read(plan_of(text)) is None


def test_every_branch_must_drop_the_event():
    both = ('$e = | from read_ssa_enriched_events() | eval a = map_get(input_event, "a");'
            '| from $e | where a = "x" | fields a | into write_ssa_detected_events();'
            '| from $e | eval b = map_get(input_event, "b") | select b | into write_ssa_detected_events();')
    assert keys_read(plan_of(both)) == {"a", "b"}
    one_keeps_it = both.replace("| select b", "")
    assert keys_read(plan_of(one_keeps_it)) is None


def test_keys_msgspec_cannot_name_are_not_projected():
    text = SOURCE + '| eval v = map_get(input_event, "a\\"b") | select v' + SINK
    assert keys_read(plan_of(text)) == {'a"b'}
    assert decoder_for([plan_of(text)], "auto") is None
    assert decoder_for([plan_of(FOUR_KEYS)], "windows") is None  # raw formats are converted whole


def test_decoded_values_are_orjsons():
    lines = [
        b'{"a": "x", "b": 1, "c": 2.5, "d": [1, {"e": null}], "f": true, "skip": {"deep": [1, 2]}}\n',
        b'{"b": -9223372036854775808, "a": "\\u00e9\\ud83d\\ude00", "f": false}\n',
        b'{"a": "dup", "a": "last wins"}\n',
        b'{"c": 1e300, "d": {}, "e": "unread"}\r\n',
    ]
    decoder = ProjectedDecoder(frozenset("abcdf"))
    got = decoder.decode_block(b"".join(lines), len(lines))
    assert got is not None and len(got) == len(lines)
    for key in "abcdf":
        expected = [orjson.loads(line).get(key) for line in lines]
        values = got.key(key).tolist()
        assert values == expected and [type(v) for v in values] == [type(v) for v in expected], key


@pytest.mark.parametrize("odd", [
    b'{"a": "x", \n',  # malformed
    b"[1, 2]\n",  # not an object
    b'{"a": "x", "z": "\xff"}\n',  # invalid UTF-8 in a key that is not read
    b'{"a": 123456789012345678901234567890}\n',  # orjson reads it as a double
    b'{"a": [1, {"b": -9223372036854775809}]}\n',  # ... also inside a list or map
    b"\n",  # blank
    b'{"a": "x"} {"a": "y"}\n',  # two documents on one line
    b'{"a":\n"x"}\n',  # one document over two lines
    b'{"input_event": {"a": "x"}}\n',  # a stream record
    b'{"class_uid": 1007, "a": "x"}\n',  # OCSF
    b'{"EventID": 1, "a": "x"}\n',  # a raw Windows record
    b'{"a": "x", "z": ' + b"[" * 1025 + b"]" * 1025 + b"}\n",  # orjson stops at 1,024 levels
    b'{"a": "x", "z": ' + b"[" * 1000 + b"]" * 1000 + b"}\n",  # orjson's to decide, not msgspec's
])
def test_blocks_it_cannot_decide_go_to_the_whole_event_path(odd):
    good = b'{"a": "ok"}\n'
    block = good + odd + good
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(4000)  # as a run sets it (values.py walks deep values)
    try:
        assert ProjectedDecoder(frozenset("a")).decode_block(block, block.count(b"\n")) is None
    finally:
        sys.setrecursionlimit(previous)
    assert sys.getrecursionlimit() == previous


def test_a_key_holding_other_values_than_text_is_widened_once():
    decoder = ProjectedDecoder(frozenset(["t", "n"]))
    first = decoder.decode_block(b'{"t": "1", "n": "x"}\n', 1)
    assert first.key("t").kinds == {str, type(None)}
    later = decoder.decode_block(b'{"t": "2", "n": 5}\n{"t": null, "n": [1]}\n', 2)
    assert later.key("n").tolist() == [5, [1]] and later.key("n").kinds is None
    assert later.key("t").tolist() == ["2", None] and later.key("t").kinds == {str, type(None)}


def cli(*args) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "spl_lite.cli", "run", *map(str, args)],
                            capture_output=True, timeout=300)
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    return result


@pytest.fixture(scope="module")
def awkward_input(tmp_path_factory) -> Path:
    """Real events with every kind of line the projected decoder declines, spread over batches."""
    good = EXAMPLE.read_bytes().splitlines(keepends=True)
    odd = [
        b'{"process_name": "cmd.exe", \n',
        b"[1, 2, 3]\n",
        b'{"process_name": "a.exe", "parent_process_name": "b.exe", "note": "\xff\xfe"}\n',
        b'{"_time": 123456789012345678901234567890, "process_name": "big.exe"}\n',
        b'{"process_id": 123456789012345678901234567890, "process_name": "bigpid.exe"}\n',
        b"\n",
        b'{"process_name": "one.exe"} {"process_name": "two.exe"}\n',
        b'{"process_name":\n"split.exe"}\n',
        b'{"process_name": "crlf.exe", "_time": "5"}\r\n',
        b'{"process_name": "first.exe", "process_name": "second.exe"}\n',
        b'{"input_event": {"process_name": "wrapped.exe", "_time": "7"}, "_datamodels": []}\n',
        b'{"class_uid": 1007, "process": {"name": "ocsf.exe"}, "time": 9}\n',
        b'{"_time": 42, "process_name": 17, "parent_process_name": ["x"]}\n',
    ]
    lines = []
    for i, line in enumerate(good * 3):
        lines.append(line)
        if i % 97 == 0:
            lines.append(odd[(i // 97) % len(odd)])
    lines.append(b'{"process_name": "no-newline.exe"}')
    path = tmp_path_factory.mktemp("projection") / "awkward.jsonl"
    path.write_bytes(b"".join(lines))
    return path


@pytest.mark.parametrize("input_format", ["auto", "ssa"])
def test_awkward_input_gives_the_same_output_warnings_and_rejects(awkward_input, tmp_path, input_format):
    search = tmp_path / "four.spl"
    search.write_text(FOUR_KEYS)
    runs = {}
    for mode in ("projected", "whole"):
        rejects = tmp_path / f"{mode}.rejects"
        extra = ["--whole-events"] if mode == "whole" else []
        result = cli(search, "--input", awkward_input, "--batch-size", "64", "--dead-letter", rejects,
                     "--progress", "--input-format", input_format, *extra)
        summary = [line.split(b" s (")[0].rsplit(b", ", 1)[0] for line in result.stderr.splitlines()]
        runs[mode] = (result.stdout, summary, rejects.read_bytes())
    assert runs["projected"] == runs["whole"]
    stdout, warnings, rejected = runs["projected"]
    assert b"invalid JSON" in b"\n".join(warnings) and b"expected a JSON object" in b"\n".join(warnings)
    assert b"\xff\xfe" in rejected and b"two.exe" in rejected
    assert b'"p":"wrapped.exe"' in stdout and b'"p":"no-newline.exe"' in stdout


def test_reference_detection_is_the_same_either_way(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(generate(30_000, 3)))
    outputs = {tuple(flags): cli(REFERENCE, "--input", events, *flags).stdout
               for flags in ([], ["--whole-events"], ["--workers", "2"], ["--workers", "2", "--whole-events"])}
    assert outputs[()].count(b"\n") >= 1
    assert len(set(outputs.values())) == 1


@pytest.mark.skipif(not CORPUS.exists(), reason=f"corpus not found at {CORPUS}")
def test_projected_corpus_searches_match_whole_events():
    events = [orjson.loads(line) for line in EXAMPLE.read_bytes().splitlines()]
    compared = 0
    for line in CORPUS.read_bytes().splitlines():
        text = orjson.loads(line)["search"]
        if "select" not in text and "fields" not in text:
            continue  # the event reaches the sink: never projected (and compiling all would be slow)
        try:
            search = Search.compile(text)
        except Exception:
            continue
        if keys_read(search.plan) is None:
            continue
        assert list(search.run_files([str(EXAMPLE)])) == list(search.run(events))
        compared += 1
    assert compared >= 10


# ---- property: any JSON lines decode as orjson decodes them, or go to the whole-event path ----

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

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
@given(st.lists(_OBJECTS, min_size=1, max_size=6), st.sampled_from(["auto", "ssa"]))
def test_any_json_objects_decode_as_orjson_decodes_them(objects, input_format):
    # The standard library writes integers of any size (orjson reads beyond 64 bits as doubles) and
    # lone surrogates (not UTF-8: both paths must reject those lines).
    lines = [json.dumps(o, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n" for o in objects]
    decoder = ProjectedDecoder(frozenset(["a", "b", "c.d", "_time"]), input_format)
    got = decoder.decode_block(b"".join(lines), len(lines))
    if got is None:
        return  # the whole-event path decides; that it is taken is what the fallback cases test
    assert not any("input_event" in o for o in objects)
    if input_format == "auto":
        assert not any("class_uid" in o for o in objects)
    for key in ("a", "b", "c.d", "_time"):
        expected = [orjson.loads(line).get(key) for line in lines]
        values = got.key(key).tolist()
        assert values == expected and [type(v) for v in values] == [type(v) for v in expected], key
