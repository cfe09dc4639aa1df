"""`spl-lite test`: cases made in tmp_path pass, fail, err and xfail as documented; exit codes,
the summary line, -k and the JUnit file."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest

from spl_lite.cli import main
from spl_lite.driver.testing import lookup, matches, same_value

ROOT = Path(__file__).resolve().parents[1]
EVENTS = [
    {"_time": "1000", "process_name": "powershell.exe", "host": "a"},
    {"_time": "2000", "process_name": "notepad.exe", "host": "b"},
    {"_time": "3000", "process_name": "powershell.exe", "host": "b"},
]
SEARCH = (
    '| from read_ssa_enriched_events()\n'
    '| eval process_name = ucast(map_get(input_event, "process_name"), "string", null),\n'
    '    host = ucast(map_get(input_event, "host"), "string", null)\n'
    '| where process_name = "powershell.exe"\n'
    '| eval body = create_map(["process_name", process_name, "host", host])\n'
    '| select process_name, host, body\n'
    '| into write_ssa_detected_events();\n'
)
EXPECTED = (
    b'{"process_name":"powershell.exe","host":"a","body":{"process_name":"powershell.exe","host":"a"}}\n'
    b'{"process_name":"powershell.exe","host":"b","body":{"process_name":"powershell.exe","host":"b"}}\n'
)


def make_case(directory: Path, toml: str | None = None, expected: bytes | None = EXPECTED,
              search: str = SEARCH, xfail: str | None = None) -> Path:
    directory.mkdir(parents=True)
    (directory / "search.spl").write_text(search)
    (directory / "events.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in EVENTS))
    if expected is not None:
        (directory / "expected.jsonl").write_bytes(expected)
    if toml is not None:
        (directory / "case.toml").write_text(toml)
    if xfail is not None:
        (directory / "xfail.txt").write_text(xfail)
    return directory


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["test", *argv])
    return code, capsys.readouterr().out


def test_a_directory_layout_case_passes(tmp_path, capsys):
    make_case(tmp_path / "plain")
    code, out = run(capsys, str(tmp_path))
    assert code == 0
    assert out.splitlines()[-2:] == [f"PASS {tmp_path / 'plain'}", "1 passed, 0 failed"]


def test_case_toml_assertions_pass(tmp_path, capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "detection.spl").write_text(SEARCH)
    make_case(tmp_path / "cases" / "asserts", expected=None, toml=(
        '# counts, flagged and not_flagged, dotted names into maps\n'
        'search = "../../shared/detection.spl"\n'
        'input = ["*.jsonl"]\n'
        'args = ["--input-format", "auto"]\n'
        '[expect]\n'
        'count = 2\n'
        'min_count = 1\n'
        '[[expect.flagged]]\n'
        'process_name = "powershell.exe"\n'
        '"body.host" = "b"\n'
        '[[expect.not_flagged]]\n'
        'process_name = "notepad.exe"\n'
    ))
    code, out = run(capsys, str(tmp_path / "cases"))
    assert (code, out.splitlines()[-1]) == (0, "1 passed, 0 failed"), out


def test_a_wrong_record_fails_with_a_unified_diff(tmp_path, capsys):
    make_case(tmp_path / "wrong", expected=EXPECTED.replace(b'"host":"b"}}', b'"host":"c"}}'))
    code, out = run(capsys, str(tmp_path))
    assert code == 1
    assert f"FAIL {tmp_path / 'wrong'}" in out
    assert "--- " in out and "+++ actual output" in out
    assert '-{"process_name":"powershell.exe","host":"b","body":{"process_name":"powershell.exe","host":"c"}}' in out
    assert '+{"process_name":"powershell.exe","host":"b","body":{"process_name":"powershell.exe","host":"b"}}' in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"


def test_failed_assertions_say_which_and_show_the_records(tmp_path, capsys):
    make_case(tmp_path / "asserts", expected=None, toml=(
        '[expect]\ncount = 5\n'
        '[[expect.flagged]]\nprocess_name = "cmd.exe"\n'
        '[[expect.not_flagged]]\n"body.host" = "a"\n'
    ))
    code, out = run(capsys, str(tmp_path))
    assert code == 1
    assert "expected count = 5, got 2 records:" in out
    assert 'expected some record with process_name = "cmd.exe"; none has it' in out
    assert 'expected no record with body.host = "a"; 1 have it' in out
    assert '"host":"a"' in out


@pytest.mark.parametrize("toml, message", [
    ('serch = "x.spl"\n[expect]\ncount = 1\n', "unknown key `serch`"),
    ('[expect]\ncuont = 1\n', "unknown key `expect.cuont`"),
    ('search = "missing.spl"\n[expect]\ncount = 1\n', "search file `missing.spl` not found"),
    ('input = ["nothing/*.jsonl"]\n[expect]\ncount = 1\n', "input `nothing/*.jsonl` matches no file"),
    ('[expect]\nrecords = "nope.jsonl"\n', "expected records `nope.jsonl` not found"),
    ('search = \n', "not valid TOML"),
    ('[expect]\ncount = "two"\n', "`expect.count` must be a whole number"),
])
def test_a_bad_case_toml_is_an_error_naming_the_file(tmp_path, capsys, toml, message):
    make_case(tmp_path / "bad", expected=None, toml=toml)
    code, out = run(capsys, str(tmp_path))
    assert code == 1
    assert f"ERROR {tmp_path / 'bad'}" in out
    assert f"{tmp_path / 'bad' / 'case.toml'}: " in out and message in out
    assert out.splitlines()[-1] == "0 passed, 0 failed, 1 errors"


def test_a_search_that_does_not_plan_is_an_error_with_the_diagnostic(tmp_path, capsys):
    make_case(tmp_path / "broken", search="| from read_ssa_enriched_events() | evl x = 1")
    code, out = run(capsys, str(tmp_path))
    assert code == 1
    assert "ERROR" in out and "spl-lite run exited with 1" in out and "evl" in out


def test_xfail_case_that_fails_is_xfail_and_one_that_passes_is_a_failure(tmp_path, capsys):
    make_case(tmp_path / "known_bug", expected=b"{}\n", xfail="the engine disagrees with the spec")
    code, out = run(capsys, str(tmp_path))
    assert code == 0
    assert f"XFAIL {tmp_path / 'known_bug'}" in out
    assert out.splitlines()[-1] == "0 passed, 0 failed, 1 xfailed"

    make_case(tmp_path / "fixed", xfail="was wrong once")
    code, out = run(capsys, str(tmp_path))
    assert code == 1
    assert f"FAIL {tmp_path / 'fixed'}" in out and "expected to fail" in out and "but passed" in out


def test_k_selects_cases_by_substring(tmp_path, capsys):
    make_case(tmp_path / "alpha")
    make_case(tmp_path / "beta", expected=b"{}\n")
    code, out = run(capsys, "-k", "alph", str(tmp_path))
    assert code == 0
    assert "alpha" in out and "beta" not in out.replace(str(tmp_path), "")


def test_junit_file(tmp_path, capsys):
    make_case(tmp_path / "cases" / "good")
    make_case(tmp_path / "cases" / "bad", expected=b"{}\n")
    make_case(tmp_path / "cases" / "ugly", expected=None, toml="bogus = 1\n")
    make_case(tmp_path / "cases" / "known", expected=b"{}\n", xfail="reason")
    junit = tmp_path / "results.xml"
    code, _ = run(capsys, "--junit", str(junit), str(tmp_path / "cases"))
    assert code == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("4", "1", "1", "1")
    outcomes = {Path(c.get("name")).name: [child.tag for child in c] for c in suite.iter("testcase")}
    assert outcomes == {"bad": ["failure"], "good": [], "known": ["skipped"], "ugly": ["error"]}
    failure = suite.find("testcase/failure")
    assert "records differ" in failure.get("message") and "+++ actual output" in failure.text


def test_no_cases_is_said(tmp_path, capsys):
    code, out = run(capsys, str(tmp_path))
    assert code == 0
    assert "no test cases" in out and out.splitlines()[-1] == "0 passed, 0 failed"


def test_the_shipped_cases_pass():
    """`spl-lite test tests/cases`: every case passes except the one marked xfail."""
    import io

    from spl_lite.driver.testing import main as run_tests

    out = io.StringIO()
    assert run_tests([str(ROOT / "tests" / "cases")], main, out=out) == 0
    lines = out.getvalue().splitlines()
    marked = len(list((ROOT / "tests" / "cases").glob("*/xfail.txt")))
    assert sum(line.startswith("XFAIL ") for line in lines) == marked
    assert sum(line.startswith("PASS ") for line in lines) >= 40
    assert ", 0 failed" in lines[-1]


def test_values_compare_as_json_does():
    assert same_value(1, 1.0) and not same_value(True, 1) and not same_value(1, "1")
    record = {"body": {"process": {"name": "x"}}, "a.b": 2}
    assert lookup(record, "body.process.name") == "x" and lookup(record, "a.b") == 2
    assert matches(record, {"body.process.name": "x", "a.b": 2})
    assert not matches(record, {"body.missing": None})
