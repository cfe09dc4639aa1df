"""`--engine flink` and `compile --to flink`: the logical plan lowered to a Flink SQL script.

- compile-time behaviour (the script's parts, the E0405 diagnostics, the event schema) runs in the
  plain suite: it needs neither PyFlink nor Java;
- the runs on PyFlink's local mini-cluster are marked `flink` (deselected by the plain `pytest` run,
  see pyproject's addopts; CI runs them as their own step: `pytest -m flink tests/test_backend_flink.py`)
  and compare with the Python engine's bytes: the reference detection, one search with every
  stateless command kind, one with every streaming model, and the tests/cases that lower.
"""
from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path

import pytest

from conftest import REFERENCE, cli_in_process
from spl_lite import Search
from spl_lite.backends.flink import (compile_for_file, compile_plan, infer_schema, parse_schema, run_script,
                                     run_scripts)
from spl_lite.core.errors import NOT_LOWERED, SplError
from spl_lite.io.jsonl import encode_record
from spl_lite.plan.program import plan_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "process_creation.jsonl"
CASES_DIR = Path(__file__).parent / "cases"



def on_flink(test):
    """A test that runs a job on the mini-cluster: marked `flink`, skipped saying why without PyFlink or Java."""
    for mark in (
        pytest.mark.flink,
        pytest.mark.skipif(importlib.util.find_spec("pyflink") is None,
                           reason="PyFlink is not installed: pip install 'spl-lite[flink]'"),
        pytest.mark.skipif(shutil.which("java") is None, reason="no Java on PATH (the mini-cluster needs Java 17)"),
    ):
        test = mark(test)
    return test


# Every stateless command kind, and first_time_event, over the example events.
STATELESS = r"""
| from read_ssa_enriched_events()
| eval parent = lower(ucast(map_get(input_event, "parent_process_name"), "string", null)), pid = ucast(map_get(input_event, "process_id"), "long", null), user = ucast(map_get(input_event, "dest_user_id"), "string", "nobody")
| where pid > 1000 AND parent like "%.exe"
| rex field=parent "(?<dir>.*)\\\\(?<exe>[^\\\\]+)$"
| eval tag = concat([exe, "#", pid]), half = pid / 2, rem = pid % 7, shell = exe IN ("cmd.exe", "powershell.exe"), c = match_regex(exe, /^C/i), none = coalesce(null, user)
| rename exe AS parent_exe
| fields - dir
| first_time_event input_columns="user,parent_exe" output_column="is_new"
| eval swapped = replace(parent_exe, /(?<stem>\w+)\.(EXE)$/i, "-[.]"), band = if(pid > 4000, "high", if(pid > 2000, "mid", null)), odd = if(rem > 3, 1.5, null)
| eval ms = parse_long(ucast(map_get(input_event, "_time"), "string", null)), at = strftime(ms, "%Y-%m-%dT%H:%M:%S.%3Q%:z %A %j"), at_ny = strftime(ms * 1.5, "%s %6N %Z", "America/New_York")
| eval pd = parse_double(concat([pid, ".5e1d"])), bad_pd = parse_double(user), pid_text = cast(pid, "string"), shell_text = cast(shell, "string"), pid_again = cast(pid_text, "long"), floored = cast(odd, "long"), flag = cast(band = "high", "boolean")
| select user, parent_exe, tag, half, rem, shell, c, none, is_new, -pid * 3 + 1 AS d, swapped, band, odd, at, at_ny, pd, bad_pd, pid_text, shell_text, pid_again, floored, flag
| into write_ssa_detected_events();
"""

