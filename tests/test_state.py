"""Resumable state (--state): events A then B give byte for byte what A+B give at once.

The corpus property runs in-process (Execution.state_dict through the state file format and back):
every corpus text with a stateful command (stats, first_time_event, conditional_anomaly,
adaptive_threshold, union) and every 24th other text that plans. SPL_LITE_FULL_STATE=1 checks every
text that plans instead. G0-G2 run over examples/process_creation.jsonl, G3/G4 over the same
events as OCSF documents (spl_lite.io.ocsf.from_enriched); each is split at line 437 and fed in
batches of 100. The CLI tests run `spl-lite run` over files (in-process, conftest.cli_in_process;
the crashed run is a real process, killed): separate files, a file that grows, a simulated crash
between checkpoints, and a raw log from ../shared/data.
"""
from __future__ import annotations

import gzip
import os
import signal
import sys
import time
from pathlib import Path

import orjson
import pytest

from conftest import (
    CORPUS, EXAMPLE, RAW, REFERENCE, ROOT, cli_in_process, cli_process, compile_cached, needs_corpus, needs_evtx_samples,
)
from spl_lite.driver.api import Search
from spl_lite.core.errors import SplError
from spl_lite.functions.time import set_clock
from spl_lite.io.jsonl import encode_record
from spl_lite.io.ocsf import from_enriched
from spl_lite.engine.checkpoint import (
    SearchIdentity, StateDir, StateError, build_payload, decode_state, encode_state, write_atomically,
)
from spl_lite.engine.executor import Execution

STATEFUL_WORDS = ("stats", "first_time_event", "conditional_anomaly", "adaptive_threshold", "union")
STATEFUL_COMMANDS = {"stats", "first_time_event", "conditional_anomaly", "adaptive_threshold", "union"}
SPLIT, BATCH, EVERY_NTH = 437, 100, 24



# ---- the state file ----

def test_state_file_round_trip_and_damage_is_detected(tmp_path):
    payload = {"searches": [], "inputs": [], "big": 2**70 % 2**63, "text": "é\n"}
    data = encode_state(payload)
    assert decode_state(data, "x") == payload
    header = orjson.loads(data.split(b"\n", 1)[0])
    assert header["format"] == "spl-lite-state" and header["version"] == 2
    for cut in range(0, len(data) - 1, 7):  # every truncation is refused, none half-loaded
        with pytest.raises(StateError):
            decode_state(data[:cut], "x")
    flipped = bytearray(data)
    flipped[-5] ^= 1
    with pytest.raises(StateError, match="checksum"):
        decode_state(bytes(flipped), "x")
    assert decode_state(data.replace(b'"version":2', b'"version":1', 1), "x") == payload  # read as before
    with pytest.raises(StateError, match="version 3; this spl-lite reads versions 1, 2"):
        decode_state(data.replace(b'"version":2', b'"version":3', 1), "x")
    with pytest.raises(StateError, match="not an spl-lite state file"):
        decode_state(b'{"something": "else"}\n', "x")


def test_state_is_written_atomically_and_locked(tmp_path):
    path = tmp_path / "f"
    write_atomically(path, b"one")
    write_atomically(path, b"two")
    assert path.read_bytes() == b"two" and [p.name for p in tmp_path.iterdir()] == ["f"]
    held = StateDir(tmp_path / "state")
    with pytest.raises(StateError, match="in use by another spl-lite run"):
        StateDir(tmp_path / "state")
    held.close()
    StateDir(tmp_path / "state").close()


def test_deeply_nested_state_keys_still_save(tmp_path):
    search = Search.compile('| from read_ssa_enriched_events() | eval v = map_get(input_event, "v") '
                            '| first_time_event input_columns=["v"] | into write_ssa_detected_events();')
    deep = orjson.loads(b'{"v": ' + b"[" * 600 + b"1" + b"]" * 600 + b"}")
    execution = Execution(search.plan, lambda sink, batch: None)
    execution.push([deep])
    data = encode_state(build_payload([SearchIdentity("s", "s", "0")], [execution], [], {}, 1))
    again = Execution(search.plan, lambda sink, batch: None)
    again.load_state_dict(decode_state(data, "x")["searches"][0]["execution"])
    assert again.state_dict() == execution.state_dict()


