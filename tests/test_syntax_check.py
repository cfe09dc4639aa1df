"""`check` that knows the fields (issue 17): warnings for fields that cannot exist, literal type
errors, every error of a file, `--strict`, `spl-lite fields`, a BOM; and XOR (issue 14 item 16).

tests/warnings/<name>.spl must plan with exactly the diagnostics of its plan rendered in
tests/warnings/<name>.txt (rewrite them with UPDATE_SNAPSHOTS=1, as tests/test_errors.py): the
warnings, and the literal type errors that `check` fails on but `run` runs (null, spec 5.2)."""
from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from conftest import cli_in_process
from spl_lite import Search, SplError
from spl_lite.plan.program import diagnose
from spl_lite.syntax.format import format_program
from spl_lite.syntax.parse import parse

WARNINGS = Path(__file__).parent / "warnings"
CASES = sorted(WARNINGS.glob("*.spl"))
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


def warnings_of(text: str) -> list[SplError]:
    return list(Search.compile(text).plan.warnings)


def rendered_warnings(spl: Path) -> str:
    text = spl.read_text(encoding="utf-8")
    found = warnings_of(text)
    assert found, f"{spl.name} plans without a warning"
    return "".join(w.render(text, f"tests/warnings/{spl.name}") + "\n" for w in found)


@pytest.mark.parametrize("spl", CASES, ids=[c.stem for c in CASES])
def test_warning_matches_snapshot(spl: Path):
    got = rendered_warnings(spl)
    snapshot = spl.with_suffix(".txt")
    if UPDATE:
        snapshot.write_text(got, encoding="utf-8")
        return
    assert got == snapshot.read_text(encoding="utf-8")
    assert got.startswith(("warning[W0201]: ", "error[E0302]: "))


SOURCE = "| from read_ssa_enriched_events() "
EXTRACT = '| eval process_name = ucast(map_get(input_event, "process_name"), "string", null) '


def test_no_warning_where_the_fields_are_there():
    assert warnings_of(SOURCE + EXTRACT + '| where process_name = "a" | select process_name;') == []


def test_a_field_read_before_it_is_set_is_a_warning_with_the_fields_there():
    (warning,) = warnings_of(SOURCE + '| where process_name = "cmd.exe";')
    assert warning.severity == "warning" and warning.code == "W0201"
    assert warning.notes == ["the fields here are: input_event, _datamodels, body"]
    assert 'map_get(input_event, "process_name")' in warning.hint
    assert warning.span.column == len(SOURCE) + len("| where ") + 1


def test_a_misspelt_field_gets_a_did_you_mean():
    (warning,) = warnings_of(SOURCE + EXTRACT + "| select proces_name;")
    assert warning.hint == "did you mean `process_name`?"


def test_eval_sees_its_own_earlier_assignments_and_not_later_ones():
    assert warnings_of(SOURCE + "| eval a = 1, b = a + 1;") == []
    (warning,) = warnings_of(SOURCE + "| eval b = a + 1, a = 1;")
    assert "`a`" in warning.message


def test_dotted_paths_check_their_first_part_only():
    assert warnings_of(SOURCE + "| where input_event.process_name = 1 AND body.x.y = 2;") == []
    (warning,) = warnings_of(SOURCE + "| where process.file.name = 1;")
    assert "`process.file.name`" in warning.message


def test_unknown_fields_are_not_checked():
    """`from source` (G4): each event's own keys are the fields; nothing is known before running."""
    assert warnings_of("| from source | where anything = 1 | stats count() AS n BY x, span(timestamp, 5m) | where n > 1;") == []


def test_names_bound_by_for_each_are_not_fields():
    text = SOURCE + '| eval xs = for_each(iterator(_datamodels, "m"), lower(m));'
    assert warnings_of(text) == []


def test_adaptive_threshold_and_conditional_anomaly_arguments_are_checked():
    text = SOURCE + '| eval n = 1 | adaptive_threshold value="m" timestamp="n" | conditional_anomaly conditional="n" target="x";'
    messages = [w.message for w in warnings_of(text)]
    assert messages == [
        "field `m` does not exist here, so `adaptive_threshold` reads null",
        "field `x` does not exist here, so `conditional_anomaly` reads null",
    ]


def test_a_field_dropped_by_stats_is_a_warning_after_it():
    text = SOURCE + EXTRACT + "| eval t = 1 | stats count() AS n BY process_name, span(t, 5m) | where t > 0;"
    (warning,) = warnings_of(text)
    assert "`t`" in warning.message and "window_start" in warning.notes[0]
    assert warning.notes[1] == "`t` was there before `stats` on line 1, which does not pass it on"
    assert warning.hint is None  # not "the event's keys are inside input_event"


# ---- literal type errors ----

@pytest.mark.parametrize("call", ['substr("abc", "one")', 'log("ten")', 'log(1, "two")', 'lower(5)'])
def test_a_literal_the_function_never_takes_is_an_error_of_check(call, tmp_path):
    (found,) = warnings_of(SOURCE + f"| eval x = {call};")
    assert (found.code, found.severity) == ("E0302", "error")
    search = tmp_path / "t.spl"
    search.write_text(SOURCE + f"| eval x = {call} | select x;\n")
    assert cli_in_process("check", search).returncode == 1
    ran = cli_in_process("run", search, "--input", "-", stdin=b"{}\n")  # spec 5.2: null, and counted
    assert ran.returncode == 0 and orjson.loads(ran.out) == {"x": None}
    assert "warning[E0302]" in ran.err


@pytest.mark.parametrize("call", ['substr("abc", 1)', 'log(10)', 'map_get(input_event, "a")', 'parse_long("x")',
                                  'cidrmatch("10.0.0.0/8", body)', 'mvrange(0, 1000000000, 100000000)'])
