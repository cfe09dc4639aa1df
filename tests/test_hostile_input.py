"""Issue 14: input and output a hostile or a new user gives: pipes and FIFOs, an output that is an
input, endless lines, damaged gzip, unreadable files, odd encodings. Each runs in a second or two.
What needs a real process (pipes, FIFOs, capped memory, signals, file size limits, a full disk) runs
as one (`cli`); the rest calls the same main() in this process (`in_process`)."""
from __future__ import annotations

import codecs
import gzip
import os
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from conftest import cli_in_process as in_process

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


# ---- 3: --max-line-bytes bounds memory ----

CAPPED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({cap} << 20, {cap} << 20))
from spl_lite.cli import main
sys.exit(main(sys.argv[1:]))
"""


def capped(*args, cap=500, stdin=None, timeout=60):
    """spl-lite with its address space capped: holding the input's long line in memory fails."""
    result = subprocess.run([sys.executable, "-c", CAPPED.format(cap=cap), *map(str, args)], stdin=stdin,
                            capture_output=True, timeout=timeout, cwd=ROOT)
    result.err = result.stderr.decode()
    assert "MemoryError" not in result.err and "Traceback" not in result.err, result.err[-2000:]
    return result


@pytest.mark.parametrize("limit", [None, "1000000"])
def test_a_line_without_end_is_read_in_bounded_pieces_skipped_and_counted(search, tmp_path, limit):
    zeros = tmp_path / "zeros.jsonl"  # a sparse file: 600 MB of NUL bytes, no newline, after two events
    with open(zeros, "wb") as handle:
        handle.write(events(2))
        handle.truncate(600 << 20)
    extra = ["--max-line-bytes", limit] if limit else ["--workers", "1"]
    result = capped("run", search, "--input", zeros, "--progress", *extra, "--dead-letter" if limit else "--progress",
                    *([tmp_path / "dead"] if limit else []))
    assert result.returncode == 0, result.err
    assert numbers(result.stdout) == [0, 1]
    assert "longer than the limit" in result.err and "1 bad line skipped" in result.err
    if limit:  # the dead letter has it, byte for byte, copied a piece at a time
        assert (tmp_path / "dead").stat().st_size == (600 << 20) - len(events(2)) + 1


def test_dev_zero_and_a_gzip_of_zeros_stay_within_memory(search, tmp_path):
    packed = tmp_path / "zeros.jsonl.gz"
    packed.write_bytes(gzip.compress(events(3) + b"\0" * (200 << 20) + b"\n" + b'{"n": 4}\n', compresslevel=1))
    result = capped("run", search, "--input", packed, "--max-line-bytes", "100000", "--progress")
    assert result.returncode == 0 and numbers(result.stdout) == [0, 1, 2, 4], result.err
    with open("/dev/zero", "rb") as zero:  # endless: reading goes on at a bounded size until killed
        with pytest.raises(subprocess.TimeoutExpired):
            capped("run", search, "--input", "-", "--max-line-bytes", "100000", stdin=zero, timeout=1.5)
    with pytest.raises(subprocess.TimeoutExpired):
        capped("run", search, "--input", "/dev/zero", timeout=1.5)


def test_a_search_file_has_a_size_limit(tmp_path):
    result = capped("check", "/dev/zero", cap=500, timeout=20)
    assert result.returncode == 1 and "longer than" in result.err
    result = capped("run", "/dev/zero", "--input", "-", cap=500, timeout=20)
    assert result.returncode == 3 and "longer than" in result.err


# ---- 4: a damaged gzip file ----