# ---- the property over the corpus, in-process ----

def _corpus_searches(full: bool) -> list[tuple[str, str, Search]]:
    chosen, seen = [], set()
    for n, line in enumerate(CORPUS.read_bytes().splitlines()):
        entry = orjson.loads(line)
        text = entry["search"]
        stateful = any(word in text for word in STATEFUL_WORDS)
        if text in seen or not (full or stateful or n % EVERY_NTH == 0):
            continue
        seen.add(text)
        try:
            search = compile_cached(text)
        except SplError:
            continue
        chosen.append((f"{entry['slug']}@{n + 1}", entry["generation"], search))
    return chosen


def _run(plan, events: list[dict], cut: int | None) -> bytes:
    """The output of `events`, at once (cut None) or in two runs with the state saved in between."""
    out: list[bytes] = []

    def emit(sink, batch):
        out.extend(map(encode_record, batch.records()))

    execution = Execution(plan, emit)
    first = events if cut is None else events[:cut]
    for start in range(0, len(first), BATCH):
        execution.push(first[start : start + BATCH])
    if cut is not None:
        data = encode_state(build_payload([SearchIdentity("s", "s", "0")], [execution], [], {}, cut))
        execution = Execution(plan, emit)
        execution.load_state_dict(decode_state(data, "state")["searches"][0]["execution"])
        rest = events[cut:]
        for start in range(0, len(rest), BATCH):
            execution.push(rest[start : start + BATCH])
    execution.finish()
    return b"".join(out)


@needs_corpus
@pytest.mark.corpus  # a corpus-wide comparison: CI's corpus step (pyproject addopts)
def test_corpus_searches_give_the_same_bytes_resumed_as_at_once():
    full = os.environ.get("SPL_LITE_FULL_STATE") == "1"
    enriched = [orjson.loads(line) for line in EXAMPLE.read_bytes().splitlines()]
    ocsf = [from_enriched(e) for e in enriched]
    previous = set_clock(lambda: 1_700_000_000_000)  # time() is processing time: fix it for both runs
    try:
        checked = stateful = detected = 0
        failures = []
        for label, generation, search in _corpus_searches(full):
            events = ocsf if generation in ("G3", "G4") else enriched
            at_once = _run(search.plan, events, None)
            if _run(search.plan, events, SPLIT) != at_once:
                failures.append(label)
            checked += 1
            stateful += bool({n.command for n in search.plan.nodes} & STATEFUL_COMMANDS)
            detected += bool(at_once)
    finally:
        set_clock(previous)
    print(f"\nresume property: {checked} texts ({stateful} stateful, {detected} with output), full={full}")
    assert not failures, failures
    assert stateful >= 80 and checked >= 140


# ---- the CLI over files ----

SEARCHES = {
    "reference": REFERENCE.read_text(),
    "windows": "| from read_ssa_enriched_events()\n"
               "| eval ts = cast(map_get(input_event, \"_time\"), \"long\"), p = ucast(map_get(input_event, \"process_name\"), \"string\", null)\n"
               "| stats count() AS n, dc(p) AS kinds BY p, span(ts, 60s)\n"
               "| into write_ssa_detected_events();\n",
    "first": "| from read_ssa_enriched_events()\n"
             "| eval p = ucast(map_get(input_event, \"process_name\"), \"string\", null)\n"
             "| first_time_event input_columns=[\"p\"]\n| where first_time_p\n| select p\n"
             "| into write_ssa_detected_events();\n",
    "lift": "| from read_ssa_enriched_events()\n"
            "| eval c = ucast(map_get(input_event, \"parent_process_name\"), \"string\", null), t = ucast(map_get(input_event, \"process_name\"), \"string\", null)\n"
            "| conditional_anomaly conditional=\"c\" target=\"t\"\n| select c, t, output\n"
            "| into write_ssa_detected_events();\n",
    "gauss": "| from read_ssa_enriched_events()\n"
             "| eval ts = cast(map_get(input_event, \"_time\"), \"long\"), v = len(ucast(map_get(input_event, \"process\"), \"string\", \"\")), e = ucast(map_get(input_event, \"process_name\"), \"string\", null)\n"
             "| adaptive_threshold algorithm=\"quantile\" entity=\"e\" value=\"v\" timestamp=\"ts\" window=600000\n"
             "| select e, v, quantile, label\n| into write_ssa_detected_events();\n",
}


