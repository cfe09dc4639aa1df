"""Issue 14: input and output a hostile or a new user gives: pipes and FIFOs, an output that is an
input, endless lines, damaged gzip, unreadable files, odd encodings. Each runs in a second or two."""
from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent
SEARCH = '| from read_ssa_enriched_events() | eval n = map_get(input_event, "n") | select n | into write_ssa_detected_events();\n'


def cli(*args, stdin=None, timeout=30, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "spl_lite.cli", *map(str, args)], input=stdin,
                            capture_output=True, timeout=timeout, cwd=ROOT, **kwargs)
    result.err = result.stderr.decode()
    assert "Traceback" not in result.err, result.err
    return result


@pytest.fixture
def search(tmp_path) -> Path:
    path = tmp_path / "s.spl"
    path.write_text(SEARCH)
    return path


def events(n: int) -> bytes:
    return b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * 40) for i in range(n))


def numbers(stdout: bytes) -> list[int]:
    return [orjson.loads(line)["n"] for line in stdout.splitlines()]


# ---- 1: pipes and FIFOs ----

def test_a_process_substitution_pipe_loses_no_event(search, tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_bytes(events(3000))
    result = subprocess.run(["bash", "-c", f'"$0" -m spl_lite.cli run {search} --input <(cat {data})', sys.executable],
                            capture_output=True, timeout=30, cwd=ROOT)
    assert result.returncode == 0, result.stderr.decode()
    assert numbers(result.stdout) == list(range(3000))


@pytest.mark.parametrize("slow", [False, True])
def test_a_fifo_is_read_once_whole_and_does_not_hang(search, tmp_path, slow):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    data = events(2000)

    def write():
        with open(fifo, "wb") as handle:
            if slow:
                for start in range(0, len(data), 7000):
                    handle.write(data[start:start + 7000])
                    handle.flush()
            else:
                handle.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    result = cli("run", search, "--input", fifo, timeout=20)
    writer.join(5)
    assert not writer.is_alive()
    assert result.returncode == 0, result.err
    assert numbers(result.stdout) == list(range(2000))


# ---- 2: an output that is an input ----

def test_an_output_that_is_an_input_is_refused_and_the_input_kept(search, tmp_path):
    data = tmp_path / "copy.jsonl"
    data.write_bytes(events(10))
    os.link(data, tmp_path / "hard.jsonl")
    for extra in (["--output", data], ["--output", tmp_path / "hard.jsonl"], ["--dead-letter", data],
                  ["--output-dir", tmp_path, "--input", tmp_path / "s.jsonl"]):
        if extra[0] == "--output-dir":
            (tmp_path / "s.jsonl").write_bytes(events(3))
            result = cli("run", search, *extra)
            assert (tmp_path / "s.jsonl").read_bytes() == events(3)
        else:
            result = cli("run", search, "--input", data, *extra)
        assert result.returncode == 2, result.err
        assert "is the input" in result.err
        assert data.read_bytes() == events(10)
    with open(data, "rb") as stdin:
        result = subprocess.run([sys.executable, "-m", "spl_lite.cli", "run", search, "--input", "-", "--output", data],
                                stdin=stdin, capture_output=True, timeout=30, cwd=ROOT)
    assert result.returncode == 2 and data.read_bytes() == events(10)
