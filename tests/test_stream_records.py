"""SSA stream records (`{"id", "host", ..., "input_event": {...}}`) on the projected path
(spl_lite/io/projection.py): the keys of `input_event` are decoded as those of a flat event, and the
output is byte for byte that of the whole-event path and of `--workers 2`, for records alone, for
records and flat events mixed line by line, and around envelopes the decoder must leave to the
whole-event path."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLE, REFERENCE, ROOT, cli_in_process
from spl_lite.core.batch import DeferredColumn, ProjectedMaps
from spl_lite.io import ocsf
from spl_lite.io.projection import ProjectedDecoder
from test_projection import FIVE_KEYS, FIVE_KEYS_VARIANTS, READ_KEYS, run_modes

GENERATOR = ROOT / "benchmarks" / "generate_events.py"
MODES = {"projected": [], "whole": ["--whole-events"], "workers": ["--workers", "2"]}


def record(n: int, line: bytes) -> bytes:
    """A flat event's line as a stream record, the event byte for byte inside `input_event`."""
    return b'{"id": %d, "host": "h", "source": "s", "input_event": %s}\n' % (n, line.rstrip(b"\r\n"))


@pytest.fixture(scope="module")
def flat(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "flat.jsonl"
    subprocess.run([sys.executable, str(GENERATOR), "--events", "30000", "--output", str(path)],
                   check=True, capture_output=True, timeout=120)
    return path


def runs_of(search: Path, path: Path, *extra) -> dict[str, bytes]:
    found = {}
    for mode, flags in MODES.items():
        result = cli_in_process("run", search, "--input", path, *extra, *flags)
        assert result.returncode == 0, (mode, result.stderr)
        found[mode] = result.stdout
    return found


def test_reference_detection_on_stream_records_is_identical_projected_whole_and_parallel(flat, tmp_path):
    lines = flat.read_bytes().splitlines(keepends=True)
    stream = tmp_path / "stream.jsonl"
    stream.write_bytes(b"".join(record(n, line) for n, line in enumerate(lines)))
    runs = runs_of(REFERENCE, stream)
    assert runs["projected"], "the detection must fire, or the comparison shows nothing"
    assert runs["projected"] == runs["whole"] == runs["workers"]
    # The same events, flat: the same detections.
    assert runs["projected"] == cli_in_process("run", REFERENCE, "--input", flat).stdout


def test_stream_record_blocks_take_the_projected_path(flat):
    """Records, and records mixed with flat events, are decoded in part, not sent to whole events."""
    lines = flat.read_bytes().splitlines(keepends=True)[:2000]
    keys = frozenset({"_time", "process_name", "parent_process_name", "process"})
    for deferred in (frozenset(), frozenset({"process"})):
        decoder = ProjectedDecoder(keys, "auto", deferred)
        for block in (b"".join(record(n, line) for n, line in enumerate(lines)),
                      b"".join(record(n, line) if n % 3 else line for n, line in enumerate(lines))):
            got = decoder.decode_block(block)
            assert isinstance(got, ProjectedMaps) and len(got) == len(lines)
            for key in keys:
                column = got.key(key)
                values = column.values() if isinstance(column, DeferredColumn) else column
                assert values.tolist() == [orjson.loads(line).get(key) for line in lines], key


@pytest.mark.parametrize("every", [1, 2, 7, 1500], ids=["alternating", "every-2nd", "every-7th", "runs-of-1500"])
def test_mixed_flat_and_stream_lines_give_identical_output(flat, tmp_path, every):
    """Flat events and stream records interleaved: line by line, every few lines, and in runs
    longer than a decode block (so that blocks of one kind, of the other and of both occur)."""
    lines = flat.read_bytes().splitlines(keepends=True)
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b"".join(record(n, line) if (n // every) % 2 else line for n, line in enumerate(lines)))
    runs = runs_of(REFERENCE, mixed)
    assert runs["projected"] and runs["projected"] == runs["whole"] == runs["workers"]
    assert runs["projected"] == cli_in_process("run", REFERENCE, "--input", flat).stdout
    five = tmp_path / "five.spl"
    five.write_text(FIVE_KEYS)
    runs = runs_of(five, mixed, "--batch-size", "256")
    assert runs["projected"] == runs["whole"] == runs["workers"]
    assert runs["projected"].count(b"\n") == len(lines)


# Envelopes the projected decoder must handle as the whole-event path does: an `input_event` that is
# not an object makes the line the event (holding that value), whatever else is in it.
AWKWARD = [
    b'{"id": 1, "host": "h", "input_event": "a string", "process_name": "in-string-envelope.exe", "_time": "11"}\n',
    b'{"id": 2, "host": "h", "input_event": null, "process_name": "in-null-envelope.exe", "_time": "12"}\n',
    b'{"id": 3, "input_event": [{"process_name": "in-list.exe"}], "process_name": "in-list-envelope.exe"}\n',
    b'{"id": 4, "input_event": 5, "process_name": "in-number-envelope.exe"}\n',
    # extra nested objects in the envelope, before and after input_event
    b'{"id": 5, "meta": {"a": [1, {"b": {"c": null}}], "process_name": "nested-meta.exe"}, '
    b'"input_event": {"_time": "13", "process_name": "deep-envelope.exe", "process": "d /x"}, '
    b'"tail": {"input_event": {"process_name": "not-this.exe"}}}\n',
    # a top-level key equal to a key of input_event: the record's event wins
    b'{"id": 6, "process_name": "envelope-top.exe", "_time": 999, '
    b'"input_event": {"_time": "14", "process_name": "inner-wins.exe", "parent_process_name": "C:\\\\p.exe"}}\n',
    # values of other types inside input_event (widening), in both places
    b'{"id": 7, "process_name": ["top", 1], "input_event": {"_time": 15.5, "process_name": {"x": [true, null]}, '
    b'"dest_user_id": false}}\n',
    # an OCSF document inside the envelope (auto converts it), and guard keys beside input_event
    b'{"id": 8, "input_event": {"class_uid": 1007, "time": 1602004409000, "process": {"name": "ocsf-inner.exe"}}}\n',
    b'{"id": 9, "EventID": 1, "input_event": {"_time": "16", "process_name": "beside-eventid.exe"}}\n',
    # a stream record's own _datamodels and body
    b'{"id": 10, "_datamodels": ["x"], "body": {"k": 1}, "input_event": {"_time": "17", "process_name": "dm.exe"}}\n',
    # duplicate input_event: the last wins
    b'{"id": 11, "input_event": {"process_name": "first-dup.exe"}, "input_event": {"process_name": "last-dup.exe"}}\n',
    # an empty input_event, and a flat line whose own keys hold a nested input_event-like object
    b'{"id": 12, "input_event": {}}\n',
    b'{"_time": "18", "process_name": "flat-with-nested.exe", "x": {"input_event": {"process_name": "no.exe"}}}\n',
    # an int beyond 64 bits inside input_event, in a key read and one not read
    b'{"id": 13, "input_event": {"_time": 1180591620717411303424, "process_name": "big-time.exe"}}\n',
    b'{"id": 14, "input_event": {"process_name": "big-unread.exe", "pid": 1180591620717411303424}}\n',
]


@pytest.fixture(scope="module")
def awkward_stream(tmp_path_factory) -> Path:
    """The example events as stream records and flat lines, the awkward envelopes 200 lines apart
    (a different 64-line batch each)."""
    good = EXAMPLE.read_bytes().splitlines(keepends=True) * 4
    lines = []
    for i, line in enumerate(good):
        if i % 200 == 100 and i // 200 < len(AWKWARD):
            lines.append(AWKWARD[i // 200])
        lines.append(record(i, line) if i % 5 else line)
    path = tmp_path_factory.mktemp("awkward_stream") / "awkward.jsonl"
    path.write_bytes(b"".join(lines))
    assert len(good) // 200 >= len(AWKWARD)
    return path


@FIVE_KEYS_VARIANTS
@pytest.mark.parametrize("input_format", ["auto", "ssa"])
def test_awkward_envelopes_give_the_same_output(five_keys, input_format, awkward_stream, tmp_path):
    search = tmp_path / "five.spl"
    search.write_text(five_keys)
    runs = run_modes(search, awkward_stream, tmp_path, "--batch-size", "64", "--input-format", input_format)
    for part in ("stdout", "stderr", "dead", "index"):
        assert runs["whole"][part] == runs["projected"][part], part
    assert runs["workers"]["stdout"] == runs["projected"]["stdout"]
    out = runs["projected"]["stdout"]
    assert out.count(b"\n") == awkward_stream.read_bytes().count(b"\n")
    for name in (b"in-string-envelope.exe", b"in-null-envelope.exe", b"in-list-envelope.exe", b"deep-envelope.exe",
                 b"inner-wins.exe", b"beside-eventid.exe", b"dm.exe", b"last-dup.exe", b"flat-with-nested.exe",
                 b"big-time.exe", b"big-unread.exe"):
        assert name in out, name
    for name in (b"envelope-top.exe", b"first-dup.exe", b"not-this.exe", b"no.exe"):
        assert name not in out, name


def test_reference_detection_with_awkward_envelopes(awkward_stream, tmp_path):
    for input_format in ("auto", "ssa"):
        runs = runs_of(REFERENCE, awkward_stream, "--input-format", input_format)
        assert runs["projected"] == runs["whole"] == runs["workers"]


@pytest.mark.parametrize("line", AWKWARD[:4] + AWKWARD[7:9] + AWKWARD[12:14],
                         ids=["string", "null", "list", "number", "ocsf-inside", "eventid-beside", "flat-nested",
                              "wide-int"])
def test_decoder_declines_or_decodes_awkward_envelopes_as_orjson(line):
    """Each awkward line in a block of records: declined, or decoded to the whole-event path's values."""
    keys = frozenset(READ_KEYS)
    good = record(0, EXAMPLE.read_bytes().splitlines(keepends=True)[0])
    lines = [good, line, good]
    got = ProjectedDecoder(keys, "auto").decode_block(b"".join(lines))
    expected_declined = line not in (AWKWARD[12],)
    assert (got is None) == expected_declined
    if got is not None:
        for key in keys:
            assert got.key(key).tolist() == [_event(orjson.loads(x)).get(key) for x in lines], key


def _event(line: dict) -> dict:
    inner = line.get("input_event")
    return inner if inner.__class__ is dict else line


# ---- property: any mix of flat events and stream records decodes as the whole-event path reads them ----

_KEYS = ["a", "b", "_time", "class_uid", "EventID"]
_SCALARS = st.one_of(st.none(), st.booleans(), st.text(max_size=6),
                     st.integers(min_value=-(2**66), max_value=2**66), st.floats(allow_nan=False, allow_infinity=False))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS + ["x", "input_event"]), inner, max_size=3)),
    max_leaves=6)
_EVENTS = st.dictionaries(st.sampled_from(_KEYS + ["x"]), _VALUES, max_size=4)
_ENVELOPES = st.builds(
    lambda event, extra, inner_first: ({"input_event": event, **extra} if inner_first else {**extra, "input_event": event}),
    st.one_of(_EVENTS, _EVENTS, _EVENTS, _VALUES),  # mostly objects; sometimes any value
    st.dictionaries(st.sampled_from(["id", "host", "source", "a", "_datamodels", "body"]), _VALUES, max_size=4),
    st.booleans())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(st.lists(st.one_of(_EVENTS, _ENVELOPES, _ENVELOPES), min_size=1, max_size=8), st.sampled_from(["auto", "ssa"]),
       st.sampled_from([frozenset(), frozenset(["a", "_time"])]), st.randoms(use_true_random=False))
def test_any_mix_of_events_and_stream_records_decodes_as_the_whole_event_path(objects, input_format, deferred, random):
    lines = [json.dumps(o, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n" for o in objects]
    decoder = ProjectedDecoder(frozenset(["a", "b", "_time"]), input_format, deferred)
    got = decoder.decode_block(b"".join(lines))
    if got is None:
        return  # the whole-event path decides
    assert all(o.get("input_event", {}).__class__ is dict for o in objects)
    if got.kind == "ocsf":  # flat OCSF documents (io/ocsf_columns.py): the SSA events they make
        assert input_format == "auto" and not any("input_event" in o for o in objects)
        events = [ocsf.to_enriched(orjson.loads(line)) for line in lines]
    else:
        if input_format == "auto":  # these make the event OCSF or a raw record: not read as events
            assert not any("class_uid" in o or "EventID" in o for o in objects)
            assert not any("class_uid" in o["input_event"] for o in objects if "input_event" in o)
        events = [_event(orjson.loads(line)) for line in lines]
    rows = np.array(sorted(random.sample(range(len(lines)), random.randint(0, len(lines)))), dtype=np.intp)
    for key in ("a", "b", "_time"):
        column = got.key(key)
        expected = [event.get(key) for event in events]
        values = (column.values() if isinstance(column, DeferredColumn) else column).tolist()
        assert values == expected and [type(v) for v in values] == [type(v) for v in expected], key
        chosen = got[rows].key(key)
        chosen = (chosen.values() if isinstance(chosen, DeferredColumn) else chosen).tolist()
        assert chosen == [expected[i] for i in rows], key
