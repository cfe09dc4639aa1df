"""Bad input loses nothing: each bad line is skipped, counted with file:line and reason, kept in the
dead-letter file byte for byte, and the output of every good line is what it is without the bad ones."""
from __future__ import annotations

import gzip

import orjson
import pytest

from conftest import EXAMPLE, REFERENCE, ROOT, cli_in_process
from spl_lite.io.decoding import decode_lines
from spl_lite.io.framing import Block, LineFramer, OverlongLine
from spl_lite.io.jsonl import EventReader, TooManyBadLines

# Every field of every event, so that a lost or changed event shows in the output.
EVERYTHING = "| from read_ssa_enriched_events() | eval n = map_get(input_event, \"process_id\") | into write_ssa_detected_events();\n"

DEEP_OK = b'{"deep": ' + b"[" * 300 + b"1" + b"]" * 300 + b', "process_name": "x.exe"}\n'
BAD_LINES = {
    "malformed JSON": b'{"process_name": "cmd.exe", \n',
    "invalid UTF-8": b'{"process_name": "\xff\xfe.exe"}\n',
    "an array": b"[1, 2, 3]\n",
    "a string": b'"just text"\n',
    "a number": b"42\n",
    "nested deeper than 1024": b"[" * 1025 + b"]" * 1025 + b"\n",
    "a 50 MB line": b'{"process_name": "' + b"a" * (50 << 20) + b'"}\n',
    "no newline at the end, truncated": b'{"process_name": "cm',
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The example events, plus the same with every kind of bad line spread through them."""
    base = tmp_path_factory.mktemp("bad")
    good = EXAMPLE.read_bytes().splitlines(keepends=True) + [DEEP_OK]
    mixed, bad_at = [], {}
    bad = list(BAD_LINES.items())
    for i, line in enumerate(good):
        if i % 120 == 5 and bad and bad[0][0] != "no newline at the end, truncated":
            kind, raw = bad.pop(0)
            bad_at[len(mixed) + 1] = (kind, raw)
            mixed.append(raw)
        mixed.append(line)
        if i % 300 == 7:
            mixed.append(b"\n")  # blank lines are not bad, just skipped
    kind, raw = bad.pop(0)
    bad_at[len(mixed) + 1] = (kind, raw)
    mixed.append(raw)
    assert not bad
    (base / "good.jsonl").write_bytes(b"".join(good))
    (base / "mixed.jsonl").write_bytes(b"".join(mixed))
    (base / "everything.spl").write_text(EVERYTHING)
    return base, bad_at


@pytest.mark.parametrize("search", ["reference", "everything"])
def test_every_kind_of_bad_line_is_skipped_and_good_lines_give_the_same_output(files, search):
    base, bad_at = files
    spl = REFERENCE if search == "reference" else base / "everything.spl"
    clean = cli_in_process("run", spl, "--input", base / "good.jsonl")
    dead = base / f"dead-{search}.bin"
    mixed = cli_in_process("run", spl, "--input", base / "mixed.jsonl", "--dead-letter", dead)
    assert clean.returncode == mixed.returncode == 0
    assert mixed.stdout == clean.stdout
    if search == "everything":
        assert mixed.stdout.count(b"\n") == EXAMPLE.read_bytes().count(b"\n") + 1  # the 300-deep line too
    warnings = [line for line in mixed.stderr.decode().splitlines() if line.startswith("warning:")]
    assert len(warnings) == len(BAD_LINES)
    for (line_no, (kind, _)), warning in zip(sorted(bad_at.items()), warnings):
        assert warning.startswith(f"warning: {base / 'mixed.jsonl'}:{line_no}: "), (kind, warning)
    assert f"{len(BAD_LINES)} bad lines skipped" in mixed.stderr.decode()
    # The dead letter holds the rejected lines byte for byte, in order; its index says where and why.
    expected = b"".join(raw if raw.endswith(b"\n") else raw + b"\n" for _, (_, raw) in sorted(bad_at.items()))
    assert dead.read_bytes() == expected
    index = [orjson.loads(line) for line in (base / f"dead-{search}.bin.index.jsonl").read_bytes().splitlines()]
    assert [(e["file"], e["line"]) for e in index] == [(str(base / "mixed.jsonl"), n) for n in sorted(bad_at)]
    assert [e["bytes"] for e in index] == [len(raw) for _, (_, raw) in sorted(bad_at.items())]
    reasons = [e["reason"] for e in index]
    assert reasons[0].startswith("invalid JSON (")
    assert reasons[1].startswith("invalid UTF-8")
    assert reasons[2:5] == ["expected a JSON object, found an array", "expected a JSON object, found a string",
                            "expected a JSON object, found a number"]
    assert "nested deeper" in reasons[5] and "longer than the limit" in reasons[6]
    assert reasons[7].startswith("invalid JSON (")
    for entry, (_, raw) in zip(index, [bad_at[n] for n in sorted(bad_at)]):
        assert dead.read_bytes()[entry["offset"] : entry["offset"] + entry["bytes"]] == raw


def test_a_truncated_gzip_keeps_every_whole_line_before_the_damage_and_exits_3(files, tmp_path):
    base, _ = files
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    packed = gzip.compress(b"".join(lines))
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(packed[: len(packed) * 2 // 3])
    dead = tmp_path / "dead.bin"
    result = cli_in_process("run", base / "everything.spl", "--input", broken, "--dead-letter", dead)
    assert result.returncode == 3  # an input error, as zcat says, with what came before kept
    assert f"`{broken}`: gzip data is truncated" in result.stderr.decode()
    out = result.stdout.splitlines()
    assert 0 < len(out) < len(lines)
    # Exactly the whole lines the damaged file still holds, in order, and the piece of the next.
    readable = _readable_prefix(broken.read_bytes())
    whole = readable[: readable.rfind(b"\n") + 1]
    assert len(out) == whole.count(b"\n")
    clean = cli_in_process("run", base / "everything.spl", "--input", "-", stdin=whole)
    assert result.stdout == clean.stdout
    assert dead.read_bytes() == readable[len(whole):] + b"\n"
    assert "gzip data is truncated" in result.stderr.decode()
    assert "1 bad line skipped" in result.stderr.decode()


def _readable_prefix(data: bytes) -> bytes:
    import zlib

    decompressor = zlib.decompressobj(wbits=31)
    return decompressor.decompress(data)


def test_max_bad_stops_with_exit_5_after_flushing_what_was_found(files, tmp_path):
    base, bad_at = files
    result = cli_in_process("run", base / "everything.spl", "--input", base / "mixed.jsonl", "--max-bad", "2",
                 "--output", tmp_path / "out.jsonl")
    assert result.returncode == 5
    assert "stopped: more than 2 bad lines (--max-bad)" in result.stderr.decode()
    third_bad = sorted(bad_at)[2]
    out = (tmp_path / "out.jsonl").read_bytes()
    records = [orjson.loads(line) for line in out.splitlines()]  # valid JSON lines, every one
    good_before = sum(1 for line in (base / "mixed.jsonl").read_bytes().splitlines()[: third_bad - 1]
                      if line.strip().startswith(b'{"_time"'))
    assert len(records) == good_before
    zero = cli_in_process("run", base / "everything.spl", "--input", base / "mixed.jsonl", "--max-bad", "0")
    assert zero.returncode == 5 and zero.stdout.count(b"\n") == sorted(bad_at)[0] - 1
    enough = cli_in_process("run", base / "everything.spl", "--input", base / "mixed.jsonl", "--max-bad", str(len(bad_at)))
    assert enough.returncode == 0


def test_help_and_readme_list_the_exit_codes():
    from spl_lite import cli as module
    from spl_lite.driver import exits

    assert exits.EXIT_TOO_MANY_BAD == 5 and exits.EXIT_STATE == 6
    readme = " ".join((ROOT / "README.md").read_text().split())
    for code in ("5 ", "6 ", "143"):
        assert code in module._EPILOG
    assert "| 5 | more than `--max-bad N` input lines were bad" in readme
    for code in range(8):  # the README's table has a row for every code in exits.py
        assert f"| {code} | " in readme
    assert "| 130, 143 |" in readme


# ---- the reader itself ----

def test_decode_lines_fast_path_and_reasons():
    good = [b'{"a": 1}\n', b'{"b": 2}\n']
    assert decode_lines(good, 1) == ([{"a": 1}, {"b": 2}], [])
    events, bad = decode_lines(good + [b"[1]\n", b"\n", b"{"], 1)
    assert events == [{"a": 1}, {"b": 2}]
    assert [(line_no, reason.split(" (")[0]) for line_no, reason, _ in bad] == [
        (3, "expected a JSON object, found an array"), (5, "invalid JSON")]


@pytest.mark.parametrize("piece", [1, 7, 25, 1000])
def test_the_framer_cuts_lines_alike_however_the_bytes_come_and_reads_overlong_lines_through(piece):
    data = b'{"a": 1}\n' + b"x" * 20 + b"\n" + b'{"b": 2}\n\n' + b"y" * 11 + b'\n{"c": 3}'
    framer = LineFramer(10, offset=100, line=4, spool=True)
    items = [item for start in range(0, len(data), piece) for item in framer.feed(data[start:start + piece])]
    items += framer.end()
    lines, places = [], []
    for item in items:
        if isinstance(item, OverlongLine):
            item.spool.seek(0)
            lines.append((item.line_no, item.reason, item.spool.read()))
            places.append(item.place_after())
        else:
            lines += [(item.first_line + i, None, line) for i, line in enumerate(item.lines)]
            places.append(item.place_after(item.line_count()))
            assert isinstance(item, Block) and max(map(len, item.lines)) <= 10
    assert lines == [
        (5, None, b'{"a": 1}\n'),
        (6, "line of 21 bytes is longer than the limit of 10 (--max-line-bytes)", b"x" * 20 + b"\n"),
        (7, None, b'{"b": 2}\n'), (8, None, b"\n"),
        (9, "line of 12 bytes is longer than the limit of 10 (--max-line-bytes)", b"y" * 11 + b"\n"),
        (10, None, b'{"c": 3}')]
    assert places[-1] == (10, 100 + len(data))


def test_projected_blocks_hold_their_lines_up_to_a_few_megabytes(tmp_path, monkeypatch):
    """Blocks for the projected decoder are sized by lines (DECODE_BLOCK_LINES) but no larger than
    DECODE_BLOCK_BYTES, whatever the lines' length; every line is read once, in order."""
    from spl_lite.io import jsonl
    from spl_lite.io.framing import range_framer
    from spl_lite.io.projection import ProjectedDecoder

    monkeypatch.setattr(jsonl, "DECODE_BLOCK_BYTES", 1 << 20)
    for width in (100, 5000):  # lines of ~100 bytes, and of ~5 KB
        path = tmp_path / f"lines{width}.jsonl"
        events = [{"n": n, "pad": "x" * width} for n in range(3000)]
        path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
        decoder, blocks = ProjectedDecoder(frozenset({"n"})), []
        decode = decoder.decode
        decoder.decode = lambda block: blocks.append(block.size) or decode(block)
        reader = EventReader([str(path)], decoder=decoder)
        assert [n for batch in reader.batches() for n in batch.key("n").tolist()] == list(range(3000))
        assert max(blocks) <= (1 << 20) + width + 100  # a block ends at a line's end
        with open(path, "rb") as handle:
            sizes = [block.size for block in range_framer(handle, 0, path.stat().st_size, 4096, 1 << 20)
                     .read(handle, path.stat().st_size)]
        assert max(sizes) <= (1 << 20) + width + 100 and sum(sizes) == path.stat().st_size


def test_reader_max_bad_stops_right_after_the_line_over_the_limit(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"n": 1}\nbad\n{"n": 2}\nbad\n{"n": 3}\n')
    reader = EventReader([str(path)], batch_size=100, max_bad=1)
    seen = []
    with pytest.raises(TooManyBadLines):
        for events in reader.batches():
            seen.extend(events)
            reader.commit()
    assert seen == [{"n": 1}, {"n": 2}]
    (progress,) = reader.progress()
    assert progress["lines"] == 4 and progress["offset"] == len(b'{"n": 1}\nbad\n{"n": 2}\nbad\n')
