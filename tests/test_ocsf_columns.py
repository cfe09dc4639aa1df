"""OCSF documents read in part (io/ocsf_columns.py) give what the whole-event path gives."""
from __future__ import annotations

import functools
import gzip
import json

import orjson
import pytest

from conftest import RAW, REFERENCE, cli_in_process, needs_raw
from spl_lite.io import ocsf
from spl_lite.io.formats import InputConverter, read_process_creation
from spl_lite.io.ocsf_columns import OcsfDecoder
from spl_lite.io.projection import ProjectedDecoder

EVERY_KEY = frozenset(ocsf.ENRICHED_FROM) | {"not_a_key"}
REFERENCE_KEYS = frozenset(("_time", "parent_process_name", "process_name", "process", "dest_user_id",
                            "dest_device_id", "event_id"))
EVENT = {"_time": "1595251792123", "event_id": "1", "process_name": "cmd.exe", "process": "cmd /c x",
         "process_path": "C:\\cmd.exe", "parent_process_name": "C:\\explorer.exe", "dest_user_id": "bob",
         "dest_device_id": "h1", "process_hash": "MD5=1,SHA1=2", "process_id": 5, "parent_process_id": 4,
         "process_guid": "{A}", "parent_process_guid": "{B}", "parent_process": "explorer.exe"}
DOCUMENT = ocsf.from_enriched(EVENT)


def assert_same(documents: list, keys: frozenset[str] = EVERY_KEY) -> None:
    """The decoder serves these lines, with the events and counts of the whole-event path."""
    lines = [orjson.dumps(document) for document in documents]
    decoded = OcsfDecoder(keys).decode_block(b"\n".join(lines) + b"\n")
    assert decoded is not None, "declined"
    converter, expected = InputConverter("auto"), InputConverter("auto")
    fast = converter.convert(decoded).shape("ssa")
    slow = expected.convert([orjson.loads(line) for line in lines]).shape("ssa")
    assert (converter.lines, converter.skipped) == (expected.lines, expected.skipped)
    assert len(fast) == len(slow)
    for key in keys:
        assert orjson.dumps(fast.key(key).tolist()) == orjson.dumps([event.get(key) for event in slow]), key


def with_path(document: dict, path: tuple[str, ...], value) -> dict:
    """A copy of the document with `value` at `path` (levels made as needed)."""
    copy = json.loads(json.dumps(document))
    node = copy
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node.get(key), dict) or key not in node else node[key]
        if not isinstance(node, dict):
            return copy
    node[path[-1]] = value
    return copy


@functools.lru_cache(maxsize=1)
def corpus_documents() -> list[dict]:
    """The OCSF documents of every process creation in the corpus, as --output-format would write them."""
    documents = []
    for path in sorted(RAW.glob("*/*.jsonl.gz")):
        for line in gzip.open(path):
            found, _ = read_process_creation(orjson.loads(line))
            if found is not None:
                documents.append(ocsf.from_process_creation(found))
    return documents


def test_documents_with_odd_values_read_as_the_whole_event_path_reads_them():
    odd = [
        (("process",), "a text"), (("process",), None), (("process",), [1]), (("actor", "process"), 5),
        (("process", "file", "name"), ""), (("process", "file", "name"), None), (("process", "file", "path"), 7),
        (("process", "user"), {}), (("process", "user"), {"x": 1}), (("process", "user"), "text"),
        (("process", "user"), {"name": "Eve"}), (("process", "user"), {"name": 5, "uuid": ""}),
        (("actor", "user"), {"uuid": "u2"}), (("process", "file", "hashes"), [{"algorithm": "MD5"}, 3, None]),
        (("process", "file", "hashes"), "MD5=1"), (("process", "file", "hashes"), []),
        (("class_uid",), 1007.0), (("class_uid",), "1007"), (("class_uid",), 1001), (("time",), "12"),
        (("time",), None), (("metadata", "event_code"), 4688), (("metadata", "event_code"), None),
        (("metadata",), "text"), (("device", "uuid"), ""), (("device", "uuid"), None), (("device",), []),
        (("process", "pid"), 2**63 - 1),
    ]
    assert_same([DOCUMENT] + [with_path(DOCUMENT, path, value) for path, value in odd]
                + [{"class_uid": 1007}, {"class_uid": None, "process": {}}])


@pytest.mark.parametrize("path, value", [
    (("process", "cmd_line"), 1.5), (("process", "cmd_line"), ["a"]), (("time",), True), (("time",), 2**64),
    (("process",), 2**64), (("process", "user"), {"uuid": ["a", "list"]}), (("class_uid",), 1e400),
], ids=["float", "list", "bool", "beyond int64", "object beyond int64", "uuid a list", "beyond double"])
def test_a_value_of_another_type_declines_the_block(path, value):
    # json: orjson writes no integer beyond 64 bits; nor does either write 1e400.
    line = json.dumps(with_path(DOCUMENT, path, value)).encode() if value != 1e400 else \
        orjson.dumps(DOCUMENT).replace(b'"class_uid":1007', b'"class_uid":1e400')
    assert OcsfDecoder(EVERY_KEY).decode_block(orjson.dumps(DOCUMENT) + b"\n" + line + b"\n") is None


@pytest.mark.parametrize("other", [
    {"process_name": "cmd.exe"}, {"input_event": DOCUMENT}, {**DOCUMENT, "EventID": 1}, {**DOCUMENT, "_raw": "x"},
    {**DOCUMENT, "winlog": {}}, {**DOCUMENT, "event_data": {}}, {**DOCUMENT, "EventId": 1},
], ids=["ssa", "stream record", "EventID", "_raw", "winlog", "event_data", "EventId"])
def test_a_block_holding_another_shape_is_declined(other):
    block = b"\n".join([orjson.dumps(DOCUMENT), orjson.dumps(other)]) + b"\n"
    assert OcsfDecoder(EVERY_KEY).decode_block(block) is None


@needs_raw
def test_the_corpus_as_ocsf_reads_as_the_whole_event_path_reads_it():
    documents = corpus_documents()
    assert len(documents) > 10_000
    for first in range(0, len(documents), 1024):
        assert_same(documents[first:first + 1024])


def test_the_projected_decoder_serves_ocsf_then_flat_blocks():
    decoder = ProjectedDecoder(REFERENCE_KEYS, "auto")
    flat = orjson.dumps(EVENT) + b"\n"
    document = orjson.dumps(DOCUMENT) + b"\n"
    served = [decoder.decode_block(block) for block in (flat, document, document, flat)]
    assert [found.kind for found in served] == [None, "ocsf", "ocsf", None]
    assert served[1].key("process_name").tolist() == ["cmd.exe"]


@needs_raw
@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_reference_search_gives_the_same_bytes_as_whole_events(tmp_path, workers):
    path = tmp_path / "ocsf.jsonl"
    lines = [orjson.dumps(document) for document in corpus_documents()]
    odd = orjson.dumps(with_path(DOCUMENT, ("process", "cmd_line"), 1.5))  # a block on the whole-event path
    with open(path, "wb") as out:  # changes of shape between blocks
        out.write(b"\n".join(lines[:5000]) + b"\n" + odd + b"\n" + orjson.dumps(EVENT) + b"\n"
                  + b"\n".join(lines[5000:]) + b"\n")
    fast = cli_in_process("run", REFERENCE, "--input", path, "--no-progress", "--workers", workers)
    plain = cli_in_process("run", REFERENCE, "--input", path, "--no-progress", "--whole-events")
    assert fast.returncode == plain.returncode == 0, fast.err + plain.err
    assert fast.stdout == plain.stdout and fast.stdout.count(b"\n") > 10