# conditional_anomaly, and adaptive_threshold both ways (entity, windows, thresholds); a nested map of the
# model's outputs, which Flink plans although they come from a Python function (a call of its own).
MODELS = r"""
| from read_ssa_enriched_events()
| eval ts = parse_long(ucast(map_get(input_event, "_time"), "string", null)), parent = lower(ucast(map_get(input_event, "parent_process_name"), "string", null)), process = lower(ucast(map_get(input_event, "process_name"), "string", null)), user = ucast(map_get(input_event, "dest_user_id"), "string", null)
| conditional_anomaly conditional="parent" target="process"
| eval input = ln(output), rank_input = output
| adaptive_threshold algorithm="gaussian" entity="user" value="input" timestamp="ts" window=2000L threshold=0.05
| rename label AS gaussian_label
| adaptive_threshold algorithm="quantile" value="rank_input" timestamp="ts" window=5000L
| eval body = create_map("model", create_map("quantile", quantile, "label", label), "mean", mean)
| fields parent, process, user, output, mean, variance, gaussian_label, quantile, label, body
| into write_ssa_detected_events();
"""


# Searches writing the whole event: keys in their order, numbers, escapes, lines that are no event.
NASTY_EVENTS = "\n".join([
    r'{"z":1,"a":{"y":2,"b":[1,{"k":0.1,"c":null}]},"n":1e20,"m":-0.0,"u":"\u00e9\ud83d\ude00\n","process_id":5000,'
    r'"_datamodels":["Endpoint_Processes","X"],"process_name":"C:\\a\\cmd.exe"}',
    "not json", "", "[1,2]",
    '{"process_id":7000,"_datamodels":"not a list","process_name":"b.exe","f":1.5E+3}',
    '{"process_id":9000,"process_name":null,"e":{}}',
]) + "\n"
WHOLE_EVENT = r"""
| from read_ssa_enriched_events()
| where ucast(map_get(input_event, "process_id"), "long", null) > 1000
| eval in_model = "Endpoint_Processes" IN (_datamodels), name = ucast(map_get(input_event, "process_name"), "string", null), m = [create_map("b", 1, "a", 2.5, "c", name), create_map("b", 2, "a", 0.1, "c", "x")], inf = 1.0e300 * 1.0e300, backslash = like(name, "%\\cmd.exe")
| into write_ssa_detected_events();
"""
# Over the example: lists of maps, `_datamodels` and a key of string lists read, like with backslashes.
WHOLE_EXAMPLE = r"""
| from read_ssa_enriched_events()
| where "Endpoint_Processes" IN (_datamodels) AND ucast(map_get(input_event, "process_id"), "long", null) > 2000
| eval parent = ucast(map_get(input_event, "parent_process_name"), "string", null), models = map_get(input_event, "_datamodels")
| eval shell = like(parent, "%\\cmd.exe") OR like(parent, "C:\\Windows\\%\\powershell.exe"), listed = "x" IN (models)
| eval body = create_map(["parent", parent, "actors", [create_map("role_ids", [5], "value", parent), create_map("role_ids", [6], "value", null)]])
| into write_ssa_detected_events();
"""


# The functions and values lowered since the first G1 run: len over characters beyond the BMP, cidrmatch (a
# Python function), x[i] of lists, mixed lists and maps, input_event.key, {}, [] and mixed lists written,
# mvappend of a list and of nulls only, the source's body, from_json_object of null.
VALUES_EVENTS = "\n".join([
    r'{"process_name":"cmd.exe","parent_process_name":"C:\\x\\explorer.exe","dest_device_ips":["10.1.2.3","8.8.8.8"]}',
    r'{"process_name":"\ud83d\ude00a\ud83d\ude00","dest_device_ips":["192.168.1.1"]}',
    r'{"process_name":null,"parent_process_name":"p","dest_device_ips":[]}',
    r'{"process_name":"\u00e9t\u00e9","parent_process_name":"p2","dest_device_ips":["not an ip","10.0.0.1"]}',
    r'{"process_name":"x"}',
]) + "\n"
VALUES = r"""
| from read_ssa_enriched_events()
| eval name = ucast(map_get(input_event, "process_name"), "string", null), ips = ucast(map_get(input_event, "dest_device_ips"), "collection<string>", []), parent = input_event.parent_process_name
| eval n = len(name), first_ip = ips[0], last_ip = ips[-1], beyond = ips[5], private = cidrmatch("10.0.0.0/8", first_ip), last_private = cidrmatch(ip: last_ip, cidr_range: "10.0.0.0/8"), bad_block = cidrmatch("10.0.0.0/33", first_ip)
| eval mixed = ["count", n, create_map("a", 1)], second = mixed[1], last = mixed[-1], gone = mixed[7], picked = create_map("k", name)["k"], none = {}, nothing = [], both = mvappend([name, parent], null), nulls = mvappend(null, null), body_text = cast(body, "string"), parsed = from_json_object(null)
| select name, parent, n, first_ip, last_ip, beyond, private, last_private, bad_block, mixed, second, last, gone, picked, none, nothing, both, nulls, body_text, parsed, body
| into write_ssa_detected_events();
"""
# Records reaching write_null are computed and discarded: nothing is written.
DISCARDED = r"""
| from read_ssa_enriched_events()
| eval name = ucast(map_get(input_event, "process_name"), "string", null)
| first_time_event input_columns="name"
| into write_null();
"""


