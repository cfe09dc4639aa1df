"""The `spl-lite` command: exit codes, stdout/stderr, input forms. What needs a real process (the module
runnable, --help and usage errors through argparse's exit, paths relative to the checkout, deep
recursion) runs as one (`cli`); the rest calls the same main() in-process (`cli_in_process`), without
an interpreter start each."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import orjson
import pytest

from conftest import EXAMPLE, REFERENCE, ROOT, cli, cli_in_process

SEARCH = """\
| from read_ssa_enriched_events()
| eval n = map_get(input_event, "n")
| where n > 1
| select n
| into write_ssa_detected_events();
"""

BAD_SEARCH = '| from read_ssa_enriched_events()\n| eval x = lowr("A")\n| into write_ssa_detected_events();\n'


def records(text: str) -> list[dict]:
    return [orjson.loads(line) for line in text.splitlines()]


def events_file(path: Path, ns, extra_lines: tuple[str, ...] = ()) -> Path:
    lines = [orjson.dumps({"n": n}).decode() for n in ns] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def search(tmp_path: Path) -> Path:
    path = tmp_path / "search.spl"
    path.write_text(SEARCH)
    return path


@pytest.fixture
def bad_search(tmp_path: Path) -> Path:
    path = tmp_path / "bad.spl"
    path.write_text(BAD_SEARCH)
    return path


# ---- basics ------------------------------------------------------------------------------------

def test_cli_module_is_runnable_and_reports_its_version():
    source = (ROOT / "spl_lite" / "cli.py").read_text()
    assert 'if __name__ == "__main__":' in source
    result = cli("--version")
    assert result.returncode == 0
    assert result.out.startswith("spl-lite ")


@pytest.mark.parametrize("args", [("--help",), ("run", "--help")])
def test_help_shows_examples_and_exit_codes(args):
    result = cli(*args)
    assert result.returncode == 0
    assert "examples:" in result.out
    assert "spl-lite run " in result.out and "--input -" in result.out
    assert "exit codes:" in result.out


def test_no_command_is_a_usage_error():
    result = cli()
    assert result.returncode == 2
    assert "usage:" in result.err


@pytest.mark.parametrize("size", ["0", "-5"])
def test_a_batch_size_below_one_is_a_usage_error(size, search):
    result = cli("run", str(search), "--input", "-", "--batch-size", size, stdin=b'{"a": 1}\n')
    assert result.returncode == 2
    assert "--batch-size: must be 1 or more" in result.err


# ---- check -------------------------------------------------------------------------------------

def test_check_ok(search):
    result = cli_in_process("check", search)
    assert result.returncode == 0
    assert result.out == f"{search}: ok\n"
    assert result.err == ""


def test_check_failing_renders_the_diagnostic_on_stderr(bad_search):
    result = cli_in_process("check", bad_search)
    assert result.returncode == 1
    assert result.out == ""
    assert result.err == (
        "error[E0201]: unknown function `lowr`\n"
        f" --> {bad_search}:2:12\n"
        "  |\n"
        '2 | | eval x = lowr("A")\n'
        "  |            ^^^^ did you mean `lower`?\n"
    )


def test_check_renders_exactly_like_the_error_snapshots():
    result = cli("check", "tests/errors/error_on_line_3.spl")
    assert result.returncode == 1
    assert result.err == (ROOT / "tests" / "errors" / "error_on_line_3.txt").read_text()


def test_check_several_files_reports_each_and_fails_if_any_fails(search, bad_search):
    result = cli_in_process("check", search, bad_search)
    assert result.returncode == 1
    assert result.out == f"{search}: ok\n"
    assert "unknown function `lowr`" in result.err


def test_check_json_shape(search, bad_search):
    result = cli_in_process("check", "--json", search, bad_search)
    assert result.returncode == 1
    good, bad = records(result.out)
    assert good == {"path": str(search), "ok": True, "diagnostics": []}
    assert list(bad)[:3] == ["path", "ok", "diagnostics"]
    assert bad["path"] == str(bad_search) and bad["ok"] is False
    (diagnostic,) = bad["diagnostics"]
    assert {"code", "message", "line", "column"} <= set(diagnostic) <= {"code", "message", "line", "column", "hint"}
    assert diagnostic["code"] == "E0201"
    assert diagnostic["message"] == "unknown function `lowr`"
    assert (diagnostic["line"], diagnostic["column"]) == (2, 12)
    assert result.err == ""  # --json keeps stderr clean


def test_check_missing_file_is_a_clear_error(tmp_path):
    result = cli_in_process("check", tmp_path / "nope.spl")
    assert result.returncode != 0
    assert "cannot read search" in result.err and "nope.spl" in result.err


def test_check_a_directory_checks_every_search_under_it(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.spl").write_text(SEARCH)
    (tmp_path / "sub" / "b.spl").write_text(BAD_SEARCH)
    (tmp_path / "notes.txt").write_text("not a search")
    result = cli_in_process("check", "--json", tmp_path)
    assert [(Path(r["path"]).name, r["ok"]) for r in records(result.out)] == [("a.spl", True), ("b.spl", False)]
    assert result.returncode == 1


# ---- explain -----------------------------------------------------------------------------------

def test_explain_prints_one_line_per_plan_node(search):
    result = cli_in_process("explain", search)
    assert result.returncode == 0
    lines, reading = result.out.split("\n\n")
    lines = lines.splitlines()
    assert reading.startswith("reading: ")
    assert len(lines) == 5
    assert [line.split()[:2] for line in lines] == [
        ["#0", "from"], ["#1", "eval"], ["#2", "where"], ["#3", "select"], ["#4", "into"],
    ]
    assert lines[2].startswith("#2 where n > 1 <- #1 =>")
    assert lines[3].endswith("=> n")


def test_explain_prints_the_physical_plan_after_the_logical_one(tmp_path):
    reference = REFERENCE
    physical = cli_in_process("explain", reference).out.split("\n\n")[-1].splitlines()
    assert physical == [
        "reading: only the keys _time, dest_device_id, dest_user_id, event_id, parent_process_name, process, "
        "process_name of each event (projected); deferred: dest_device_id, dest_user_id, event_id, process "
        "(decoded only for the records still there when they are read)",
        "running: one process (no --input given)",
        "filter #6 is applied before #5 (it reads nothing #5 sets)",
    ]
    events = EXAMPLE
    parallel = cli_in_process("explain", reference, "--input", events, "--workers", "2").out.splitlines()
    assert "running: 2 worker processes run nodes #0-#4, and the filter #6 after #5; " \
           "the main process runs the rest in input order" in parallel
    written = tmp_path / "written.spl"
    written.write_text('| from read_ssa_enriched_events() | eval n = map_get(input_event, "n") | into write_ssa_detected_events();')
    assert cli_in_process("explain", written).out.split("\n\n")[-1].startswith(
        "reading: only the keys n of each event (projected); whole events decoded only for the records that reach")
    whole = tmp_path / "whole.spl"
    whole.write_text('| from read_ssa_enriched_events() | eval n = input_event.n | into write_ssa_detected_events();')
    assert cli_in_process("explain", whole).out.split("\n\n")[-1].startswith("reading: whole events")


def test_explain_json_holds_both_plans_and_the_logical_plan_round_trips():
    from spl_lite import Search
    from spl_lite.plan.logical import Plan

    reference = REFERENCE
    document = json.loads(cli_in_process("explain", "--json", reference).out)
    (search,) = document["searches"]
    assert [node["command"] for node in search["logical"]][:3] == ["from", "eval", "eval"]
    assert document["physical"]["reading"]["mode"] == "projected"
    assert document["physical"]["early_filters"] == [{"5": 6}]
    plan = Search.compile(reference.read_text()).plan
    assert Plan.from_json(search["logical"]) == plan
    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))).explain() == plan.explain()


def test_explain_of_a_broken_search_prints_the_diagnostic(bad_search):
    result = cli_in_process("explain", bad_search)
    assert result.returncode == 1
    assert result.out == ""
    assert result.err.startswith("error[E0201]: unknown function `lowr`")


# ---- run: inputs -------------------------------------------------------------------------------

def test_run_with_an_input_file(search, tmp_path):
    events = events_file(tmp_path / "events.jsonl", [1, 2, 3])
    result = cli_in_process("run", search, "--input", events)
    assert result.returncode == 0
    assert result.out == '{"n":2}\n{"n":3}\n'
    assert result.err == ""  # stderr is not a terminal: no progress, no summary


def test_run_with_a_glob_reads_matches_in_sorted_order(search, tmp_path):
    events_file(tmp_path / "b.jsonl", [5])
    events_file(tmp_path / "a.jsonl", [4])
    events_file(tmp_path / "c.txt", [6])
    result = cli_in_process("run", search, "--input", str(tmp_path / "*.jsonl"))
    assert result.returncode == 0
    assert records(result.out) == [{"n": 4}, {"n": 5}]


def test_run_with_several_inputs_and_gzip(search, tmp_path):
    plain = events_file(tmp_path / "one.jsonl", [2])
    packed = tmp_path / "two.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"n": 3}\n{"n": 1}\n{"n": 4}\n'))
    result = cli_in_process("run", search, "--input", plain, packed)
    assert result.returncode == 0
    assert records(result.out) == [{"n": 2}, {"n": 3}, {"n": 4}]


def test_run_reads_events_from_stdin(search):
    result = cli_in_process("run", search, "--input", "-", stdin=b'{"n": 7}\n{"n": 0}\n\n{"n": 8}\n')
    assert result.returncode == 0
    assert records(result.out) == [{"n": 7}, {"n": 8}]


def test_run_reads_the_search_from_stdin(tmp_path):
    events = events_file(tmp_path / "events.jsonl", [1, 2])
    result = cli_in_process("run", "-", "--input", events, stdin=SEARCH.encode())
    assert result.returncode == 0
    assert records(result.out) == [{"n": 2}]


def test_run_with_envelope_lines(tmp_path):
    search = tmp_path / "s.spl"
    search.write_text('| from read_ssa_enriched_events() | select input_event, _datamodels, body;')
    events = tmp_path / "e.jsonl"
    events.write_text('{"input_event": {"n": 1, "_datamodels": ["Y"]}, "_datamodels": ["X"]}\n')
    result = cli_in_process("run", search, "--input", events)
    # _datamodels comes from the event, as the production source takes it (spec 7.1).
    assert records(result.out) == [{"input_event": {"n": 1, "_datamodels": ["Y"]}, "_datamodels": ["Y"], "body": {}}]


def test_run_output_file(search, tmp_path):
    events = events_file(tmp_path / "events.jsonl", [1, 2, 3])
    out = tmp_path / "out.jsonl"
    result = cli_in_process("run", search, "--input", events, "--output", out)
    assert result.returncode == 0
    assert result.out == ""
    assert out.read_text() == '{"n":2}\n{"n":3}\n'


def test_run_skips_broken_lines_with_file_and_line_and_goes_on(search, tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"n": 2}\n{"n": 5\n[1, 2]\n{"n": 3}\n')
    result = cli_in_process("run", search, "--input", events)
    assert result.returncode == 0
    assert records(result.out) == [{"n": 2}, {"n": 3}]
    warnings = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert f"{events}:2:" in warnings[0] and "invalid JSON" in warnings[0]
    assert f"{events}:3:" in warnings[1] and "JSON object" in warnings[1]
    assert "2 bad lines skipped" in result.err  # the summary counts them even without --progress


def test_run_missing_input_file_exits_3_with_a_clear_message(search, tmp_path):
    out = tmp_path / "out.jsonl"
    result = cli_in_process("run", search, "--input", tmp_path / "missing.jsonl", "--output", out)
    assert result.returncode == 3
    assert result.out == ""
    assert "missing.jsonl" in result.err
    assert result.err.startswith("error[E0501]:")
    assert not out.exists()  # nothing was truncated or created


def test_run_missing_search_file_exits_3(tmp_path):
    events = events_file(tmp_path / "events.jsonl", [1])
    result = cli_in_process("run", tmp_path / "nope.spl", "--input", events)
    assert result.returncode == 3
    assert "cannot read search" in result.err


def test_run_unwritable_output_exits_3(search, tmp_path):
    events = events_file(tmp_path / "events.jsonl", [1])
    result = cli_in_process("run", search, "--input", events, "--output", tmp_path / "no" / "such" / "dir.jsonl")
    assert result.returncode == 3
    assert "cannot write" in result.err


def test_run_with_a_broken_search_exits_1_before_reading(bad_search, tmp_path):
    result = cli_in_process("run", bad_search, "--input", tmp_path / "missing.jsonl")
    assert result.returncode == 1
    assert result.err.startswith("error[E0201]: unknown function `lowr`")
    assert f"--> {bad_search}:2:12" in result.err


# ---- run: progress and summaries --------------------------------------------------------------

def test_progress_flag_prints_a_summary(search, tmp_path):
    events = events_file(tmp_path / "events.jsonl", [1, 2, 3])
    result = cli_in_process("run", search, "--input", events, "--progress")
    assert result.returncode == 0
    assert records(result.out) == [{"n": 2}, {"n": 3}]
    # The progress line is redrawn with `\r` + erase-line before the summary replaces it.
    summary = result.err.replace("\r", "").replace("\x1b[K", "").strip().splitlines()[-1]
    assert summary.startswith("spl-lite: 3 events in, 2 records out")
    assert "events/s" in summary


def test_no_progress_output_when_stderr_is_not_a_terminal(search, tmp_path):
    events = events_file(tmp_path / "events.jsonl", range(5000))
    result = cli_in_process("run", search, "--input", events, "--batch-size", "10")
    assert result.returncode == 0
    assert len(result.out.splitlines()) == 4998
    assert result.err == ""


def test_no_progress_flag_still_shows_warnings(search, tmp_path):
    events = events_file(tmp_path / "events.jsonl", [2], extra_lines=("oops",))
    result = cli_in_process("run", search, "--input", events, "--no-progress")
    assert result.returncode == 0
    assert f"{events}:2:" in result.err


def test_record_errors_are_summarised_on_stderr(tmp_path):
    search = tmp_path / "s.spl"
    search.write_text('| from read_ssa_enriched_events() | eval x = lower(map_get(input_event, "n")) | select x;')
    events = events_file(tmp_path / "events.jsonl", [1, 2])
    result = cli_in_process("run", search, "--input", events)
    assert result.returncode == 0
    assert records(result.out) == [{"x": None}, {"x": None}]
    assert "could not be computed" in result.err
    assert "lower needs a string" in result.err


def test_a_deeply_nested_expression_never_gives_a_traceback(tmp_path):
    search = tmp_path / "deep.spl"
    search.write_text("| from source | eval x = " + " + ".join(["y"] * 600))
    events = tmp_path / "e.jsonl"
    events.write_text('{"y": 1}\n')
    result = cli("run", search, "--input", events)  # cli() asserts there is no traceback
    assert result.returncode in (0, 1)
