"""`--engine duckdb`: the logical plan lowered to one DuckDB query gives the Python engine's bytes.

- the reference detection over examples/process_creation.jsonl: the same 14 records, byte for byte;
- every tests/cases case whose search lowers: expected.jsonl byte for byte; a case that does not
  lower fails at compile time with E0405, and the counts are pinned so a regression shows;
- a table of what lowers and what is diagnosed (with the command or function named);
- the CLI: `compile --to duckdb` prints SQL, `run --engine duckdb` writes the records.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

from conftest import REFERENCE, cli_in_process  # noqa: E402
from spl_lite import Search  # noqa: E402
from spl_lite.backends.duckdb import compile_text  # noqa: E402
from spl_lite.core.errors import NOT_LOWERED, SplError  # noqa: E402
from spl_lite.io.jsonl import encode_record  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "process_creation.jsonl"
CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(p for p in CASES_DIR.iterdir() if p.is_dir())


def case_text(case: Path) -> str:
    lines = (case / "search.spl").read_text(encoding="utf-8").splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def duckdb_bytes(text: str, paths: list[Path]) -> bytes:
    lowered = compile_text(text, len(paths))
    return b"".join(encode_record(r) for r in lowered.run([str(p) for p in paths]))


def python_bytes(text: str, paths: list[Path]) -> bytes:
    return b"".join(encode_record(r) for r in Search.compile(text).run_files([str(p) for p in paths]))


def test_reference_detection_same_14_records():
    text = Path(REFERENCE).read_text(encoding="utf-8")
    got = duckdb_bytes(text, [EXAMPLE])
    assert got == python_bytes(text, [EXAMPLE])
    assert got.count(b"\n") == 14


def test_reference_detection_over_two_files_keeps_file_order(tmp_path):
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(b"".join(lines[:500]))
    second.write_bytes(b"\n".join([b"", b"not json", b""]) + b"".join(lines[500:]))
    text = Path(REFERENCE).read_text(encoding="utf-8")
    assert duckdb_bytes(text, [first, second]) == python_bytes(text, [EXAMPLE])


def _keyed_and_plain(text: str, path: Path) -> tuple[bytes, bytes]:
    lowered = compile_text(text)
    assert lowered.keyed_query is not None
    return tuple(b"".join(encode_record(r) for r in lowered.run([str(path)], keyed=keyed)) for keyed in (True, False))


def test_keyed_read_gives_the_plain_reads_bytes(tmp_path):
    """The keyed read (a STRUCT of the keys read per line) gives the plain read's bytes over
    well-formed events, flat or in the SSA wrapper, and with lines that are no events (broken,
    null) among them."""
    text = Path(REFERENCE).read_text(encoding="utf-8")
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    wrapped = tmp_path / "wrapped.jsonl"
    wrapped.write_bytes(b"".join(b'{"input_event":' + line.rstrip(b"\n") + b', "process_name": 1}\n'
                                 if i % 2 else line for i, line in enumerate(lines)))
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"".join(lines[:300]) + b'null\nnot json\n{"process_name": "x\n\n[1]\n' + b"".join(lines[300:]))
    for path in (EXAMPLE, wrapped, broken):
        keyed, plain = _keyed_and_plain(text, path)
        assert keyed == plain == python_bytes(text, [path])
        assert keyed.count(b"\n") == 14


KEYS_ONLY = 'from read_ssa_enriched_events() | eval p = map_get(input_event, "process_name") | select p'


@pytest.mark.parametrize("line", [b"[1]", b"7", b'"text"', b'{"other": 1}', b'{"process_name": null}',
                                  b'{"input_event": null}', b' \t {"other": 1}', b' [1]'])
def test_a_line_without_the_keys_read_is_decided_on_its_own(tmp_path, line):
    """An array, a scalar or an object without the keys read all read as a struct of NULLs; the
    second pass tells the objects (events with null keys) from the rest (no events), with the plain
    query's bytes. A blank line and an array just before it check that the two passes number lines
    alike."""
    text = f"| {KEYS_ONLY} | into write_ssa_detected_events();"
    events = [b'{"process_name": "p%d"}\n' % i for i in range(6)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(events[:3]) + b"\n[2]\n" + line + b"\n" + b"".join(events[3:]))
    keyed, plain = _keyed_and_plain(text, path)
    assert keyed == plain == python_bytes(text, [path])
    assert keyed.count(b"\n") == 6 + line.strip().startswith(b"{")


def test_keyed_read_only_where_the_whole_event_is_not_needed():
    assert compile_text("| from read_ssa_enriched_events() | eval x = input_event | select x "
                        "| into write_ssa_detected_events();").keyed_query is None
    assert compile_text("| from read_ssa_enriched_events() | eval x = map_get(input_event, \"a\") | select x "
                        "| into write_ssa_detected_events();").keyed_query is not None


def _outcome(case: Path) -> str:
    try:
        lowered = compile_text(case_text(case))
    except SplError as error:
        assert error.code == NOT_LOWERED, error.message
        assert error.span is not None and "does not lower to DuckDB" in error.message
        return "diagnosed"
    got = b"".join(encode_record(r) for r in lowered.run([str(case / "events.jsonl")]))
    assert got == (case / "expected.jsonl").read_bytes(), case.name
    return "lowered"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_on_duckdb_or_diagnosed(case):
    if (case / "xfail.txt").exists():
        pytest.skip("the Python engine disagrees with the spec here")
    _outcome(case)


def test_case_counts():
    """How many cases lower with parity (raise the floor as lowering grows; never lower it)."""
    outcomes = [_outcome(c) for c in CASES if not (c / "xfail.txt").exists()]
    assert outcomes.count("lowered") >= 64, outcomes.count("lowered")


# (search, None when it lowers, else a piece of the E0405 message)
TABLE = [
    ('| from read_ssa_enriched_events() | eval x = lower(ucast(map_get(input_event, "a"), "string", null)) '
     '| where x = "b" OR x IN ("c") | select x, len(x) AS n | into write_ssa_detected_events();', None),
    ('| from read_ssa_enriched_events() | rex field=x "(?<a>b+)" | into write_null();', None),
    ('$m = from source | fields - a | rename b AS c | into sink;', None),
    ('$m = from source | first_time_event input_columns=["a"] | into sink;', None),
    ('$m = from source | conditional_anomaly conditional="a" target="b" | into sink;', None),
    ('$m = from source | eval s = concat("x", a, 1) | into sink;', None),
    ('| from read_ssa_enriched_events() | eval t = parse_long(ucast(map_get(input_event, "t"), "string", null)), '
     'v = 1.5 | adaptive_threshold entity="t" window=1000 | into write_ssa_detected_events();', None),
    ('$m = from source | stats count() AS n, sum(b) AS s, min(a) AS lo, max(a) AS hi, dc(a) AS d, first(a) AS f, '
     'last(b) AS l, avg(b) AS m BY a, span(t, 2s, 1s, 1s) | into sink;', None),
    ('$a = from source | select a, b; $b = from source | select a, b | union $a | into sink;', None),
    ('$m = from source | eval y = if(a, "t", "f"), z = case(a = "x", 1, b = 2, 2) | into sink;', None),
    ('$a = from source; $b = from source | union $a | into sink;', "`from source` pipelines"),
    ('$a = from source | select a; $b = from source | select b | union $a | into sink;', "different fields"),
    ('$m = from source | stats values(b) AS v BY a, span(t, 5m) | into sink;', "`values` over values of kind any"),
    ('$m = from source | adaptive_threshold algorithm="quantile" | into sink;', None),
    ('$m = from source | adaptive_threshold value="a" timestamp="t" entity="b" window=2000 | into sink;', None),
    # A registry function SQL refuses for these kinds, and orderings of event values: in Python.
    ('$m = from source | eval y = log(b, 2), z = abs(a), w = mvindex(b, 0), s = split(a, ""), '
     'c = coalesce(a, 1), t = strftime(b, "%Y", "Europe/Paris") | where a > 1 OR b <= "x" | into sink;', None),
    # Called in Python (backends/duckdb_functions.py): Java regexes, replacement strings, texts of doubles, ...
    ('$m = from source | eval y = replace(a, "(x)", "$1$1"), z = cidrmatch("10.0.0.0/8", a), w = parse_double(a), '
     'c = cast(b, "string"), e = exp(b), s = serialize_json(a), k = concat("v", a, 1.5), n = length(a), '
     'i = in(a, "x", 1), r = mvrange(0, b) | into sink;', None),
    ('$m = from source | where match(a, /(?<=x)y|x(?!z)/) OR match_regex(a, "x") | into sink;', None),
    ('$m = from source | rex field=a "(?<x>x)|(?<y>[0-9])" | rex field=a "(?<z>x)(?=\\d)?" | into sink;', None),
    ('$m = from source | eval y = cast(a, "bytes") | into sink;', 'cast to "bytes"'),
    # Lists of several kinds as event values, indexing, keys of what is no map, odd create_map.
    ('$m = from source | eval l = ["x", b, 2.5, create_map("k", a), null], m = [create_map("k", 1), '
     'create_map("j", "x")], y = l[0], z = l[-3], w = l[9], v = b["k"], u = a.k, o = create_map("k", 1, "j"), '
     'p = mvappend(a, b, "x"), q = ucast(a, "collection<any>", [])[1] | into sink;', None),
    ('$m = from source | where [a] = [b] OR create_map("k", a) = b OR b = [1, null] | into sink;', None),
    ('$m = from source | eval y = a + 1, z = -b, w = a % b, v = "x" - a, u = [1] + a | into sink;', None),
    ('$m = from source | eval y = strftime(t, "%Y-%m-%dT%H:%M:%S.%6QZ %j %:z"), z = strftime(t, "%F", "%Z") '
     '| into sink;', None),
    ('$m = from source | eval y = strftime(t, "%Y", "Europe/Paris"), z = strftime(t, "%A") | into sink;', None),
]


@pytest.mark.parametrize("text,problem", TABLE, ids=[str(i) for i in range(len(TABLE))])
def test_what_lowers(text, problem):
    if problem is None:
        assert "SELECT" in compile_text(text).sql()
        return
    with pytest.raises(SplError) as raised:
        compile_text(text)
    assert raised.value.code == NOT_LOWERED
    assert problem in raised.value.message and "DuckDB" in raised.value.message
    assert raised.value.span is not None


def test_lowered_queries_run(tmp_path):
    """Every lowering search of the table runs without a SQL error over values of mixed types.

    The keys come in one order: with `from source`, the Python engine writes the keys of a batch's
    records in one order, first seen in the batch (tests/cases/rename_absent_field_is_a_no_op,
    xfail), where DuckDB keeps each record's own order (the spec's)."""
    events = tmp_path / "e.jsonl"
    rows = [{"a": "x", "b": 1, "t": 5}, {"a": 1.0, "b": None, "t": "z"}, {"a": [1, None], "b": {"k": True}, "t": 2000},
            {"a": True, "b": 2, "t": None}, {"a": None, "b": 3, "t": 2}, {"a": 1, "b": "x", "t": 3}]
    events.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for text, problem in TABLE:
        if problem is None:
            assert duckdb_bytes(text, [events]) == python_bytes(text, [events]), text


# Event-time windows over arrival orders that exercise every rule of engine/windows.py: times out of
# order, late records, null and fractional times, a null group, records within the grace.
WINDOWED = [
    'stats count() AS n, sum(v) AS s, max(v) AS hi, min(g) AS lo, dc(v) AS d BY g, span(t, 10s)',
    'stats count(v) AS n, avg(v) AS m, first(v) AS f, last(v) AS l BY g, span(t, 10s, 5s)',
    'stats count() AS n BY g, span(t, 10s, 3s, 4s)',
    'stats sum(v) AS s BY g, h, span(t, 7s, 7s, 20s)',
]


def _shuffled_events(path: Path, n: int = 400) -> Path:
    rows, state = [], 12345
    for i in range(n):
        state = (state * 1103515245 + 12345) % 2**31  # a fixed sequence: the test is reproducible
        jitter = state % 30_000 - 20_000  # up to 20 s late, 10 s early
        t = 1_600_000_000_000 + i * 500 + jitter
        rows.append({"g": [None, "a", "b", "c"][state % 4], "h": state % 3 == 0,
                     "v": [1, 2.5, None, "x", 7][state % 5],
                     "t": t + 0.75 if state % 11 == 0 else None if state % 13 == 0 else t})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("stats", WINDOWED, ids=[str(i) for i in range(len(WINDOWED))])
def test_stats_windows_match_python_engine(tmp_path, stats):
    events = _shuffled_events(tmp_path / "e.jsonl")
    text = f"$m = from source | {stats} | into sink;"
    got = duckdb_bytes(text, [events])
    assert got == python_bytes(text, [events])
    assert got.count(b"\n") > 20


def test_stats_union_and_strftime_over_generated_events(tmp_path):
    """The LOLBAS-style windows, a union with the raw records and strftime, over synthetic SSA events."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate_events import generate

    events = tmp_path / "g.jsonl"
    events.write_bytes(b"".join(generate(3000, seed=3, days=1)))
    text = (
        '$e = | from read_ssa_enriched_events() | eval timestamp = parse_long(ucast(map_get(input_event, "_time"), '
        '"string", null)), device = ucast(map_get(input_event, "dest_device_id"), "string", null), '
        'name = ucast(map_get(input_event, "process_name"), "string", null); '
        '$w = | from $e | stats count(name) AS n, dc(name) AS k BY device, span(timestamp, 10m, 5m) '
        '| eval day = strftime(window_start, "%Y-%m-%dT%H:%M:%S.%3QZ") | select device, n, k, day; '
        '$r = | from $e | where name = "cmd.exe" | eval n = if(timestamp > 0, -1, 0), k = 0, day = null '
        '| select device, n, k, day; '
        '| from $r | union $w | into write_ssa_detected_events();')
    got = duckdb_bytes(text, [events])
    assert got == python_bytes(text, [events])
    assert got.count(b"\n") > 100