def test_a_bit_flipped_gzip_is_an_input_error_naming_the_file(search, tmp_path):
    data = events(3000)
    packed = bytearray(gzip.compress(data))
    packed[len(packed) // 2] ^= 0x10
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(bytes(packed))
    out = tmp_path / "out.jsonl"
    result = in_process("run", search, "--input", broken, "--output", out)
    assert result.returncode == 3, result.err
    assert f"`{broken}`: gzip data is damaged" in result.err
    assert numbers(out.read_bytes())[:10] == list(range(10))  # what was written before stays
    assert out.read_bytes().endswith(b"\n")


# ---- 8: tracebacks that were exit 1 or 4 ----

def test_an_unreadable_input_is_exit_3_with_a_message(search, tmp_path):
    if os.geteuid() == 0:  # root reads a file of mode 000; this one refuses even root
        unreadable = Path("/proc/sys/vm/compact_memory")
        if not unreadable.exists():
            pytest.skip("no file unreadable by root here")
    else:
        unreadable = tmp_path / "secret.jsonl"
        unreadable.write_bytes(events(1))
        unreadable.chmod(0)
    result = in_process("run", search, "--input", unreadable)
    assert result.returncode == 3 and f"cannot read `{unreadable}`" in result.err


def test_a_huge_regex_repetition_is_a_diagnostic(tmp_path):
    path = tmp_path / "re.spl"
    path.write_text('| from read_ssa_enriched_events() | where match_regex(process_name, /a{4294967295}/) '
                    '| into write_ssa_detected_events();\n')
    for command in (["check", path], ["run", path, "--input", "-"]):
        result = in_process(*command, stdin=b"")
        assert result.returncode == 1 and "repeat count too big" in result.err, result.err


def test_check_on_a_corpus_line_whose_search_is_not_a_string(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(b'{"search": 5}\n{"search": ["x"]}\n{"search": null}\n')
    result = in_process("check", corpus)
    assert result.returncode == 1 and result.err.count("`search` field") == 3, result.err


def _tampered(search, tmp_path, change) -> subprocess.CompletedProcess:
    from spl_lite.engine.checkpoint import decode_state, encode_state

    data = tmp_path / "in.jsonl"
    data.write_bytes(events(5))
    state = tmp_path / "state"
    assert in_process("run", search, "--input", data, "--state", state).returncode == 0
    payload = decode_state((state / "state.json").read_bytes(), "state")
    change(payload)
    (state / "state.json").write_bytes(encode_state(payload))  # a right checksum over a wrong shape
    return in_process("run", search, "--input", data, "--state", state)


@pytest.mark.parametrize("change", [
    lambda p: p.update(inputs=[1, 2]),
    lambda p: p.update(inputs=[{"path": 5}]),
    lambda p: p["inputs"][0].update(offset="x"),
    lambda p: p.update(inputs={"a": 1}),
    lambda p: p.update(outputs=[1]),
    lambda p: p.update(outputs={"x": "y"}),
    lambda p: p["searches"][0]["execution"].update(next_row_id="x"),
    lambda p: p.update(events=None),
], ids=["inputs-ints", "inputs-fields", "offset-str", "inputs-dict", "outputs-list", "outputs-str", "row-id",
        "events"])
def test_a_state_of_the_wrong_shape_is_exit_6(search, tmp_path, change):
    result = _tampered(search, tmp_path, change)
    assert result.returncode == 6, result.err
    assert "--reset-state" in result.err


# ---- 9: a full disk ----

def _file_size_limit(limit):
    import resource
    import signal

    def limit_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limit_files


def test_a_full_disk_under_output_is_exit_3_with_no_torn_line(search, tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_bytes(events(20000))
    result = cli("run", search, "--input", data, "--output", "/dev/full")
    assert result.returncode == 3 and "cannot write `/dev/full`: No space left on device" in result.err
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "spl_lite.cli", "run", search, "--input", data], stdout=full,
            stderr=subprocess.PIPE, timeout=30, cwd=ROOT)
    assert result.returncode == 3 and b"cannot write standard output" in result.stderr
    out = tmp_path / "out.jsonl"
    result = subprocess.run([sys.executable, "-m", "spl_lite.cli", "run", search, "--input", data, "--output", out,
                             "--batch-size", "1000", "--whole-events"], capture_output=True, timeout=30, cwd=ROOT,
                            preexec_fn=_file_size_limit(100_000))
    assert result.returncode == 3 and b"cannot write" in result.stderr and b"Traceback" not in result.stderr
    written = out.read_bytes()
    assert 0 < len(written) <= 100_000 and written.endswith(b"\n")
    assert numbers(written) == list(range(written.count(b"\n")))


def test_a_failed_state_save_leaves_no_temporary_file(search, tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_bytes(events(50))
    state = tmp_path / "state"
    result = subprocess.run([sys.executable, "-m", "spl_lite.cli", "run", search, "--input", data, "--state", state],
                            capture_output=True, timeout=30, cwd=ROOT, preexec_fn=_file_size_limit(300))
    assert result.returncode == 6 and b"cannot save state" in result.stderr, result.stderr
    assert sorted(p.name for p in state.iterdir()) == ["lock"]


# ---- 10: state files created safely ----

def test_a_planted_symlink_is_never_written_through(search, tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_bytes(events(5))
    state = tmp_path / "state"
    state.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    # The old temporary name was predictable from the pid; plant links for many pids.
    for pid in range(os.getpid(), os.getpid() + 2000):
        (state / f".state.json.{pid}.tmp").symlink_to(victim)
    result = cli("run", search, "--input", data, "--state", state)
    assert result.returncode == 0, result.err
    assert victim.read_bytes() == b"precious"
    (state / "lock").unlink()
    (state / "lock").symlink_to(tmp_path / "created")
    result = cli("run", search, "--input", data, "--state", state)
    assert result.returncode == 6 and "symbolic link" in result.err
    assert not (tmp_path / "created").exists()


# ---- 11: resuming, and options that need --state ----

def test_a_file_shorter_than_its_saved_offset_is_refused_unless_reset(search, tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_bytes(events(100))
    state = tmp_path / "state"
    assert in_process("run", search, "--input", data, "--state", state).returncode == 0
    data.write_bytes(events(100)[:5000])  # the same first bytes, cut short
    result = in_process("run", search, "--input", data, "--state", state)
    assert result.returncode == 6 and "shorter than when the state was saved" in result.err
    assert result.stdout == b""
    result = in_process("run", search, "--input", data, "--state", state, "--reset-state")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == events(100)[:5000].count(b"\n")


def test_a_file_rewritten_in_place_is_refused_unless_reset_and_a_rotated_one_is_read_whole(search, tmp_path):
    """Issue 14 item 11: the same file (same inode) with other first bytes would be counted again on
    top of the saved state; a new file under the same name (rotation) is read from its start."""
    data = tmp_path / "in.jsonl"
    data.write_bytes(events(100))
    state = tmp_path / "state"
    assert in_process("run", search, "--input", data, "--state", state).returncode == 0
    inode = data.stat().st_ino
    with open(data, "r+b") as handle:  # rewritten in place: same inode, other content, not shorter
        handle.write(b"\n" + events(100)[1:])
    assert data.stat().st_ino == inode
    result = in_process("run", search, "--input", data, "--state", state)
    assert result.returncode == 6 and "was rewritten since the state was saved" in result.err
    assert in_process("run", search, "--input", data, "--state", state, "--reset-state").returncode == 0
    rotated = tmp_path / "new.jsonl"
    rotated.write_bytes(b"\n" + events(100))
    rotated.replace(data)  # a new file under the old name
    result = in_process("run", search, "--input", data, "--state", state)
    assert result.returncode == 0 and "reading it from the start" in result.err


@pytest.mark.parametrize("flags", [["--final"], ["--reset-state"], ["--final", "--reset-state"]])
def test_final_and_reset_state_need_state(search, tmp_path, flags):
    result = in_process("run", search, "--input", "-", *flags, stdin=events(1))
    assert result.returncode == 2 and "--state" in result.err


def test_workers_must_be_positive(search):
    for n in ("0", "-1"):
        assert in_process("run", search, "--input", "-", "--workers", n, stdin=b"").returncode == 2


def test_a_broken_pipe_during_a_state_run_saves_the_state(search, tmp_path):
    from spl_lite.engine.checkpoint import decode_state

    data = tmp_path / "in.jsonl"
    data.write_bytes(events(50000))
    state = tmp_path / "state"
    process = subprocess.Popen([sys.executable, "-m", "spl_lite.cli", "run", search, "--input", data, "--state", state,
                                "--batch-size", "1000", "--whole-events", "--checkpoint-every", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    process.stdout.readline()
    process.stdout.close()  # like `| head -1`
    assert process.wait(30) == 0
    assert b"Traceback" not in process.stderr.read()
    saved = decode_state((state / "state.json").read_bytes(), "state")
    (entry,) = saved["inputs"]
    assert 0 < entry["lines"] < 50000 and saved["events"] == entry["lines"]
    # The next run continues after the whole batches done: together they see every event once.
    rest = cli("run", search, "--input", data, "--state", state)
    assert rest.returncode == 0
    assert numbers(rest.stdout) == list(range(entry["lines"], 50000))


# ---- 12: UTF-16, a JSON array, a file that yields nothing ----

@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
@pytest.mark.parametrize("whole", [False, True])
def test_a_file_with_a_byte_order_mark_is_read_as_its_text(search, tmp_path, encoding, whole):
    text = events(3000).decode()
    path = tmp_path / "in.jsonl"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    path.write_bytes(data)
    result = in_process("run", search, "--input", path, *(["--whole-events"] if whole else []))
    assert result.returncode == 0, result.err
    assert numbers(result.stdout) == list(range(3000))


def test_a_utf16_file_resumes_where_it_stopped(search, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(events(100).decode().encode("utf-16"))
    state = tmp_path / "state"
    first = in_process("run", search, "--input", path, "--state", state)
    with open(path, "ab") as handle:  # PowerShell's >> appends UTF-16 without a second mark
        handle.write(b'{"n": 100}\n'.decode().encode("utf-16-le"))
    second = in_process("run", search, "--input", path, "--state", state)
    assert first.returncode == second.returncode == 0, second.err
    assert numbers(first.stdout) == list(range(100)) and numbers(second.stdout) == [100]


@pytest.mark.parametrize("pretty", [True, False])
def test_a_json_array_of_objects_is_read_as_events(search, tmp_path, pretty):
    items = [{"n": i} for i in range(50)] + [7]
    path = tmp_path / "export.json"
    path.write_bytes(orjson.dumps(items, option=orjson.OPT_INDENT_2 if pretty else 0))
    result = in_process("run", search, "--input", path)
    assert result.returncode == 0, result.err
    assert numbers(result.stdout) == list(range(50))
    assert "item 51 of the JSON array is not an object" in result.err
    result = in_process("run", search, "--input", "-", stdin=path.read_bytes())
    assert numbers(result.stdout) == list(range(50))


def test_a_file_that_gives_no_event_says_why_and_exits_3(search, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_bytes(b"hello\nworld\n")
    good = tmp_path / "good.jsonl"
    good.write_bytes(events(2))
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    result = in_process("run", search, "--input", good, text, empty)
    assert result.returncode == 3
    assert numbers(result.stdout) == [0, 1]
    assert f"`{text}` gave no event: all 2 of its lines were bad" in result.err
    assert "empty.jsonl" not in result.err  # an empty file is no error


# ---- 13: searches, inputs and directories on the command line ----

def test_a_search_given_as_input_is_refused_naming_the_fix(search, tmp_path):
    data = tmp_path / "ev.jsonl"
    data.write_bytes(events(3))
    other = tmp_path / "b.spl"
    other.write_text(SEARCH)
    result = in_process("run", search, "--input", data, other)
    assert result.returncode == 2 and result.stdout == b""
    assert f"spl-lite run {search} {other} --input {data}" in result.err
    result = in_process("run", "--input", data, search)
    assert result.returncode == 2 and f"spl-lite run {search} --input {data}" in result.err
    result = in_process("run", "--input", data)
    assert result.returncode == 2 and "no SEARCH" in result.err


def test_search_and_events_cannot_both_be_standard_input():
    result = in_process("run", "-", "--input", "-", stdin=SEARCH.encode())
    assert result.returncode == 2 and "both come from standard input" in result.err


def test_an_input_directory_reads_the_event_files_under_it(search, tmp_path):
    data = tmp_path / "data"
    (data / "b").mkdir(parents=True)
    (data / "a.jsonl").write_bytes(events(2))
    (data / "b" / "c.jsonl.gz").write_bytes(gzip.compress(events(4)[len(events(2)):]))
    (data / "notes.txt").write_text("not events")
    result = in_process("run", search, "--input", data)
    assert result.returncode == 0, result.err
    assert numbers(result.stdout) == [0, 1, 2, 3]
    (tmp_path / "empty").mkdir()
    result = in_process("run", search, "--input", tmp_path / "empty")
    assert result.returncode == 3 and "holds no event file" in result.err


def test_an_output_that_is_a_pipe_or_device_is_written(search, tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_bytes(events(3000))
    result = subprocess.run(
        ["bash", "-c", f'"$0" -m spl_lite.cli run {search} --input {data} --output /dev/stdout | cat', sys.executable],
        capture_output=True, timeout=30, cwd=ROOT)
    assert result.returncode == 0, result.stderr.decode()
    assert numbers(result.stdout) == list(range(3000))
