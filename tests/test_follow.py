"""--follow: files read as they grow, across rotation and truncation; Ctrl-C stops with state saved."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import orjson
import pytest

from conftest import cli, cli_process
from spl_lite.engine.checkpoint import decode_state

SEARCH = """\
| from read_ssa_enriched_events()
| eval n = map_get(input_event, "n")
| first_time_event input_columns=["n"]
| select n, first_time_n
| into write_ssa_detected_events();
"""
TIMEOUT = 20


def start(*args, **kwargs) -> subprocess.Popen:
    return cli_process("run", *args, **kwargs)


def run(*args, stdin=None) -> subprocess.CompletedProcess:
    return cli("run", *args, stdin=stdin, timeout=60)


def wait_for_lines(path: Path, count: int, process: subprocess.Popen) -> list[dict]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return [orjson.loads(line) for line in path.read_bytes().splitlines()]
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.05)
    pytest.fail(f"{path} did not reach {count} lines in {TIMEOUT} s: {path.read_bytes() if path.exists() else None}")


def line(n: int) -> bytes:
    return orjson.dumps({"n": n}) + b"\n"


@pytest.fixture
def search(tmp_path) -> Path:
    path = tmp_path / "s.spl"
    path.write_text(SEARCH)
    return path


def test_follow_growth_partial_lines_rotation_and_truncation_then_ctrl_c(tmp_path, search):
    log, out, state = tmp_path / "app.jsonl", tmp_path / "out.jsonl", tmp_path / "state"
    log.write_bytes(line(1) + line(2))
    process = start(search, "--input", log, "--follow", "--state", state, "--output", out)
    written: list[bytes] = [line(1), line(2)]
    try:
        assert len(wait_for_lines(out, 2, process)) == 2  # output appears while the run goes on

        def writer():
            with open(log, "ab") as handle:
                for n in (3, 1, 4):
                    handle.write(line(n))
                    handle.flush()
                    time.sleep(0.05)
                handle.write(b'{"n": 5')  # half a line: nothing until the rest arrives
                handle.flush()
                time.sleep(0.5)
                handle.write(b"}\n")
                handle.flush()
            time.sleep(0.5)
            os.rename(log, tmp_path / "app.jsonl.1")  # rotation: rename, then a new file
            with open(tmp_path / "app.jsonl.1", "ab") as old:
                old.write(line(6))  # written to the old file just after it was renamed
            log.write_bytes(line(7) + line(3))
            time.sleep(0.8)
            log.write_bytes(b"")  # truncated in place (copytruncate)
            time.sleep(0.5)
            with open(log, "ab") as handle:
                handle.write(line(8))

        thread = threading.Thread(target=writer)
        thread.start()
        thread.join(TIMEOUT)
        written += [line(3), line(1), line(4), b'{"n": 5}\n', line(6), line(7), line(3), line(8)]
        got = wait_for_lines(out, len(written), process)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(TIMEOUT)
    stderr = process.stderr.read().decode()
    assert code == 130, stderr
    assert "Traceback" not in stderr
    assert "was rotated" in stderr and "was truncated" in stderr
    # Exactly what one run over the lines, in the order written, gives.
    expected = run(search, "--input", "-", stdin=b"".join(written)).stdout
    assert out.read_bytes() == expected
    assert [r["n"] for r in got] == [1, 2, 3, 1, 4, 5, 6, 7, 3, 8]
    saved = decode_state((state / "state.json").read_bytes(), "state")
    assert saved["events"] == len(written)
    # The state continues: the rotated file is known by its inode, the new one by its path.
    with open(log, "ab") as handle:
        handle.write(line(9) + line(2))
    again = run(search, "--input", tmp_path / "app.jsonl.1", log, "--state", state)
    assert again.returncode == 0, again.stderr.decode()
    assert [orjson.loads(x) for x in again.stdout.splitlines()] == [
        {"n": 9, "first_time_n": True}, {"n": 2, "first_time_n": False},
    ]


def test_sigterm_saves_the_state_and_exits_143(tmp_path, search):
    log, state = tmp_path / "events.jsonl", tmp_path / "state"
    log.write_bytes(line(1) + line(2))
    process = start(search, "--input", log, "--follow", "--state", state, "--output", tmp_path / "out.jsonl")
    try:
        wait_for_lines(tmp_path / "out.jsonl", 2, process)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(TIMEOUT)
    assert code == 143, process.stderr.read().decode()
    saved = decode_state((state / "state.json").read_bytes(), "state")
    assert saved["inputs"][0]["lines"] == 2


def test_follow_standard_input_flushes_as_records_come_and_ends_at_eof(tmp_path, search):
    out = tmp_path / "out.jsonl"
    process = start(search, "--input", "-", "--follow", "--output", out, stdin=subprocess.PIPE)
    try:
        process.stdin.write(line(1) + line(1))
        process.stdin.flush()
        assert [r["first_time_n"] for r in wait_for_lines(out, 2, process)] == [True, False]
        process.stdin.write(line(2) + b'{"n": 3}')  # the last line has no newline: taken at EOF
        process.stdin.close()
        assert process.wait(TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert [orjson.loads(x)["n"] for x in out.read_bytes().splitlines()] == [1, 1, 2, 3]


def test_follow_frames_bad_and_overlong_lines_as_reading_a_file_does(tmp_path, search):
    """One framer for both: the same warnings, and the same dead letter byte for byte (an overlong
    line too, with its number and offset), whether the lines are read from a file or followed."""
    data = line(1) + b'{"broken\n' + b"x" * 5_000 + b"\n" + line(2) + b"[3]\n" + line(4)[:-1]
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    results = {}
    for mode, args, stdin in (("file", ["--input", path], None), ("follow", ["--input", "-", "--follow"], data)):
        dead, out = tmp_path / f"dead-{mode}", tmp_path / f"out-{mode}.jsonl"
        result = run(search, *args, "--max-line-bytes", "1000", "--dead-letter", dead, "--output", out, stdin=stdin)
        assert result.returncode == 0, result.err
        warnings = [w.replace(str(path), "<stdin>") for w in result.err.splitlines() if w.startswith("warning:")]
        index = Path(f"{dead}.index.jsonl").read_bytes().replace(str(path).encode(), b"<stdin>")
        results[mode] = (out.read_bytes(), warnings, dead.read_bytes(), index)
    assert results["follow"] == results["file"]
    output, warnings, dead_letter, index = results["file"]
    assert [orjson.loads(x)["n"] for x in output.splitlines()] == [1, 2, 4]
    assert [w.split(": ")[1] for w in warnings] == ["<stdin>:2", "<stdin>:3", "<stdin>:5"]
    assert dead_letter == b'{"broken\n' + b"x" * 5_000 + b"\n" + b"[3]\n"
    entries = [orjson.loads(x) for x in index.splitlines()]
    assert [(e["line"], e["bytes"], e["offset"]) for e in entries] == [(2, 9, 0), (3, 5_001, 9), (5, 4, 5_010)]
