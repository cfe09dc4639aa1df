"""The OCSF documents of flat events read by key (io/ocsf.py DocumentsView) give what the documents
themselves give: value by value, and in the output of the corpus searches that read them."""
from __future__ import annotations

import gzip
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import orjson
import pytest
from conftest import RAW, ROOT, SHARED, cli_in_process, compile_cached

from spl_lite.core.batch import Batch
from spl_lite.driver.api import Search
from spl_lite.engine.executor import Execution
from spl_lite.engine.sharing import SharedWork
from spl_lite.functions import time as time_functions
from spl_lite.io import ocsf, windows
from spl_lite.io.formats import InputConverter, read_process_creation
from spl_lite.io.jsonl import encode_record
from spl_lite.plan.rules.documents_by_key import sources_read_by_key

CORPUS = SHARED / "corpus" / "ssa"
# Events whose documents from_enriched makes in odd ways, all of them SSA events (a process name key):
# nulls, missing keys, numbers and booleans where text is usual, lists, maps (cleaned, or gone when empty).
ODD = [
    {"process_name": None},
    {"_time": "12a", "event_id": 1, "dest_device_id": 1, "dest_user_id": True, "process_name": 1.0},
    {"_time": None, "event_id": "4688", "dest_device_id": True, "dest_user_id": 1, "process_name": True},
    {"dest_device_id": 1.0, "dest_user_id": 1.0, "process_name": 1, "parent_process_name": 1},
    {"dest_device_id": None, "process_hash": "MD5=AB,bad", "parent_process_name": "C:/x/y.exe"},
    {"process": {"a": None, "b": {}}, "dest_user_id": "u", "parent_process_name": ["a"]},
    {"process_path": {"x": 1}, "process_name": "n.exe", "event_id": {"a": {}}, "dest_device_id": {}},
    {"dest_device_id": "", "dest_user_id": "", "parent_process_name": "", "process_hash": "", "process_name": ""},
    {"process_id": {"pid": 4}, "parent_process_guid": [{"a": 1}], "process_path": "", "_time": "1700000000000"},
]


def jsonl(path: Path, events) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def _events(count: int, seed: int = 5) -> list[dict]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate_events import generate

    return [orjson.loads(line) for line in generate(count, seed=seed, rare_rate=0.05)]


def _walk(document, path):
    for key in path:
        document = document.get(key) if type(document) is dict else None
    return document


def test_every_value_and_map_of_the_view_is_the_documents_own():
    events = _events(300) + ODD + _events(40, seed=6)
    documents = [ocsf.from_enriched(event) for event in events]
    every = np.arange(len(events))
    chosen = np.flatnonzero(every % 3 != 1)
    whole = ocsf.DocumentsView.of(events)
    picked = np.array([0, 5, 150])  # a filter's rows of a filter's rows
    views = ((whole, every), (whole[chosen], chosen), (whole[every % 2 == 0][picked], every[::2][picked]))
    paths = [*ocsf.MAP_PATHS - {()}, *ocsf._LEAVES, ("process", "nope"), ("metadata", "customer_uid")]
    for view, rows in views:
        kept = [documents[row] for row in rows]
        for path in paths:
            column = view
            for key in path:
                column = column.key(key)
            expected = [_walk(document, path) for document in kept]
            if path in ocsf.MAP_PATHS:
                assert column.present().tolist() == [value is not None for value in expected], path
                assert orjson.dumps(column.maps().tolist()) == orjson.dumps(expected), path
            else:
                assert orjson.dumps(column.tolist()) == orjson.dumps(expected), path
        assert orjson.dumps(view.maps().tolist()) == orjson.dumps(kept)


def test_the_records_of_from_source_are_those_of_the_documents():
    """Fields in the order Batch.from_records gives them, absent where a document lacks the key,
    also when no event of the batch has a time or a device."""
    for events in (_events(50) + ODD, [{"process_name": "a.exe", "process_id": 4}, {"process_name": "b.exe"}]):
        view = ocsf.DocumentsView.of(events)
        plain = Batch.from_records([ocsf.from_enriched(event) for event in events])
        entries = view.entries()
        assert [name for name, _, _ in entries] == list(plain.columns)
        for name, column, present in entries:
            assert present.tolist() == (~plain.absent[name]).tolist() if name in plain.absent else present.all()
            values = column.maps() if isinstance(column, ocsf.DocumentsView) else column
            assert orjson.dumps(values.tolist()) == orjson.dumps(plain.columns[name].tolist()), name


def _plan(text: str):
    return Search.compile(text).plan