# adaptive_threshold over arrival orders that exercise the history rules (spec 8.3): times out of
# order, rows expiring from a window, repeated values (ties rank below nothing equal), null and
# non-numeric values and times, integer and fractional times, a null entity.
ADAPTIVE = [
    'adaptive_threshold algorithm="quantile" value="v" timestamp="t" entity="g" window=4000',
    'adaptive_threshold algorithm="quantile" value="v" timestamp="t" threshold=0.25',
    'adaptive_threshold algorithm="quantile" value="v" timestamp="t" entity="g" window=1500 threshold=0.3',
    'adaptive_threshold value="v" timestamp="t" entity="g" window=3000',
]


def _model_events(path: Path, n: int = 300) -> Path:
    rows, state = [], 777
    for i in range(n):
        state = (state * 1103515245 + 12345) % 2**31
        t = 1_700_000_000_000 + i * 100 + state % 2_500 - 2_000
        rows.append({"g": [None, "a", "b"][state % 3], "v": [1, 2.5, None, "x", state % 7, 3][state % 6],
                     "t": t + 0.5 if state % 17 == 0 else None if state % 19 == 0 else t})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# 3037000499: a long whose square still fits in 64 bits but not exactly in a double.
ARITHMETIC_VALUES = [7, -7, 2, 0, 0.0, -0.0, 2.5, -1.5, 1e308, 3037000499, "x", "", True, None, [1], {"k": 1}]


