"""`spl-lite fmt`: what it prints parses to the same tree, formatting twice changes nothing, and the
layout is the documented one (snapshots below)."""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import orjson
import pytest

from spl_lite.cli import main
from spl_lite.core.errors import SplError
from spl_lite.syntax.format import comments_of, format_program, format_text, without_spans
from spl_lite.syntax.parse import parse

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "searches.jsonl"
# Parsing is what costs (about 3 s per MB of search text, and each text is parsed twice), so by
# default a fixed sample of the corpus is checked: every latest text, then others in a fixed
# shuffled order until this much text. SPL_LITE_FMT_FULL_CORPUS=1 checks all 2,400.
CORPUS_BUDGET_CHARS = 1_200_000
FULL_CORPUS = os.environ.get("SPL_LITE_FMT_FULL_CORPUS") == "1"

sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))


def _problems(text: str) -> str | None:
    """Why `text` breaks a formatter property, or None if it holds (or the text does not parse)."""
    try:
        program = parse(text)
    except SplError:
        return None
    formatted = format_program(program, text)
    reparsed = parse(formatted)
    if without_spans(reparsed) != without_spans(program):
        return "parse(fmt(x)) != parse(x)"
    if format_program(reparsed, formatted) != formatted:
        return "fmt(fmt(x)) != fmt(x)"
    return None


def _corpus_sample(rows: list[dict]) -> list[dict]:
    if FULL_CORPUS:
        return rows
    latest = [r for r in rows if r.get("is_latest")]
    others = [r for r in rows if not r.get("is_latest")]
    random.Random(17).shuffle(others)
    chosen, size = [], 0
    for row in latest + others:
        if size + len(row["search"]) > CORPUS_BUDGET_CHARS:
            continue
        chosen.append(row)
        size += len(row["search"])
    return chosen


@pytest.mark.skipif(not CORPUS.exists(), reason=f"the corpus is not there ({CORPUS}): the clone has no ../shared")
@pytest.mark.corpus  # a corpus-wide comparison: CI's corpus step (pyproject addopts)
def test_corpus_round_trips_and_is_stable():
    rows = [orjson.loads(line) for line in CORPUS.read_bytes().splitlines()]
    sample = _corpus_sample(rows)
    assert len(sample) >= (len(rows) if FULL_CORPUS else 300)
    failures = []
    for row in sample:
        problem = _problems(row["search"])
        if problem:
            failures.append(f"{row['id']} ({row['generation']}): {problem}")
    assert failures == []


CASE_SEARCHES = sorted((ROOT / "tests" / "cases").glob("*/search.spl")) + sorted((ROOT / "searches").rglob("*.spl"))


@pytest.mark.parametrize("path", CASE_SEARCHES, ids=lambda p: str(p.relative_to(ROOT)))
def test_case_searches_round_trip_and_are_stable(path: Path):
    text = path.read_text(encoding="utf-8")
    parse(text)  # every case search parses
    assert _problems(text) is None


CASES = sorted(p for p in (ROOT / "tests" / "cases").glob("*") if (p / "search.spl").exists())


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_formatted_case_searches_give_the_same_records(case: Path):
    """Beyond the tree: output field names made from expression text must not change."""
    from spl_lite import Search
    from spl_lite.io.jsonl import encode_record

    def output(text: str) -> bytes:
        records = Search.compile(text).run_files([str(case / "events.jsonl")])
        return b"".join(encode_record(r) for r in records)

    text = (case / "search.spl").read_text(encoding="utf-8")
    assert output(format_text(text)) == output(text)


def test_expressions_that_name_fields_are_kept_as_written():
    text = "| from source | select lower( x ), x AS y, COUNT(z) | stats COUNT( x ), max(y) AS m BY h, span(t, 1m) | into sink"
    assert format_text(text) == (
        "| from source\n"
        "| select lower( x ), x AS y, COUNT(z)\n"
        "| stats COUNT( x ), max(y) AS m BY h, span(t, 1m)\n"
        "| into sink;\n"
    )


# ---- layout snapshots ----
def test_one_command_a_line_and_canonical_spacing():
    text = 'from read_ssa_enriched_events()|eval a=lower( x ),b = 1+2*3|where a=="x" and not b>2 |into write_null()'
    assert format_text(text) == (
        "| from read_ssa_enriched_events()\n"
        "| eval a = lower(x), b = 1 + 2 * 3\n"
        '| where a = "x" AND NOT b > 2\n'
        "| into write_null();\n"
    )


def test_long_or_chain_one_term_a_line_with_nested_and_block():
    names = " OR ".join(f'process_name="tool{i}.exe"' for i in range(6))
    text = f'| from source | where parent="cmd.exe" AND ({names}) | into sink'
    assert format_text(text) == (
        "| from source\n"
        '| where parent = "cmd.exe"\n'
        "    AND (\n"
        '        process_name = "tool0.exe"\n'
        '        OR process_name = "tool1.exe"\n'
        '        OR process_name = "tool2.exe"\n'
        '        OR process_name = "tool3.exe"\n'
        '        OR process_name = "tool4.exe"\n'
        '        OR process_name = "tool5.exe"\n'
        "    )\n"
        "| into sink;\n"
    )


def test_long_in_list_is_filled_and_long_eval_is_one_assignment_a_line():
    names = ", ".join(f'"program{i}.exe"' for i in range(12))
    text = f"| from source | where process_name IN ({names}) | eval a = 1, b = \"{'x' * 90}\" | into sink"
    assert format_text(text) == (
        "| from source\n"
        "| where process_name IN (\n"
        '    "program0.exe", "program1.exe", "program2.exe", "program3.exe", "program4.exe", "program5.exe",\n'
        '    "program6.exe", "program7.exe", "program8.exe", "program9.exe", "program10.exe", "program11.exe"\n'
        ")\n"
        "| eval\n"
        "    a = 1,\n"
        f'    b = "{"x" * 90}"\n'
        "| into sink;\n"
    )