def test_the_check_accepts_lookups_by_key_only():
    by_key = [
        '| from read_ba_enriched_events() | eval p = ucast(map_get(input_event, "process"), "map<string, any>", null)'
        ' | eval f = map_get(p, "file") | where lower(ucast(map_get(f, "name"), "string", null)) = "a.exe"'
        ' | into write_ba_finding_events();',
        '$m = from source | eval f = process.file | eval n = lower(f.name), d = device.hostname'
        ' | where n = "a.exe" | fields n, d, time | into sink;',
        '$m = from source | eval n = actor.process.file.name | where n LIKE "%cmd.exe" | into sink;',  # maps reach the sink
        '$m = from source | eval process = 1 | eval x = process + 1 | fields x | into sink;',  # process is no map then
    ]
    whole = [
        '$m = from source | where process IS NULL | into sink;',
        '$m = from source | eval x = serialize_json(process.file) | fields x | into sink;',
        '$m = from source | eval p = ucast(process, "map<string, any>", {}) | eval x = p.pid | fields x | into sink;',
        '| from read_ba_enriched_events() | eval k = "process" | eval p = map_get(input_event, k) | into write_ba_finding_events();',
        '$m = from source | eval timestamp = time | stats count() by process, span(timestamp, 5m) | into sink;',
        '$m = from source | fields process | into sink;',
    ]
    for text in by_key:
        assert sources_read_by_key(_plan(text)) == {0}, text
    for text in whole:
        assert sources_read_by_key(_plan(text)) == set(), text


def _ocsf_corpus_searches() -> list[tuple[Path, object]]:
    """(file, plan) of each corpus detection that plans and reads an OCSF source (G3/G4)."""
    from spl_lite.core.errors import SplError
    from spl_lite.plan.commands.source import Source

    if not CORPUS.is_dir():
        pytest.skip(f"the corpus of SSA detections is not at {CORPUS}")
    found = []
    for path in sorted(CORPUS.glob("*.spl")):
        try:
            plan = compile_cached(path.read_text()).plan
        except SplError:
            continue
        if any(isinstance(node, Source) and node.name in ("source", "read_ba_enriched_events") for node in plan.nodes):
            found.append((path, plan))
    return found


def _real_events() -> list[dict]:
    """The process creations of the raw Windows logs in ../shared/data as flat SSA events."""
    if not RAW.is_dir():
        pytest.skip(f"raw Windows logs not found at {RAW}")
    return list(_read_real_events())


@lru_cache(maxsize=1)
def _read_real_events() -> tuple[dict, ...]:
    events = []
    for path in sorted(RAW.rglob("*.jsonl.gz")):
        with gzip.open(path) as lines:
            for line in lines:
                record = orjson.loads(line)
                found = read_process_creation(record)[0] if type(record) is dict else None
                if found is not None:
                    events.append(windows.enriched(found))
    return tuple(events)


@pytest.mark.corpus  # a corpus-wide comparison: CI's corpus step (pyproject addopts)
def test_the_corpus_searches_reading_ocsf_write_the_same_bytes_with_the_view(monkeypatch):
    """Every corpus detection reading `from source` (G4) or read_ba_enriched_events (G3), in one pass
    with shared work over every second real process creation of ../shared/data, generated and odd events:
    the same bytes and errors with the documents read by key as with the documents built."""
    plans = [plan for _, plan in _ocsf_corpus_searches()]
    assert len(plans) > 70
    assert sum(map(bool, map(sources_read_by_key, plans))) > 70
    monkeypatch.setattr(time_functions, "_clock", lambda: 1_700_000_000_000)  # time() alike in both runs
    events = _real_events()[::2] + _events(300, seed=3)
    events[100:100] = ODD
    batches = [events[i:i + 1024] for i in range(0, len(events), 1024)]

    def outputs(view: bool) -> list:
        shared = SharedWork()
        written = [[] for _ in plans]
        runs = [Execution(plan, lambda sink, batch, out=out: out.extend(map(encode_record, batch.records())),
                          shared=shared, by_key=sources_read_by_key(plan) if view else frozenset())
                for plan, out in zip(plans, written)]
        converter = InputConverter()
        for batch in batches:
            converted = converter.convert(batch)
            assert converted.documents_view() is not None
            for run in runs:
                run.push_converted(converted)
            shared.clear()
        for run in runs:
            run.finish()
        return [b"".join(out) for out in written] + [run.record_errors.count for run in runs]

    with_view = outputs(True)
    assert with_view == outputs(False)
    assert sum(map(bool, with_view[:len(plans)])) >= 30  # detections found, not only empty outputs