def test_literals_it_may_take_are_not_errors(call):
    assert warnings_of(SOURCE + f"| eval x = {call};") == []


# ---- every error of a file ----

MANY = """\
$a = | from read_ssa_enriched_events() | evl x = lower(body);
| from $a | into write_null();
| from read_ssa_enriched_events() | eval y = lowr(body) | into write_null();
| from read_ssa_enriched_events() | stats count() AS n BY span(t, 10 minutes) | into write_null();
| from read_ssa_enriched_events() | where process_name = 1 | into write_null();
"""


def test_diagnose_finds_every_error_and_no_consequence_of_one():
    errors, warnings = diagnose(MANY)
    assert [(e.code, e.span.line) for e in errors] == [("E0202", 1), ("E0201", 3), ("E0101", 4)]
    assert [(w.code, w.span.line) for w in warnings] == [("W0201", 5)]


def test_check_prints_every_error_and_run_stops_at_the_first(tmp_path):
    search = tmp_path / "many.spl"
    search.write_text(MANY)
    result = cli_in_process("check", search)
    assert result.returncode == 1
    assert [line.split(":")[0] for line in result.err.splitlines() if line.startswith(("error", "warning"))] == [
        "error[E0202]", "error[E0201]", "error[E0101]", "warning[W0201]"]
    ran = cli_in_process("run", search, "--input", "-", stdin=b"{}\n")
    assert ran.returncode == 1 and ran.err.count("error[") == 1


def test_check_json_has_every_diagnostic(tmp_path):
    search = tmp_path / "many.spl"
    search.write_text(MANY)
    (record,) = [orjson.loads(line) for line in cli_in_process("check", "--json", search).out.splitlines()]
    assert record["ok"] is False
    assert [d["code"] for d in record["diagnostics"]] == ["E0202", "E0201", "E0101", "W0201"]
    assert record["diagnostics"][-1]["severity"] == "warning"


# ---- warnings in check and run, --strict ----

def test_warnings_leave_check_ok_unless_strict(tmp_path):
    search = tmp_path / "w.spl"
    search.write_text(SOURCE + '| where process_name = "cmd.exe";\n')
    result = cli_in_process("check", search)
    assert result.returncode == 0
    assert result.out == f"{search}: ok (1 warning)\n"
    assert result.err.startswith("warning[W0201]: field `process_name` does not exist here")
    strict = cli_in_process("check", "--strict", search)
    assert strict.returncode == 1 and strict.out == ""
    assert strict.err.startswith("error[W0201]: ")
    (record,) = [orjson.loads(line) for line in cli_in_process("check", "--strict", "--json", search).out.splitlines()]
    assert record["ok"] is False and record["diagnostics"][0]["code"] == "W0201"


def test_run_prints_warnings_before_reading(tmp_path):
    search = tmp_path / "w.spl"
    search.write_text(SOURCE + '| where process_name = "cmd.exe";\n')
    result = cli_in_process("run", search, "--input", "-", stdin=b'{"process_name": "cmd.exe"}\n')
    assert result.returncode == 0 and result.out == ""
    assert "warning[W0201]" in result.err


# ---- spl-lite fields ----

def test_fields_prints_each_node_with_its_output_fields(tmp_path):
    search = tmp_path / "f.spl"
    search.write_text(SOURCE + EXTRACT + "| select process_name | into write_ssa_detected_events();\n")
    result = cli_in_process("fields", search)
    assert result.returncode == 0
    assert result.out == (
        "#0 from => input_event, _datamodels, body\n"
        "#1 eval <- #0 => input_event, _datamodels, body, process_name\n"
        "#2 select <- #1 => process_name\n"
        "#3 into <- #2 => -\n"
    )


def test_fields_of_a_search_with_an_error_is_the_diagnostic(tmp_path):
    search = tmp_path / "f.spl"
    search.write_text(SOURCE + "| eval x = lowr(body);\n")
    result = cli_in_process("fields", search)
    assert result.returncode == 1 and "unknown function `lowr`" in result.err


# ---- a byte-order mark ----

def test_a_utf8_bom_at_the_start_of_a_search_file_is_accepted(tmp_path):
    search = tmp_path / "bom.spl"
    search.write_bytes(b"\xef\xbb\xbf" + (SOURCE + EXTRACT + "| into write_ssa_detected_events();\n").encode())
    result = cli_in_process("check", search)
    assert result.returncode == 0, result.err
    assert Search.compile("\ufeff" + SOURCE + ";") is not None


# ---- XOR ----

def xor_column(expression: str, events: list[dict]) -> list:
    text = (SOURCE + '| eval a = map_get(input_event, "a"), b = map_get(input_event, "b"), '
            f"r = {expression} | select r;")
    return [record["r"] for record in Search.compile(text).run(events)]


def test_xor_is_kleene():
    events = [{"a": a, "b": b} for a in (True, False, None) for b in (True, False, None)]
    assert xor_column("a XOR b", events) == [False, True, None, True, False, None, None, None, None]


def test_xor_binds_loosest():
    events = [{"a": True, "b": False}]
    assert xor_column("a XOR b OR true", events) == [False]  # a XOR (b OR true)
    assert xor_column("true OR a XOR true", events) == [False]  # (true OR a) XOR true
    assert xor_column("NOT a XOR a", events) == [True]  # (NOT a) XOR a


def test_xor_formats_and_reparses_to_the_same_tree():
    text = SOURCE + "| where (a XOR b) AND c XOR d OR e;"
    formatted = format_program(parse(text), text)
    assert "(a XOR b) AND c XOR d OR e" in formatted
    assert format_program(parse(formatted), formatted) == formatted