def test_statements_bindings_union_stats_and_generic_commands():
    text = (
        "$a = | from read_ssa_enriched_events() | eval n = 1;"
        "$b = | from read_ssa_enriched_events();"
        "| from $a | union $b | stats count() as n, max(x) by host, span(timestamp, 10m) "
        "| adaptive_threshold algorithm = \"quantile\" window=604800000L threshold=0.01 "
        "| rex field=cmd /(?<enc>[A-Za-z0-9+\\/=]{20,})/i | into write_ssa_detected_events();"
    )
    assert format_text(text) == (
        "$a = | from read_ssa_enriched_events()\n"
        "| eval n = 1;\n"
        "\n"
        "$b = | from read_ssa_enriched_events();\n"
        "\n"
        "| from $a\n"
        "| union $b\n"
        "| stats count() AS n, max(x) BY host, span(timestamp, 10m)\n"
        '| adaptive_threshold algorithm="quantile" window=604800000L threshold=0.01\n'
        "| rex field=cmd /(?<enc>[A-Za-z0-9+\\/=]{20,})/i\n"
        "| into write_ssa_detected_events();\n"
    )


def test_literals_keep_their_spelling_and_quoted_names_are_quoted_only_where_needed():
    text = (
        '| from source | eval s = "a\\tb\\d", n = 604800000L, f = 1.5F, e = 1e3, d = 10m, '
        "m = {\"k\": [1, -2]}, `a b` = 'plain', r = replace(x, /\\s+/, \" \"), k = concat(values: [a, b]), "
        "i = x[-1] | fields - 'from'"
    )
    assert format_text(text) == (
        "| from source\n"
        "| eval\n"
        '    s = "a\\tb\\d",\n'
        "    n = 604800000L,\n"
        "    f = 1.5F,\n"
        "    e = 1e3,\n"
        "    d = 10m,\n"
        '    m = {"k": [1, -2]},\n'
        "    `a b` = plain,\n"
        '    r = replace(x, /\\s+/, " "),\n'
        "    k = concat(values: [a, b]),\n"
        "    i = x[-1]\n"
        "| fields - `from`;\n"
    )


def test_parentheses_only_where_precedence_needs_them():
    text = "| from source | eval a = (x - (y - z)), b = ((x * y)) + -(-w), c = NOT (p OR q), d = (NOT p) AND q, e = x NOT LIKE \"a%\""
    out = format_text(text)
    assert "a = x - (y - z)" in out
    assert "b = x * y + -(-w)" in out
    assert "c = NOT (p OR q)" in out
    assert "d = NOT p AND q" in out
    assert 'e = x NOT LIKE "a%"' in out


def test_comments_are_kept_where_they_stand():
    text = (
        "/* what it finds */\n"
        "| from source /* all events */\n"
        "| eval a = 1 /* inside */, b = 2\n"
        "/* before where */\n"
        "| where a = 1 | into sink; /* after */\n"
    )
    out = format_text(text)
    assert out == (
        "/* what it finds */\n"
        "| from source /* all events */\n"
        "/* inside */\n"
        "| eval a = 1, b = 2\n"
        "/* before where */\n"
        "| where a = 1\n"
        "| into sink; /* after */\n"
    )
    assert format_text(out) == out


def test_comment_lookalikes_in_strings_are_not_comments():
    text = '| from source | where s = "/* no */" | into sink'
    assert comments_of(text) == []
    assert '"/* no */"' in format_text(text)


# ---- the command ----
def test_fmt_check_lists_files_that_would_change(tmp_path, capsys):
    messy = tmp_path / "messy.spl"
    messy.write_text("| from source|where a=1|into sink")
    tidy = tmp_path / "tidy.spl"
    tidy.write_text(format_text("| from source | into sink"))
    assert main(["fmt", "--check", str(messy), str(tidy)]) == 1
    out = capsys.readouterr().out
    assert f"would reformat {messy}" in out and str(tidy) not in out
    assert messy.read_text() == "| from source|where a=1|into sink"  # unchanged
    assert main(["fmt", "--check", str(tidy)]) == 0


def test_fmt_rewrites_in_place_and_directories_mean_their_spl_files(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    target = tmp_path / "sub" / "a.spl"
    target.write_text("| from source|where a=1|into sink")
    assert main(["fmt", str(tmp_path)]) == 0
    assert target.read_text() == "| from source\n| where a = 1\n| into sink;\n"
    assert "reformatted" in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.spl"]  # no temporary left behind
    assert main(["fmt", "--check", str(tmp_path)]) == 0


def test_fmt_diff_prints_a_unified_diff_without_writing(tmp_path, capsys):
    target = tmp_path / "a.spl"
    target.write_text("| from source|into sink")
    assert main(["fmt", "--diff", str(target)]) == 0
    out = capsys.readouterr().out
    assert "-| from source|into sink" in out and "+| from source" in out and "+| into sink;" in out
    assert target.read_text() == "| from source|into sink"


def test_fmt_reads_stdin_and_writes_stdout(monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("| from source|into sink"))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == "| from source\n| into sink;\n"


def test_fmt_reports_a_syntax_error_and_leaves_the_file(tmp_path, capsys):
    target = tmp_path / "bad.spl"
    target.write_text("| from source | where (a = 1")
    assert main(["fmt", str(target)]) == 1
    assert "error[E0101]" in capsys.readouterr().err
    assert target.read_text() == "| from source | where (a = 1"
