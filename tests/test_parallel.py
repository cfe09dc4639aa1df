"""--workers: the stateless head runs in worker processes; output must not change at all."""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from conftest import EXAMPLE, REFERENCE, ROOT, SHARED, cli, cli_in_process
from spl_lite.core.errors import SplError
from spl_lite.driver.api import Search
from spl_lite.core.batch import Batch, coded
from spl_lite.io.projection import ProjectedDecoder
from spl_lite.engine import executor, parallel
from spl_lite.engine.parallel import _range_events, pack, unpack
from spl_lite.io.framing import byte_ranges, range_framer
from spl_lite.io.ocsf import DocumentsView
from spl_lite.plan import physical
from spl_lite.plan.rules.stateless_head import fields_after_head, pushed_filter, stateless_head

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_events import generate  # noqa: E402


@pytest.fixture(scope="module")
def events_with_bad_lines(tmp_path_factory) -> Path:
    """~25 MB of generated events (several ranges per worker) with broken lines inside ranges."""
    lines = list(generate(30_000, 11))
    lines[7_000] = b'{"broken": \n'
    lines[21_000] = b"[1, 2]\n"
    lines[25_000] = b'{"_time": "1", "process_name": 5, "parent_process_name": "C:\\\\x\\\\y.exe"}\n'
    path = tmp_path_factory.mktemp("parallel") / "events.jsonl"
    path.write_bytes(b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines))
    return path


def run(path: Path, workers: int, search: Path = REFERENCE) -> subprocess.CompletedProcess:
    result = cli("run", search, "--input", path, "--workers", workers)
    assert result.returncode == 0, result.err
    return result


def test_output_and_warnings_identical_for_any_worker_count(events_with_bad_lines):
    one = run(events_with_bad_lines, 1)
    assert one.stdout.count(b"\n") >= 1, "the generated file must make the detection fire"
    assert b":7001: invalid JSON" in one.stderr and b":21001: expected a JSON object" in one.stderr
    for workers in (2, 3):
        many = run(events_with_bad_lines, workers)
        assert many.stdout == one.stdout
        assert _without_timing(many.stderr) == _without_timing(one.stderr)


def test_a_line_over_the_limit_in_a_worker_range_is_read_through_and_reported_as_in_one_process(tmp_path):
    events = EXAMPLE.read_bytes().splitlines(keepends=True)[:400]
    path = tmp_path / "long.jsonl"
    long_line = b'{"x": "' + b"y" * (17 << 20) + b'"}\n'
    path.write_bytes(b"".join(events[:200]) + long_line + b"".join(events[200:]))
    one, two = run(path, 1), run(path, 2)
    assert two.stdout == one.stdout
    assert _without_timing(two.stderr) == _without_timing(one.stderr)
    assert f"{path}:201: line of {len(long_line):,} bytes is longer than the limit of 16,777,216".encode() in one.stderr


def _without_timing(stderr: bytes) -> list[bytes]:
    """Warnings and the summary's counts; the summary's seconds and rate differ run to run."""
    return [line.split(b" s (")[0].rsplit(b", ", 1)[0] if line.startswith(b"spl-lite:") else line
            for line in stderr.splitlines()]


def test_record_errors_from_workers_are_reported(tmp_path):
    search = tmp_path / "s.spl"
    search.write_text('| from read_ssa_enriched_events() | eval x = lower(map_get(input_event, "n")) '
                      '| where x = "a" | into write_ssa_detected_events();')
    events = tmp_path / "e.jsonl"
    events.write_bytes(b'{"n": "A"}\n{"n": 5}\n' * 5)
    one, two = run(events, 1, search), run(events, 2, search)
    assert one.stdout == two.stdout and one.stdout.count(b"\n") == 5
    assert b"5 values could not be computed" in two.stderr


def test_head_is_the_stateless_chain_before_the_first_stateful_command():
    plan = Search.compile(REFERENCE.read_text()).plan
    head = stateless_head(plan)
    assert [n.command for n in plan.nodes[: head + 1]] == ["from", "eval", "eval", "where", "select"]
    assert plan.nodes[head + 1].command == "conditional_anomaly"