# Every aggregation that lowers, sliding windows with grace, over events out of order (late records), with
# fractional and missing times.
WINDOWS = r"""
| from read_ssa_enriched_events()
| eval ts = parse_long(ucast(map_get(input_event, "_time"), "string", null)), pid = ucast(map_get(input_event, "process_id"), "long", null), user = ucast(map_get(input_event, "dest_user_id"), "string", null)
| eval t = if(pid % 5 = 0, ts + 0.75, if(pid % 11 = 0, null, ts * 1.0)), x = pid / 7.0
| stats count() AS n, count(user) AS users, sum(pid) AS s, sum(x) AS sx, avg(pid) AS a, min(user) AS lo, max(x) AS hi, dc(user) AS d, first(pid) AS f, last(user) AS l BY user, span(t, 2h, 30m, 10m)
| where n > 1
| into write_ssa_detected_events();
"""


# adaptive_threshold after tumbling windows (with grace, late records): the windows in the engine's order.
WINDOWS_IN_ORDER = r"""
| from read_ssa_enriched_events()
| eval ts = parse_long(ucast(map_get(input_event, "_time"), "string", null)), pid = ucast(map_get(input_event, "process_id"), "long", null), user = ucast(map_get(input_event, "dest_user_id"), "string", null)
| stats count() AS n, sum(pid) AS s BY user, span(ts, 1h, 1h, 20m)
| eval v = n * 1.0
| adaptive_threshold algorithm="gaussian" entity="user" value="v" timestamp="window_end" window=86400000L threshold=0.2
| rename label AS gaussian_label
| adaptive_threshold algorithm="quantile" value="s" timestamp="window_start" window=36000000L
| into write_ssa_detected_events();
"""


def shuffled_events(path: Path, count: int = 600) -> Path:
    """`count` generated events, each moved up to 40 places from its own (records late by up to hours)."""
    import random
    import subprocess
    import sys

    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate_events.py"), "--events", str(count),
                    "--days", "2", "--output", str(path)], check=True)
    lines = path.read_bytes().splitlines(keepends=True)
    order = sorted(range(len(lines)), key=lambda i: i + random.Random(i).uniform(0, 40))
    path.write_bytes(b"".join(lines[i] for i in order))
    return path


def case_text(case: Path) -> str:
    return (case / "search.spl").read_text(encoding="utf-8")


def lowers(text: str, events: Path) -> bool:
    try:
        compile_for_file(plan_text(text), str(events))
    except SplError as error:
        assert error.code == NOT_LOWERED, error.render(text, "search")
        return False
    return True


LOWERED_CASES = [c.name for c in sorted(CASES_DIR.iterdir())
                 if c.is_dir() and lowers(case_text(c), c / "events.jsonl")]


def python_bytes(text: str, path: Path) -> bytes:
    return b"".join(encode_record(r) for r in Search.compile(text).run_files([str(path)]))


def flink_job(text: str, path: Path) -> tuple:
    """(the script of `text` over `path`, the path): one entry of a job for run_scripts."""
    return compile_for_file(plan_text(text), str(path)), str(path)


def flink_bytes(text: str, path: Path) -> bytes:
    return b"".join(encode_record(r) for r in run_script(*flink_job(text, path)))