@pytest.fixture
def searches(tmp_path) -> list[Path]:
    paths = []
    for name, text in SEARCHES.items():
        path = tmp_path / f"{name}.spl"
        path.write_text(text)
        paths.append(path)
    return paths


def _split(lines: list[bytes], where: Path, cut: int) -> tuple[Path, Path, Path]:
    where.mkdir(exist_ok=True)
    a, b, both = where / "a.jsonl", where / "b.jsonl", where / "all.jsonl"
    a.write_bytes(b"".join(lines[:cut]))
    b.write_bytes(b"".join(lines[cut:]))
    both.write_bytes(b"".join(lines))
    return a, b, both


def _outputs(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.jsonl"))}


def _check_split(tmp_path: Path, searches: list[Path], lines: list[bytes], cut: int, *extra: str):
    a, b, both = _split(lines, tmp_path / "in", cut)
    # A+B at once, without state: the reference.
    assert cli_in_process("run", *searches, "--input", both, "--output-dir", tmp_path / "once", *extra).returncode == 0
    once = _outputs(tmp_path / "once")
    assert any(once.values())
    # A, then B with --final (the input ends there): the same bytes.
    state = tmp_path / "state"
    assert cli_in_process("run", *searches, "--input", a, "--state", state, "--output-dir", tmp_path / "two", *extra).returncode == 0
    last = cli_in_process("run", *searches, "--input", a, b, "--state", state, "--final", "--output-dir", tmp_path / "two", *extra)
    assert last.returncode == 0, last.stderr.decode()
    assert _outputs(tmp_path / "two") == once
    # Without --final the open windows stay in the state, at once or in two runs alike.
    assert cli_in_process("run", *searches, "--input", both, "--state", tmp_path / "s1", "--output-dir", tmp_path / "o1", *extra).returncode == 0
    for inputs in ((a,), (a, b)):
        assert cli_in_process("run", *searches, "--input", *inputs, "--state", tmp_path / "s2", "--output-dir", tmp_path / "o2", *extra).returncode == 0
    assert _outputs(tmp_path / "o1") == _outputs(tmp_path / "o2")
    assert _outputs(tmp_path / "o1")["windows.jsonl"] != once["windows.jsonl"]  # some windows still open
    return once


def test_cli_a_then_b_equals_a_and_b_at_once(tmp_path, searches):
    once = _check_split(tmp_path, searches, EXAMPLE.read_bytes().splitlines(keepends=True), 437)
    assert all(once.values()), "every search must produce output on the example"


@needs_evtx_samples
def test_cli_a_then_b_on_raw_windows_logs(tmp_path, searches):
    """A real file from ../shared/data (raw Sysmon and 4688 records, normalised on input)."""
    source = RAW / "evtx-attack-samples" / "evtx-attack-samples.jsonl.gz"
    lines = gzip.decompress(source.read_bytes()).splitlines(keepends=True)
    once = _check_split(tmp_path, searches, lines, len(lines) // 2 + 3)
    assert sum(1 for v in once.values() if v) >= 4


def test_cli_a_file_that_grows_continues_after_the_last_line_read(tmp_path, searches):
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    growing = tmp_path / "events.jsonl"
    growing.write_bytes(b"".join(lines[:300]))
    state = tmp_path / "state"
    assert cli_in_process("run", *searches, "--input", growing, "--state", state, "--output-dir", tmp_path / "o").returncode == 0
    with open(growing, "ab") as handle:
        handle.write(b"".join(lines[300:]))
    assert cli_in_process("run", *searches, "--input", growing, "--state", state, "--output-dir", tmp_path / "o", "--final").returncode == 0
    assert cli_in_process("run", *searches, "--input", growing, "--output-dir", tmp_path / "once").returncode == 0
    assert _outputs(tmp_path / "o") == _outputs(tmp_path / "once")
    saved = decode_state((state / "state.json").read_bytes(), "state")
    (entry,) = saved["inputs"]
    assert entry["lines"] == len(lines) and entry["offset"] == growing.stat().st_size
    assert saved["events"] == len(lines)


def test_records_written_after_the_last_checkpoint_are_not_duplicated(tmp_path, searches):
    """A crash between checkpoints: the output file is cut back to what the saved state covers."""
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    a, b, both = _split(lines, tmp_path / "in", 600)
    state, out = tmp_path / "state", tmp_path / "out.jsonl"
    assert cli_in_process("run", REFERENCE, "--input", a, "--state", state, "--output", out).returncode == 0
    extra = b'{"written": "after the checkpoint"}\n'
    with open(out, "ab") as handle:  # as if the killed run had written more before dying
        handle.write(extra)
    result = cli_in_process("run", REFERENCE, "--input", a, b, "--state", state, "--output", out, "--final")
    assert f"removed {len(extra)} bytes written after the last saved state" in result.stderr.decode()
    assert out.read_bytes() == cli_in_process("run", REFERENCE, "--input", both).stdout


def test_killed_run_resumes_to_the_same_output(tmp_path, searches):
    """SIGKILL at an arbitrary moment, then a second run: the files equal one uninterrupted run."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate_events import generate

    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(generate(30_000, 3)))
    state = tmp_path / "state"
    args = [*searches, "--input", events, "--output-dir", tmp_path / "out"]
    process = cli_process("run", *args, "--state", state, "--checkpoint-every", "3000", "--batch-size", "500",
                          stdout=None)
    deadline = time.monotonic() + 60
    while not (state / "state.json").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    resumed = cli_in_process("run", *args, "--state", state, "--final", "--batch-size", "500")
    assert resumed.returncode == 0
    assert cli_in_process("run", *[*args[:-1], tmp_path / "once"]).returncode == 0
    assert _outputs(tmp_path / "out") == _outputs(tmp_path / "once")


def test_changed_search_unknown_version_and_damaged_state_are_refused(tmp_path, searches):
    events = tmp_path / "e.jsonl"
    events.write_bytes(EXAMPLE.read_bytes())
    state = tmp_path / "state"
    assert cli_in_process("run", REFERENCE, "--input", events, "--state", state).returncode == 0
    changed = tmp_path / "rare_parent_child_process_relationship.spl"
    changed.write_text(REFERENCE.read_text() + "\n")
    refused = cli_in_process("run", changed, "--input", events, "--state", state)
    assert refused.returncode == 6
    assert "has changed since the state was saved" in refused.stderr.decode()
    assert "--reset-state" in refused.stderr.decode()
    other = cli_in_process("run", REFERENCE, searches[1], "--input", events, "--state", state)
    assert other.returncode == 6 and "`windows`" in other.stderr.decode()
    good = (state / "state.json").read_bytes()
    (state / "state.json").write_bytes(good[: len(good) // 2])
    damaged = cli_in_process("run", REFERENCE, "--input", events, "--state", state)
    assert damaged.returncode == 6 and "truncated or damaged" in damaged.stderr.decode() and damaged.stdout == b""
    (state / "state.json").write_bytes(good.replace(b'"version":2', b'"version":7', 1))
    future = cli_in_process("run", REFERENCE, "--input", events, "--state", state)
    assert future.returncode == 6 and "version 7" in future.stderr.decode()
    restart = cli_in_process("run", changed, "--input", events, "--state", state, "--reset-state")
    assert restart.returncode == 0 and restart.stdout == cli_in_process("run", changed, "--input", events).stdout


def test_a_saved_state_names_the_version_of_spl_lite_that_wrote_it():
    import spl_lite
    from spl_lite.engine.checkpoint import build_payload

    assert build_payload([], [], [], {}, 0)["spl_lite"] == spl_lite.__version__ == "0.1.0"