def test_programs_with_variables_are_not_split(tmp_path):
    text = ('$a = | from read_ssa_enriched_events() | where x = 1; $b = | from $a | where y = 2;'
            '| from $a | union $b | into write_ssa_detected_events();')
    assert stateless_head(Search.compile(text).plan) is None
    program = tmp_path / "program.spl"
    program.write_text(text)
    explained = cli_in_process("explain", REFERENCE, program, "--input", EXAMPLE, "--workers", "2").out
    assert "running: one process (search 2 is not one chain)" in explained


def test_explain_shows_each_searchs_head_in_the_workers(tmp_path):
    counted = tmp_path / "counted.spl"
    counted.write_text('| from read_ssa_enriched_events() | eval p = map_get(input_event, "process_name") '
                       '| where p = "cmd.exe" | into write_ssa_detected_events();')
    explained = cli_in_process("explain", REFERENCE, counted, counted, "--input", EXAMPLE, "--workers", "2").out
    assert ("running: 2 worker processes run each search's stateless head; the main process runs the rest in "
            "input order:\n"
            "  2 searches: all but the sink\n"
            "  search 1: nodes #0-#4, before `conditional_anomaly` #5, and the filter #6 after it\n") in explained


def test_byte_ranges_cover_the_file_on_line_boundaries(tmp_path):
    path = tmp_path / "lines.jsonl"
    data = b"".join(b'{"i": %d, "pad": "%s"}\n' % (i, b"x" * (i % 50)) for i in range(5_000))
    path.write_bytes(data)
    ranges = byte_ranges(str(path), size=10_000)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data) and len(ranges) > 10
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        assert end == start and data[end - 1 : end] == b"\n"


@pytest.mark.parametrize("lines_per_block", [1, 3, 1000])
def test_a_range_is_read_in_blocks_of_whole_lines(tmp_path, lines_per_block):
    lines = [b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * (i * 37 % 300)) for i in range(400)]
    lines[123] = b'{"long": "' + b"y" * 50_000 + b'"}\n'  # longer than any block
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"".join(lines) + b'{"last": "no newline"}')
    data = path.read_bytes()
    for start, end in byte_ranges(str(path), 7_000):
        with open(path, "rb") as handle:
            blocks = [block.data for block in range_framer(handle, start, end, lines_per_block).read(handle, end)]
        assert b"".join(blocks) == data[start:end]
        assert all(block.endswith(b"\n") for block in blocks[:-1])
        assert all(block for block in blocks)


def test_a_range_is_decoded_in_gathered_batches_in_order_around_lines_left_to_whole_events(
        events_with_bad_lines, monkeypatch):
    monkeypatch.setattr(parallel, "DECODE_BLOCK_LINES", 300)  # several blocks to each batch
    decoder = ProjectedDecoder(frozenset({"process_name", "process"}), deferred=frozenset({"process"}))
    got, sizes, whole_blocks = [], [], []
    for start, end in byte_ranges(str(events_with_bad_lines), 8 << 20):
        with open(events_with_bad_lines, "rb") as handle:
            for part, bad, lines in _range_events(handle, start, end, decoder, 2_000):
                sizes.append(lines)
                if isinstance(part, list):  # the events of a block the decoder left to whole events
                    whole_blocks.append(lines)
                    got += [(e.get("process_name"), e.get("process")) for e in part]
                else:
                    got += list(zip(part.key("process_name").tolist(), part.key("process").values().tolist()))
    lines = events_with_bad_lines.read_bytes().splitlines()
    assert got == [(e.get("process_name"), e.get("process")) for e in map(_json_object, lines) if e is not None]
    # The two blocks holding an unreadable line (of about 300 lines each) were left whole; the rest gathered.
    assert len(whole_blocks) == 2 and max(whole_blocks) < 400 and max(sizes) >= 2_000