# ---- compile time (no Flink needed) ----
def test_script_holds_source_kafka_template_sink_functions_and_insert():
    script = compile_for_file(plan_text(REFERENCE.read_text(encoding="utf-8")), str(EXAMPLE)).text()
    assert "SET 'parallelism.default' = '1';" in script  # order-sensitive commands
    assert "CREATE TEMPORARY TABLE `spl_events` (\n  `_time` STRING," in script
    assert "'connector' = 'filesystem'" in script and "'path' = '{input}'" in script
    assert "--   WATERMARK FOR `event_time`" in script and "--   'connector' = 'kafka'," in script
    assert "CREATE TEMPORARY TABLE `spl_output` (\n  `line` STRING\n)" in script and "'format' = 'raw'" in script
    assert "CREATE TEMPORARY SYSTEM FUNCTION spl_adaptive_gaussian AS " \
           "'spl_lite.engine.flink_functions.adaptive_gaussian' LANGUAGE PYTHON;" in script
    assert "COUNT(*) OVER (PARTITION BY" in script  # conditional_anomaly's running counts
    assert "INSERT INTO `spl_output`\nSELECT '{\"__ord\":' || " in script.rsplit(";", 2)[1]  # the last statement


def test_stateless_search_may_run_wide():
    text = "| from read_ssa_enriched_events() | eval p = ucast(map_get(input_event, \"process_id\"), \"long\", null) " \
           "| where p > 5 | select p | into write_ssa_detected_events();"
    script = compile_plan(plan_text(text), parse_schema("process_id:long"))
    assert not script.ordered and "SET 'parallelism" not in script.text()
    assert "`process_id` BIGINT" in script.text()


@pytest.mark.parametrize("text, problem", [
    ("| from read_ssa_enriched_events() | eval t = 1, d = \"x\" | stats count() AS n BY d, span(t, 10m, 5m) "
     "| eval v = n * 1.0 | adaptive_threshold algorithm=\"quantile\" value=\"v\" timestamp=\"window_end\" "
     "window=1000L | into write_ssa_detected_events();", "command `adaptive_threshold` after `stats`"),
    (case_text(CASES_DIR / "stats_windows_close_as_event_time_passes"), "`union` after `stats`"),
    ("$a = | from read_ssa_enriched_events() | eval x = 1; $b = | from $a | eval y = 2;\n"
     "| from $a | union $b | into write_ssa_detected_events();", "`union` of branches with different fields"),
    ("$a = | from read_ssa_enriched_events() | eval x = 1; $b = | from $a | eval x = 2;\n"
     "| from $a | union $b | first_time_event input_columns=\"x\" output_column=\"new\" "
     "| into write_ssa_detected_events();", "command `first_time_event` after `union`"),
    ("| from read_ssa_enriched_events() | eval t = parse_long(ucast(map_get(input_event, \"_time\"), \"string\", "
     "null)), s = strftime(t, \"%Y\") | eval body = create_map(\"at\", s, \"m\", create_map(\"x\", 1)) "
     "| into write_ssa_detected_events();", "a map holding both a map and a value a Python function computes"),
    ("| from read_ssa_enriched_events() | eval t = 1, d = \"x\" | stats count() AS n BY d, span(t, 10m) "
     "| first_time_event input_columns=\"d\" output_column=\"new\" | into write_ssa_detected_events();",
     "command `first_time_event` after `stats`"),
    ("| from read_ssa_enriched_events() | eval t = 1, v = 1 | stats values(v) AS vs BY span(t, 1m) "
     "| into write_ssa_detected_events();", "`stats` aggregation `values`"),
    ("| from source() | where x = 1 | into write_ssa_detected_events();", "source `source`"),
    ("| from read_ssa_enriched_events() | where input_event = 1 | into write_ssa_detected_events();",
     "the source's field `input_event` as a value"),
    ("| from read_ssa_enriched_events() | eval n = replace(ucast(map_get(input_event, \"a\"), \"string\", null), "
     "/(a)/, \"$1\") | select n | into write_ssa_detected_events();", "`replace` with `$`"),
    ("| from read_ssa_enriched_events() | eval n = substr(ucast(map_get(input_event, \"a\"), \"string\", null), 1) "
     "| select n | into write_ssa_detected_events();", "function `substr`"),
    ("| from read_ssa_enriched_events() | eval m = from_json_object(ucast(map_get(input_event, \"a\"), \"string\", "
     "null)) | select m | into write_ssa_detected_events();", "from_json_object of a value of kind string"),
    ("| from read_ssa_enriched_events() | eval m = [\"a\", 1], l = ucast(m, \"collection<string>\", null) "
     "| select l | into write_ssa_detected_events();", "ucast of a list of items of different kinds"),
])
def test_what_does_not_lower_is_a_positioned_diagnostic(text, problem):
    try:
        plan = plan_text(text)
    except SplError as error:  # a search the language itself refuses is no test of the lowering
        pytest.fail(error.render(text, "q.spl"))
    with pytest.raises(SplError) as caught:
        compile_plan(plan, {})
    assert caught.value.code == NOT_LOWERED
    assert problem in caught.value.message and "does not lower to Flink" in caught.value.message
    assert caught.value.span is not None


