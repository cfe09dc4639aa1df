"""DSP connector sources (issue 14, item 17): `from pulsar(<connection>, <topic>)`, the production
form of the SSA source (spec 7.1), and the other connectors read the --input events as `value`,
with a notice, instead of stopping with a diagnostic."""
from __future__ import annotations

from conftest import EXAMPLE, REFERENCE, cli_in_process

PRODUCTION_SOURCE = (
    '| from pulsar("ssa-connection", "ssa-enriched-events") | eval input_event=deserialize_json_object(value) '
    '| select input_event | eval _datamodels=ucast(map_get(input_event, "_datamodels"), "collection<string>", []), '
    "body={} "
)


def test_the_reference_detection_in_its_production_form_gives_the_same_detections(tmp_path):
    text = REFERENCE.read_text()
    assert text.startswith("| from read_ssa_enriched_events() ")
    production = tmp_path / "production.spl"
    production.write_text(PRODUCTION_SOURCE + text[len("| from read_ssa_enriched_events() "):])
    expected = cli_in_process("run", REFERENCE, "--input", EXAMPLE)
    result = cli_in_process("run", production, "--input", EXAMPLE)
    assert result.returncode == 0, result.err
    assert result.out == expected.out and result.out.count("\n") == 14
    assert result.err.count("`pulsar` is a DSP connector; here it reads the --input events") == 1


def test_the_connector_notice_is_said_once_a_run_with_workers_and_several_searches(tmp_path):
    """Each worker range starts its row ids at 0, and each search reads the source: still one notice."""
    events = tmp_path / "e.jsonl"
    events.write_bytes(b"".join(b'{"process_name": "p%d.exe", "pad": "%s"}\n' % (i % 7, b"x" * 300)
                                for i in range(12_000)))  # over 4 MiB: several ranges per worker
    searches = []
    for n in (1, 2):
        searches.append(tmp_path / f"s{n}.spl")
        searches[-1].write_text('| from pulsar("c", "t") | eval e = deserialize_json_object(value) '
                                f'| where map_get(e, "process_name") = "p{n}.exe" | select e;')
    for options in (("--workers", "3"), ("--workers", "1")):
        result = cli_in_process("run", *searches, "--input", events, "--output-dir", tmp_path / options[1], *options)
        assert result.returncode == 0, result.err
        assert result.err.count("`pulsar` is a DSP connector") == 1, result.err
    for search in searches:
        written = (tmp_path / "3" / f"{search.stem}.jsonl").read_bytes()
        assert written == (tmp_path / "1" / f"{search.stem}.jsonl").read_bytes() and written.count(b"\n") > 1000


def test_every_connector_reads_value(tmp_path):
    events = tmp_path / "e.jsonl"
    events.write_text('{"process_name": "cmd.exe"}\n')
    for call in ("pulsar(\"c\", \"t\")", "read_pulsar(\"c\", \"t\")", "read_kafka(\"c\", \"t\")", "kafka(\"c\", \"t\")",
                 "read_kinesis(\"c\", \"s\")", "kinesis(\"c\", \"s\")", "read_event_hubs(\"c\", \"h\", \"g\")"):
        search = tmp_path / "s.spl"
        search.write_text(f"| from {call} | eval e = deserialize_json_object(value) | select e;")
        result = cli_in_process("run", search, "--input", events)
        assert result.returncode == 0, (call, result.err)
        assert result.out == '{"e":{"process_name":"cmd.exe"}}\n', call


def test_connector_arguments_must_be_literals_and_other_sources_take_none(tmp_path):
    search = tmp_path / "s.spl"
    search.write_text("| from pulsar(conn, \"t\") | select value;")
    result = cli_in_process("check", search)
    assert result.returncode == 1 and "must be literals" in result.err
    search.write_text("| from read_ssa_enriched_events(\"x\") | select input_event;")
    result = cli_in_process("check", search)
    assert result.returncode == 1 and "takes no arguments" in result.err
    search.write_text("| from pulsar(\"c\", \"t\") | select value;")
    assert cli_in_process("check", search).returncode == 0
