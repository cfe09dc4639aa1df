"""Several searches over one pass of the input: each one's output is exactly what it gives alone."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from conftest import CORPUS, EXAMPLE, REFERENCE, cli_in_process, compile_cached
from spl_lite.driver.api import Search
from spl_lite.core.errors import SplError
from spl_lite.io.jsonl import encode_record
from spl_lite.io.ocsf import from_enriched
from spl_lite.io.outputs import search_names

PER_GENERATION = 8  # corpus texts per generation, the first that plan, run and detect something


def test_names_are_file_stems_made_unique_in_order():
    assert search_names(["a/x.spl", "b/x.spl", "y.spl", "c/x.spl", "x-2.spl", "-"]) == [
        "x", "x-2", "y", "x-3", "x-2-2", "stdin",
    ]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("multi")
    enriched = [orjson.loads(line) for line in EXAMPLE.read_bytes().splitlines()]
    (base / "ocsf.jsonl").write_bytes(b"".join(orjson.dumps(from_enriched(e)) + b"\n" for e in enriched))
    return {"ssa": EXAMPLE, "ocsf": base / "ocsf.jsonl", "dir": base}


def _alone(search: Search, path: Path) -> bytes:
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return b"".join(encode_record(r) for r in search.run(events))


@pytest.fixture(scope="module")
def sample(inputs) -> dict[str, list[tuple[Path, bytes]]]:
    """Per input shape: (search file, its output alone). time() (processing time, different in every
    run) is replaced by a constant in the texts that use it; the reference detection is always in."""
    if not CORPUS.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    chosen: dict[str, list[tuple[Path, bytes]]] = {"ssa": [], "ocsf": []}
    counts: dict[str, int] = {}
    directory = inputs["dir"] / "searches"
    directory.mkdir()
    for n, line in enumerate(CORPUS.read_bytes().splitlines(), 1):
        entry = orjson.loads(line)
        generation, text = entry["generation"], entry["search"].replace("time()", "1700000000000")
        if counts.get(generation, 0) >= PER_GENERATION or generation == "G0":
            continue
        shape = "ocsf" if generation in ("G3", "G4") else "ssa"
        try:
            search = compile_cached(text)
        except SplError:
            continue
        alone = _alone(search, inputs[shape])
        if not alone:
            continue
        # One directory per text, file named by slug: versions of one detection collide (-2, -3).
        (directory / str(n)).mkdir()
        path = directory / str(n) / f"{entry['slug'][:40]}.spl"
        path.write_text(text)
        chosen[shape].append((path, alone))
        counts[generation] = counts.get(generation, 0) + 1
    chosen["ssa"].insert(0, (REFERENCE, _alone(Search.compile(REFERENCE.read_text()), EXAMPLE)))
    assert len(chosen["ssa"]) > 10 and len(chosen["ocsf"]) > 10
    return chosen


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("shape", ["ssa", "ocsf"])
def test_output_dir_holds_each_search_exactly_as_alone(tmp_path, inputs, sample, shape, workers):
    """In one process, or with worker processes running every search's stateless head."""
    paths = [p for p, _ in sample[shape]]
    result = cli_in_process("run", *paths, "--input", inputs[shape], "--output-dir", tmp_path / "out",
                            "--workers", workers)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""
    names = search_names([str(p) for p in paths])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{n}.jsonl" for n in names)
    for name, (_, alone) in zip(names, sample[shape]):
        assert (tmp_path / "out" / f"{name}.jsonl").read_bytes() == alone, name


@pytest.mark.parametrize("shape", ["ssa", "ocsf"])
def test_stdout_labels_each_record_with_its_search(inputs, sample, shape):
    paths = [p for p, _ in sample[shape]]
    result = cli_in_process("run", *paths, "--input", inputs[shape])
    assert result.returncode == 0
    names = search_names([str(p) for p in paths])
    by_name: dict[str, list[bytes]] = {name: [] for name in names}
    for line in result.stdout.splitlines(keepends=True):
        record = orjson.loads(line)
        assert next(iter(record)) == "search"
        name = record.pop("search")
        by_name[name].append(encode_record(record))
    for name, (_, alone) in zip(names, sample[shape]):
        assert b"".join(by_name[name]) == alone, name


def test_one_search_output_is_unchanged_and_unlabelled(tmp_path):
    result = cli_in_process("run", REFERENCE, "--input", EXAMPLE)
    assert result.stdout == _alone(Search.compile(REFERENCE.read_text()), EXAMPLE)
    assert b'"search"' not in result.stdout
    to_dir = cli_in_process("run", REFERENCE, "--input", EXAMPLE, "--output-dir", tmp_path)
    assert (tmp_path / f"{REFERENCE.stem}.jsonl").read_bytes() == result.stdout and to_dir.stdout == b""


def test_search_from_stdin_among_files(tmp_path):
    text = '| from read_ssa_enriched_events() | eval n = map_get(input_event, "process_id") | where n < 1000 | select n;'
    result = cli_in_process("run", "-", REFERENCE, "--input", EXAMPLE, "--output-dir", tmp_path, stdin=text.encode())
    assert result.returncode == 0
    assert (tmp_path / "stdin.jsonl").read_bytes() == _alone(Search.compile(text), EXAMPLE)
    twice = cli_in_process("run", "-", "-", "--input", EXAMPLE, stdin=text.encode())
    assert twice.returncode == 2 and b"only one search can come from standard input" in twice.stderr


def test_a_broken_search_stops_before_any_input_is_read(tmp_path):
    bad = tmp_path / "bad.spl"
    bad.write_text('| from read_ssa_enriched_events() | eval x = lowr("A");')
    result = cli_in_process("run", REFERENCE, bad, "--input", tmp_path / "missing.jsonl")
    assert result.returncode == 1 and b"unknown function `lowr`" in result.stderr