def test_windows_before_adaptive_threshold_close_at_the_end_of_the_input():
    script = compile_plan(plan_text(WINDOWS_IN_ORDER), parse_schema("process_id:long"))
    assert "WATERMARK FOR `rt` AS `rt` - INTERVAL '0.001' SECOND" in script.source_ddl
    assert "FROM TABLE(TUMBLE(TABLE" in script.text() and "ORDER BY `pt`, `__ord`, " in script.text()
    assert not script.changelog  # the windows' rows are final: no updates to apply
    plain = compile_plan(plan_text(WINDOWS), parse_schema("process_id:long"))  # nothing order-sensitive after
    assert "`rt`" not in plain.text() and plain.changelog


def test_write_null_is_a_blackhole_sink():
    script = compile_plan(plan_text(DISCARDED), {})
    assert "'connector' = 'blackhole'" in script.sink_ddl and "{output}" not in script.text()
    assert script.insert.startswith("INSERT INTO `spl_output`")


def test_the_whole_event_is_read_as_lines_only_when_written():
    keys = compile_plan(plan_text(STATELESS), parse_schema("process_id:long")).text()
    assert "'format' = 'json'" in keys and "JSON_VALUE" not in keys  # typed columns: no JSON parsed per key
    whole = compile_plan(plan_text(WHOLE_EVENT), parse_schema("process_id:long")).text()
    assert "CREATE TEMPORARY TABLE `spl_events` (\n  `line` STRING," in whole and "IS JSON OBJECT" in whole
    with pytest.raises(SplError) as caught:  # JSON_QUERY would give the inner event with its keys sorted
        compile_plan(plan_text(WHOLE_EVENT), {}, wrapped=True)
    assert "writing the source's field `input_event` of events wrapped" in caught.value.message


def test_a_key_of_several_kinds_cannot_be_declared(tmp_path):
    events = tmp_path / "e.jsonl"
    events.write_text('{"n": 1}\n{"n": "one"}\n', encoding="utf-8")
    with pytest.raises(SplError) as caught:
        infer_schema(str(events), ["n"])
    assert "key `n`" in caught.value.message and "int, string" in caught.value.message


def test_cli_compile_to_flink(tmp_path):
    done = cli_in_process("compile", REFERENCE, "--to", "flink")
    assert done.returncode == 0, done.err
    assert done.out.count("CREATE TEMPORARY VIEW") >= 10 and "INSERT INTO `spl_output`" in done.out
    bad = cli_in_process("compile", REFERENCE, "--to", "flink", "--input-schema", "process_id:int64")
    assert bad.returncode != 0 and "--input-schema: `process_id:int64` is not key:type" in bad.err
    search = tmp_path / "q.spl"
    search.write_text("| from source()\n| into write_ssa_detected_events();\n", encoding="utf-8")
    refused = cli_in_process("compile", search, "--to", "flink")
    assert refused.returncode != 0
    assert "error[E0405]: source `source` does not lower to Flink" in refused.err and "q.spl:1:3" in refused.err