def test_the_view_and_whole_events_write_the_same_bytes(tmp_path):
    """From the command line, with a batch holding a plain event (its documents are built) and one
    without: the same output as --whole-events; explain says which searches read by key."""
    searches = [tmp_path / "g4.spl", tmp_path / "g3.spl", tmp_path / "whole.spl"]
    searches[0].write_text('$m = from source | eval f = process.file | eval n = lower(f.name) | where n LIKE "%.exe"'
                           ' | eval host = device.hostname, user = actor.user.name | fields n, host, user, time | into sink;')
    searches[1].write_text('| from read_ba_enriched_events() | eval p = ucast(map_get(input_event, "process"),'
                           ' "map<string, any>", null) | eval n = ucast(map_get(map_get(p, "file"), "name"), "string", null)'
                           ' | where n LIKE "%e%" | into write_ba_finding_events();')
    searches[2].write_text('$m = from source | where device IS NULL | into sink;')
    events = _events(200) + ODD
    flat = jsonl(tmp_path / "flat.jsonl", events)
    mixed = jsonl(tmp_path / "mixed.jsonl", [*events[:50], {"plain": 1}, *events[50:]])
    for path in (flat, mixed):
        runs = [cli_in_process("run", *searches, "--input", path, "--output-dir", tmp_path / name, "--batch-size", 64,
                               *options) for name, options in ((f"{path.stem}_view", ()), (f"{path.stem}_whole", ("--whole-events",)))]
        for result in runs:
            assert result.returncode == 0, result.err
        for search in searches:
            view, whole = (tmp_path / name / f"{search.stem}.jsonl" for name in (f"{path.stem}_view", f"{path.stem}_whole"))
            assert view.read_bytes() == whole.read_bytes(), search.stem
        assert (tmp_path / f"{path.stem}_view" / "g3.jsonl").read_bytes().count(b"\n") > 20
    alone = [cli_in_process("run", searches[0], "--input", flat, "--batch-size", 64, *options).stdout
             for options in (("--workers", 2), ("--whole-events",))]
    assert alone[0] == alone[1] == (tmp_path / "flat_view" / "g4.jsonl").read_bytes()
    assert "by key (in the worker processes)" in cli_in_process("explain", searches[0], "--input", flat, "--workers", 2).out
    explained = cli_in_process("explain", *searches, "--input", flat).out
    assert "documents: searches 1, 2 read the OCSF documents of flat SSA events only by key" in explained
    assert "; search 3 read whole documents" in explained
    assert "documents:" not in cli_in_process("explain", *searches, "--input", flat, "--whole-events").out


def test_a_view_left_in_an_empty_batch_is_an_empty_column(tmp_path):
    """Operators hand an empty batch on as it is, so a map that `eval` replaces after a filter that
    keeps nothing reaches `fields`, the workers' output and stats as a view: an empty column there."""
    events = jsonl(tmp_path / "flat.jsonl", _events(300))
    search = tmp_path / "none.spl"
    search.write_text('$m = from source | eval n = lower(process.file.name) | where n = "no such.exe"'
                      ' | eval process = 1 | fields process, n, time | eval timestamp = time'
                      ' | stats count() AS c by process, span(timestamp, 1d) | into sink;')
    runs = [cli_in_process("run", search, "--input", events, "--batch-size", 32, *options)
            for options in (("--workers", 2), ("--workers", 1), ("--whole-events",))]
    assert [r.returncode for r in runs] == [0, 0, 0], runs[0].err
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout == b""
    view = ocsf.DocumentsView.of(_events(3))[np.zeros(3, dtype=bool)]
    assert view.tolist() == [] and np.asarray(view).shape == (0,)
    with pytest.raises(RuntimeError):
        list(ocsf.DocumentsView.of(_events(3)))


@pytest.mark.corpus  # a corpus-wide comparison: CI's corpus step (pyproject addopts)
def test_corpus_searches_reading_documents_by_key_are_projected_and_write_what_whole_events_give(tmp_path, monkeypatch):
    """The corpus detections reading OCSF sources, with two SSA-source ones, in one run over real
    events (every eighth), some as stream records, with plain lines, lines whose SSA keys are null, OCSF
    documents and raw records among them: read projected for the keys the documents are made of, the
    same bytes and warnings as on whole events."""
    from conftest import REFERENCE

    monkeypatch.setattr(time_functions, "_clock", lambda: 1_700_000_000_000)  # time() alike in both runs
    searches = [path for path, plan in _ocsf_corpus_searches() if sources_read_by_key(plan)]
    assert len(searches) > 70
    searches += [REFERENCE, CORPUS / "ssa___applying_stolen_credentials_via_mimikatz_modules.spl"]
    raw_lines = sorted(RAW.rglob("*.jsonl.gz"))[0].read_bytes()
    lines = []
    for n, event in enumerate(_real_events()[::8] + ODD):
        line = orjson.dumps(event)
        lines.append(b'{"id": %d, "input_event": %s}' % (n, line) if n % 5 == 2 else line)
        if n % 200 == 7:
            lines += [b'{"plain": 1, "process": "plain.exe"}', b'{"process_name": null, "parent_process_name": null}',
                      orjson.dumps(ocsf.from_enriched(event))]
    lines[1000:1000] = gzip.decompress(raw_lines).splitlines()[:20]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    from spl_lite.plan import physical

    assert physical.choose([compile_cached(path.read_text()).plan for path in searches]).reading.documents
    outputs = []
    for options in ((), ("--whole-events",)):
        out = tmp_path / f"out{len(outputs)}"
        result = cli_in_process("run", *searches, "--input", events, "--output-dir", out, *options)
        assert result.returncode == 0, result.err
        outputs.append(({path.name: path.read_bytes() for path in out.iterdir()}, result.err.splitlines()[-1]))
    assert outputs[0] == outputs[1]
    assert sum(map(bool, outputs[0][0].values())) >= 15  # detections found, not only empty outputs