def test_arithmetic_on_event_values_matches_python_engine(tmp_path):
    """Operators whose operand kinds are known only at run time call core.values' arithmetic in
    Python: every pair of kinds, Java's integer division and remainder, zero divisors, an infinity
    and a NaN used after they are made."""
    path = tmp_path / "events.jsonl"
    missing = object()
    rows = [{k: v for k, v in (("a", a), ("b", b)) if v is not missing}
            for a in ARITHMETIC_VALUES + [missing] for b in ARITHMETIC_VALUES + [missing]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = ('$m = from source | eval add = a + b, sub = a - b, mul = a * b, div = a / b, mod = a % b, neg = -a, '
            'one = a + 1, half = a / 2.0, text = a + "x", big = a * b > 1000000, nan = (a % 0.0) = (a % 0.0), '
            'inf = a / 0.0 > 0, after = ucast(b / 0.0, "double", null) < 0 | into sink;')
    got = duckdb_bytes(text, [path])
    assert got == python_bytes(text, [path])
    assert got.count(b"\n") == len(rows)


@pytest.mark.parametrize("command", ADAPTIVE, ids=[str(i) for i in range(len(ADAPTIVE))])
def test_adaptive_threshold_matches_python_engine(tmp_path, command):
    events = _model_events(tmp_path / "e.jsonl")
    text = f"$m = from source | {command} | into sink;"
    got = duckdb_bytes(text, [events])
    assert got == python_bytes(text, [events])
    assert got.count(b'"label":true') > 5


def test_cli_compile_and_run(tmp_path):
    result = cli_in_process("compile", REFERENCE, "--to", "duckdb")
    assert result.returncode == 0, result.err
    assert "READ_JSON" in result.out.upper() and "WITH ORDINALITY" in result.out.upper()
    assert "Python functions" not in result.out
    search = tmp_path / "q.spl"
    search.write_text('$m = from source | adaptive_threshold algorithm="quantile" | where match(a, /x(?!y)/) '
                      '| into sink;\n')
    result = cli_in_process("compile", search, "--to", "duckdb")
    assert result.returncode == 0, result.err
    assert "must be registered" in result.out and "spl_adaptive_quantiles(DOUBLE[], BIGINT[], BIGINT[])" in result.out
    assert "spl_match_j_r_b(JSON, VARCHAR, VARCHAR) -> BOOLEAN" in result.out
    out = tmp_path / "d.jsonl"
    result = cli_in_process("run", "--engine", "duckdb", REFERENCE, "--input", EXAMPLE, "--output", out)
    assert result.returncode == 0, result.err
    assert out.read_bytes() == python_bytes(Path(REFERENCE).read_text(encoding="utf-8"), [EXAMPLE])


def test_cli_not_lowered_is_a_positioned_diagnostic(tmp_path):
    search = tmp_path / "q.spl"
    search.write_text('$m = from source | eval y = cast(a, "bytes") | into sink;\n')
    result = cli_in_process("run", "--engine", "duckdb", search, "--input", EXAMPLE)
    assert result.returncode == 1
    assert "error[E0405]" in result.err and "q.spl:1:" in result.err


CORPUS = ROOT.parent / "shared" / "corpus" / "searches.jsonl"


@pytest.mark.skipif(not CORPUS.exists(), reason="../shared/corpus is not here")
@pytest.mark.skipif(not os.environ.get("SPL_LITE_DUCKDB_CORPUS"), reason="minutes long: SPL_LITE_DUCKDB_CORPUS=1")
def test_corpus_texts_lower():
    """Every corpus text that plans lowers (E0405 for one is a regression; never another error)."""
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    from duckdb_parity import corpus

    planned, lowered, reasons, _, _, _ = corpus(CORPUS)
    assert planned >= 1600
    assert lowered == planned, (lowered, reasons.most_common(5))


def test_every_registry_function_lowers_or_fails_with_its_declared_reason():
    """A function DuckDB does not lower is refused at compile time, at the call, with the reason the
    backend declares for it (the README's support table prints the same declarations)."""
    from spl_lite.backends.duckdb import function_lowering
    from spl_lite.functions import FUNCTIONS

    support = function_lowering()  # LookupError for a function with neither a lowering nor a reason
    assert set(support) == set(FUNCTIONS)
    refused = {name: reason for name, reason in support.items() if reason is not None}
    assert len(refused) < len(support)
    for name, reason in refused.items():
        text = f'$m = from source | eval y = {FUNCTIONS[name].example} | into sink;'
        with pytest.raises(SplError) as raised:
            compile_text(text)
        error = raised.value
        assert error.code == NOT_LOWERED and f"function `{name}`" in error.message and reason in error.message
        assert text[error.span.start:error.span.end] == name