# ---- on the mini-cluster ----
@on_flink
def test_reference_detection_same_14_records_through_the_cli(tmp_path):
    out = tmp_path / "out.jsonl"
    done = cli_in_process("run", "--engine", "flink", REFERENCE, "--input", EXAMPLE, "--output", out)
    assert done.returncode == 0, done.err
    expected = python_bytes(REFERENCE.read_text(encoding="utf-8"), EXAMPLE)
    assert out.read_bytes() == expected and expected.count(b"\n") == 14


@on_flink
@pytest.mark.parametrize("text", [STATELESS, MODELS], ids=["stateless_commands", "streaming_models"])
def test_command_kinds_same_bytes(text):
    expected = python_bytes(text, EXAMPLE)
    assert expected.count(b"\n") > 100  # the search keeps records: a real comparison
    assert flink_bytes(text, EXAMPLE) == expected


NOW = "| from read_ssa_enriched_events() | eval now = time() | select now | into write_ssa_detected_events();"


@on_flink
def test_values_and_write_null_same_bytes(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text(VALUES_EVENTS, encoding="utf-8")
    expected = python_bytes(VALUES, events)
    assert expected.count(b"\n") == 5 and b'"n":3' in expected and b'"private":true' in expected
    assert b'"mixed":["count",7,{"a":1}]' in expected and b'"none":{}' in expected and b'"nothing":[]' in expected
    jobs = [flink_job(VALUES, events), flink_job(DISCARDED, EXAMPLE), flink_job(NOW, events)]
    before = time.time() * 1000
    values, discarded, now = run_scripts(jobs)
    after = time.time() * 1000
    assert b"".join(map(encode_record, values)) == expected
    assert discarded == [] and python_bytes(DISCARDED, EXAMPLE) == b""
    # time() is the processing time, read while the job runs: no two engines agree on its value.
    assert len(now) == 5 and all(type(r["now"]) is int and before <= r["now"] <= after for r in now)


@on_flink
def test_windows_same_bytes_on_shuffled_events(tmp_path):
    events = shuffled_events(tmp_path / "events.jsonl")
    expected = [python_bytes(text, events) for text in (WINDOWS, WINDOWS_IN_ORDER)]
    assert expected[0].count(b"\n") > 20 and expected[1].count(b"\n") > 20 and b'"label":true' in expected[1]
    jobs = [flink_job(text, events) for text in (WINDOWS, WINDOWS_IN_ORDER)]
    assert [b"".join(map(encode_record, records)) for records in run_scripts(jobs)] == expected


@on_flink
def test_whole_events_same_bytes(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text(NASTY_EVENTS, encoding="utf-8")
    expected = python_bytes(WHOLE_EVENT, events)
    assert expected.count(b"\n") == 3 and b'"m":0.0' in expected and b'"inf":null' in expected
    assert flink_bytes(WHOLE_EVENT, events) == expected
    expected = python_bytes(WHOLE_EXAMPLE, EXAMPLE)
    assert expected.count(b"\n") > 100 and b'"shell":true' in expected and b'"shell":false' in expected
    assert flink_bytes(WHOLE_EXAMPLE, EXAMPLE) == expected


@pytest.fixture(scope="module")
def cases_on_flink() -> dict[str, bytes]:
    """Every tests/cases case that lowers, run as one Flink job (one INSERT each): its bytes by case."""
    jobs = []
    for case in LOWERED_CASES:
        events = CASES_DIR / case / "events.jsonl"
        jobs.append(flink_job(case_text(CASES_DIR / case), events))
    results = run_scripts(jobs)
    return {case: b"".join(map(encode_record, records)) for case, records in zip(LOWERED_CASES, results)}


@on_flink
@pytest.mark.parametrize("case", LOWERED_CASES)
def test_cases_that_lower_same_bytes(case, cases_on_flink):
    directory = CASES_DIR / case
    assert cases_on_flink[case] == python_bytes(case_text(directory), directory / "events.jsonl")