def _json_object(line: bytes) -> dict | None:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def test_deferred_columns_travel_as_file_spans_and_read_their_lines_in_the_main_process(tmp_path):
    lines = [orjson.dumps({"n": i, "cmd": f"c{i} /x" if i % 5 else None, "user": ["u", i] if i % 7 == 0 else f"u{i}"})
             + b"\n" for i in range(3_000)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(lines))
    decoder = ProjectedDecoder(frozenset({"n", "cmd", "user"}), deferred=frozenset({"cmd", "user"}))
    with open(path, "rb") as handle:
        ((events, _, _),) = list(_range_events(handle, 0, path.stat().st_size, decoder, 5_000))  # blocks gathered
    chosen = np.array([2_999, 17, 14, 15, 1_500, 3, 2_998])  # out of order, near and far apart
    kept = events[chosen]
    batch = Batch({"n": kept.key("n"), "cmd": kept.key("cmd").then(str), "user": kept.key("user")}, np.arange(7))
    packed = pickle.loads(pickle.dumps(pack(batch)))
    assert packed["cmd"][0] == "lines" and packed["user"][0] == "lines"  # spans, not values
    columns = unpack(packed, str(path), decoder)
    assert columns["cmd"].lines is columns["user"].lines  # one read for both keys
    shared, reads = columns["cmd"].lines, []
    read_lines = shared._lines
    shared._lines = lambda rows: reads.append(len(rows)) or read_lines(rows)
    expected = [orjson.loads(lines[i]) for i in chosen]
    assert columns["cmd"].values().tolist() == [str(e["cmd"]) for e in expected]  # the step (str) runs after the read
    assert columns["user"].values().tolist() == [e["user"] for e in expected]  # a list among the text: as orjson reads it
    assert reads == [7]


def test_stream_records_are_decoded_in_part_in_a_worker_range_and_their_deferred_keys_read_in_the_main_process(
        tmp_path, monkeypatch):
    """A worker decodes stream records as it decodes flat events (no block left to whole events),
    and the main process, whose own decoder has seen no record, reads deferred keys from `input_event`."""
    monkeypatch.setattr(parallel, "DECODE_BLOCK_LINES", 300)  # several blocks to each batch
    events = [{"_time": str(i), "process_name": f"p{i % 13}.exe", "process": f"p{i % 13}.exe /{i}" if i % 5 else None,
               "user": ["u", i] if i % 7 == 0 else f"u{i}"} for i in range(3_000)]
    # The envelope holds keys of the same names, which must not be read for the event's.
    lines = [orjson.dumps({"id": i, "host": "h", "process": "envelope", "input_event": event}) + b"\n"
             for i, event in enumerate(events)]
    path = tmp_path / "stream.jsonl"
    path.write_bytes(b"".join(lines))
    keys, deferred = frozenset({"_time", "process_name", "process", "user"}), frozenset({"process", "user"})
    in_worker = ProjectedDecoder(keys, deferred=deferred)
    batches = []
    for start, end in byte_ranges(str(path), 64 << 10):
        with open(path, "rb") as handle:
            batches += [part for part, _, _ in _range_events(handle, start, end, in_worker, 1_000)]
    assert batches and not any(isinstance(part, list) for part in batches)  # none left to whole events
    assert [v for part in batches for v in part.key("process_name").tolist()] == [e["process_name"] for e in events]
    chosen = np.array([len(batches[0]) - 1, 17, 14, 0])
    kept = batches[0][chosen]
    batch = Batch({"process": kept.key("process"), "user": kept.key("user")}, np.arange(len(chosen)))
    columns = unpack(pickle.loads(pickle.dumps(pack(batch))), str(path), ProjectedDecoder(keys, deferred=deferred))
    assert columns["process"].values().tolist() == [events[i]["process"] for i in chosen]
    assert columns["user"].values().tolist() == [events[i]["user"] for i in chosen]  # a list: as orjson reads it


def test_a_file_that_got_shorter_before_its_deferred_lines_were_read_is_an_error(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps({"n": i, "cmd": f"c{i}"}) + b"\n" for i in range(100)))
    decoder = ProjectedDecoder(frozenset({"n", "cmd"}), deferred=frozenset({"cmd"}))
    with open(path, "rb") as handle:
        ((events, _, _),) = list(_range_events(handle, 0, path.stat().st_size, decoder, 500))
    columns = unpack(pack(Batch({"cmd": events.key("cmd")}, np.arange(100))), str(path), decoder)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(SplError, match="got shorter while it was read"):
        columns["cmd"].values()


def test_pack_round_trips_every_column_kind():
    columns = {
        "ints": [1, 2, 3, 4],
        "names": ["cmd.exe", "cmd.exe", "cmd.exe", "a.exe"],
        "unique": ["a", "b", "c", "d"],
        "mixed": [1, None, "x", [1]],
        "bools": [True, False, True, True],
    }
    arrays = {k: np.array(v + [None], dtype=object)[:-1] for k, v in columns.items()}
    # A dictionary-encoded column whose distinct values include some no row uses.
    arrays["coded"] = coded(np.array(["x", "y", None, "z"], dtype=object), np.array([3, 0, 3, 2]))
    columns["coded"] = ["z", "x", "z", None]
    restored = unpack(pack(Batch(arrays, np.arange(4))))
    assert restored["coded"].codes is not None and len(restored["coded"].distinct) == 3
    for name, values in columns.items():
        got = restored[name].tolist()
        assert got == values and [type(v) for v in got] == [type(v) for v in values], name


def test_pack_round_trips_projected_events_documents_views_and_empty_columns(tmp_path):
    """Head outputs that hold `input_event` (decoded for some keys, the events themselves left in
    their lines for a sink that writes them) or a view of OCSF documents read by key reach the main
    process as the same columns."""
    events = [{"_time": str(1_700_000_000_000 + i), "process_name": f"p{i % 3}.exe", "process": f"p /{i}",
               "dest_device_id": f"d{i % 4}", "extra": [i]} for i in range(40)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    keys = frozenset({"_time", "process_name", "process", "dest_device_id"})
    decoder = ProjectedDecoder(keys, deferred=frozenset({"process"}), events_late=True)
    with open(path, "rb") as handle:
        ((maps, _, _),) = list(_range_events(handle, 0, path.stat().st_size, decoder, 100))
    chosen = np.array([39, 3, 17])
    view = DocumentsView.of(maps)[chosen].key("process")
    batch = Batch({"input_event": maps[chosen], "process": view, "none": maps[np.array([], dtype=np.intp)]},
                  np.arange(3))
    restored = unpack(pickle.loads(pickle.dumps(pack(batch))), str(path), decoder)
    assert restored["input_event"].key("process_name").tolist() == [events[i]["process_name"] for i in chosen]
    assert restored["input_event"].key("process").values().tolist() == [events[i]["process"] for i in chosen]
    assert restored["input_event"].late_events().values().tolist() == [events[i] for i in chosen]
    assert restored["process"].key("cmd_line").tolist() == view.key("cmd_line").tolist() == \
        [events[i]["process"] for i in chosen]
    assert restored["process"].maps().tolist() == view.maps().tolist()
    assert len(restored["none"]) == 0


def test_a_head_before_stats_sends_only_the_fields_stats_reads():
    text = ('| from read_ssa_enriched_events() | eval device=ucast(map_get(input_event, "dest_device_id"), "string", null), '
            'timestamp=parse_long(ucast(map_get(input_event, "_time"), "string", null)) '
            '| stats count() as n by device, span(timestamp, 300s) | into write_ssa_detected_events();')
    plan = Search.compile(text).plan
    assert fields_after_head(plan, stateless_head(plan)) == {"device", "timestamp"}
    reference = Search.compile(REFERENCE.read_text()).plan
    assert fields_after_head(reference, stateless_head(reference)) is None  # conditional_anomaly passes all on


SSA_DETECTIONS = SHARED / "corpus" / "ssa"
RAW_LOGS = SHARED / "data" / "raw"


@pytest.mark.skipif(not SSA_DETECTIONS.is_dir() or not RAW_LOGS.is_dir(),
                    reason=f"the SSA detections ({SSA_DETECTIONS}) or the raw Windows logs ({RAW_LOGS}) are absent")
def test_the_detection_library_in_workers_writes_the_bytes_of_one_process(events_with_bad_lines, tmp_path):
    """Every SSA corpus detection that plans, in one pass over generated events with bad lines and
    the real attack logs of ../shared/data (every raw shape, which fire some fifty of them): each
    search's output and the warnings are the same in one process and with 2 workers, which run
    every search's head (filters to a sink; stats, adaptive_threshold, conditional_anomaly and
    first_time_event after it; OCSF documents read by key; sinks writing the events whole)."""
    import gzip

    searches = []
    for path in sorted(SSA_DETECTIONS.glob("*.spl")):
        text = path.read_text().replace("time()", "1700000000000")  # the run's clock differs run to run
        try:
            Search.compile(text)
        except SplError:
            continue
        searches.append(tmp_path / path.name)
        searches[-1].write_text(text)
    assert len(searches) > 100
    raw = tmp_path / "raw.jsonl"
    with open(raw, "wb") as sink:
        for path in sorted(RAW_LOGS.rglob("*.jsonl*")):
            with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as source:
                sink.writelines(line if line.endswith(b"\n") else line + b"\n" for line in source if line.strip())
    inputs = [events_with_bad_lines, raw]
    plans = [Search.compile(p.read_text()).plan for p in searches]
    chosen = physical.choose(plans, workers=2, paths=list(map(str, inputs)))
    assert chosen.workers == 2 and chosen.reading.documents and chosen.reading.events_late
    assert {plan.nodes[last + 1].command for plan, last in zip(plans, chosen.heads)} >= {
        "into", "stats", "adaptive_threshold", "conditional_anomaly", "first_time_event"}
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        result = cli("run", *searches, "--input", *inputs, "--output-dir", out, "--workers", workers, "--no-progress")
        assert result.returncode == 0, result.err
        assert b"not used" not in result.stderr
        runs[workers] = ({p.name: p.read_bytes() for p in sorted(out.iterdir())}, _without_timing(result.stderr))
    assert sum(bool(output) for output in runs[1][0].values()) > 40, "the attack logs must make many detections fire"
    assert runs[2] == runs[1]


def test_several_searches_on_standard_output_keep_each_searchs_lines_in_order_with_workers(events_with_bad_lines,
                                                                                          tmp_path):
    """Labelled lines interleave by batch, and batches differ with --workers; each search's own do not."""
    counted = tmp_path / "counted.spl"
    counted.write_text('| from read_ssa_enriched_events() | eval p = lower(ucast(map_get(input_event, "process_name"), '
                       '"string", null)) | where p = "cmd.exe" | select p, input_event | into write_ssa_detected_events();')
    per_search = []
    for workers in (1, 2):
        result = cli("run", REFERENCE, counted, "--input", events_with_bad_lines, "--workers", workers)
        assert result.returncode == 0, result.err
        lines: dict[str, list[bytes]] = {}
        for line in result.stdout.splitlines():
            lines.setdefault(orjson.loads(line)["search"], []).append(line)
        per_search.append(lines)
    assert per_search[0] == per_search[1]
    assert len(per_search[0]["counted"]) > 100 and per_search[0]["rare_parent_child_process_relationship"]


def test_a_filter_after_the_first_stateful_command_runs_in_the_workers_when_it_can():
    plan = Search.compile(REFERENCE.read_text()).plan
    pushed = pushed_filter(plan, stateless_head(plan))
    assert pushed is not None and plan.nodes[pushed.where_id].command == "where"
    assert pushed.reads == {"parent_process_name", "process_name"}
    reads_output = REFERENCE.read_text().replace('| where (process_name="powershell.exe"', '| where output < 2 AND (process_name="powershell.exe"')
    plan = Search.compile(reads_output).plan
    assert pushed_filter(plan, stateless_head(plan)) is None  # it needs what conditional_anomaly adds


@pytest.mark.parametrize("condition", [
    'process_name="cmd.exe" OR parent_process_name="explorer.exe"',  # reads the stateful inputs
    'cmd_line LIKE "%renderer%" OR dest_user_id = "nobody"',  # reads only other fields
    'output > 1.5',  # reads what conditional_anomaly sets: not pushed
    'lower(cmd_line) = 5',  # a per-record type error in every row, counted wherever it runs
])
def test_pushed_filters_give_the_output_of_one_process(events_with_bad_lines, tmp_path, condition):
    search = tmp_path / "s.spl"
    search.write_text(_scored_then_filtered(condition))
    one, two = run(events_with_bad_lines, 1, search), run(events_with_bad_lines, 2, search)
    assert one.stdout == two.stdout
    assert _without_timing(one.stderr) == _without_timing(two.stderr)
    if "5" not in condition:
        assert one.stdout.count(b"\n") > 10


@pytest.mark.parametrize("condition", [
    'process_name="cmd.exe" OR parent_process_name="explorer.exe"',
    'cmd_line LIKE "%renderer%" OR dest_user_id = "nobody"',
    'output > 1.5',  # reads what conditional_anomaly sets: not known before it
    'log(cmd_line) > 1 OR process_name = "cmd.exe"',  # a per-record error in every row with a command line
])
def test_a_filter_known_before_the_command_gives_the_output_of_filtering_after_it(
        events_with_bad_lines, monkeypatch, condition):
    """One process too applies such a `where` first and has conditional_anomaly score the records it
    keeps only (executor.filters_known_early): the records and the per-record errors are those of
    running the two in order."""
    search = Search.compile(_scored_then_filtered(condition))
    pairs = executor.filters_known_early(search.plan)
    assert bool(pairs) == ("output" not in condition)

    def records_and_errors():
        records = search.run_files([str(events_with_bad_lines)])
        return list(records), records.record_errors.count

    early = records_and_errors()
    monkeypatch.setattr(executor, "filters_known_early", lambda plan: {})
    assert early == records_and_errors()
    assert len(early[0]) > 10
    assert (early[1] > 1000) == ("log" in condition)


def _scored_then_filtered(condition: str) -> str:
    return ('| from read_ssa_enriched_events() '
            '| eval process_name=lower(ucast(map_get(input_event, "process_name"), "string", null)), '
            'parent_process_name=lower(ucast(map_get(input_event, "parent_process_name"), "string", null)), '
            'cmd_line=ucast(map_get(input_event, "process"), "string", null), '
            'dest_user_id=ucast(map_get(input_event, "dest_user_id"), "string", null) '
            '| select process_name, parent_process_name, cmd_line, dest_user_id '
            '| conditional_anomaly conditional="parent_process_name" target="process_name" '
            f'| where {condition} | into write_ssa_detected_events();')


def test_a_killed_worker_is_reported_with_its_signal_and_exit_7(tmp_path, monkeypatch):
    """A worker killed mid-run (the kernel's out-of-memory killer sends SIGKILL) ends the run with
    exit 7 and a message naming the signal and the range being read, not an internal error."""
    from spl_lite.engine import parallel as module

    monkeypatch.setattr(module, "_run_range", _killed)
    result = cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--workers", "2", "--output", tmp_path / "out.jsonl")
    assert result.returncode == 7, result.err
    assert "was killed by SIGKILL (out of memory?)" in result.err
    assert f"{EXAMPLE} bytes 0-" in result.err and "internal error" not in result.err


def _killed(task):
    """A worker's task that kills its own process (at module level: tasks are pickled by name)."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_the_python_api_runs_workers_through_the_same_pass_as_the_cli(events_with_bad_lines):
    """Search.run_files(workers=N) runs the physical plan the CLI runs: the same records, in the same
    order, as one process, as the in-memory run of the same events, and as `spl-lite run --workers`."""
    search = Search.compile(REFERENCE.read_text())
    in_process = list(search.run_files([str(events_with_bad_lines)], workers=1))
    assert in_process, "the generated file must make the detection fire"
    assert list(search.run_files([str(events_with_bad_lines)], workers=2)) == in_process
    decoded = []
    for line in events_with_bad_lines.read_bytes().splitlines():
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict):
            decoded.append(event)
    assert list(search.run(decoded)) == in_process
    written = run(events_with_bad_lines, 2).stdout.splitlines()
    assert [orjson.loads(line) for line in written] == in_process
