"""Expression and command semantics (spec sections 3-5 and 8), run end to end through Search."""
from __future__ import annotations

import math

import orjson
import pytest

from spl_lite import Search
from spl_lite.io.jsonl import encode_record
from spl_lite.engine.executor import Execution

M = 60_000  # one minute in ms


def run(text: str, events, **kwargs) -> list[dict]:
    return list(Search.compile(text).run(events, **kwargs))


def values(expression: str, event: dict | None = None):
    """The value of one expression for one record (`from source`: the event is the record)."""
    (record,) = run(f"| from source | eval r = {expression} | select r", [event or {}])
    return record["r"]


def column(text: str, events, name: str) -> list:
    return [r[name] for r in run(text, events)]


# ---- null-safe equality (spec 3.3, 3.4) --------------------------------------------------------

@pytest.mark.parametrize(
    "expression, event, expected",
    [
        ("x = null", {}, True),
        ("x == null", {"x": None}, True),
        ("x != null", {}, False),
        ("x = null", {"x": "a"}, False),
        ("x != null", {"x": "a"}, True),
        ("null = null", {}, True),
        ("null != null", {}, False),
        ("x = 1", {}, False),             # null = non-null is false, not null
        ("x != 1", {}, True),
        ('x = "a"', {}, False),
        ('x != "a"', {}, True),
        ("x = y", {}, True),               # both missing: null = null
        ("x != y", {"x": 1}, True),
        ("x = 1", {"x": 1.0}, True),       # numbers compare by value across int/double
        ("x = 1", {"x": True}, False),     # a boolean is not a number
        ('x = "1"', {"x": 1}, False),      # no string/number coercion
        ('x != "1"', {"x": 1}, True),
        ('x = "true"', {"x": True}, False),
        ("x = true", {"x": True}, True),
        ('x = "A"', {"x": "a"}, False),    # case-sensitive
        ("x = [1, 2]", {"x": [1, 2]}, True),
        ("x = [2, 1]", {"x": [1, 2]}, False),
        ('x = {"a": 1}', {"x": {"a": 1}}, True),
    ],
)
def test_null_safe_equality(expression, event, expected):
    assert values(expression, event) is expected


@pytest.mark.parametrize("constant", ["true", "false", "1", "1.0", "-0.0", "0", "2.5", "4769"])
@pytest.mark.parametrize("op", ["=", "!="])
def test_equality_with_a_bool_or_number_literal_agrees_with_equals_row_by_row(constant, op):
    """The column-at-once comparison against a literal gives what values.equals gives per record."""
    from spl_lite.core.values import equals

    mixed = [1, 1.0, True, False, 0, 0.0, -0.0, 2.5, 4769, 4769.0, "1", "true", None, [1], {"a": 1},
             float("nan"), float("inf"), 2**70]
    events = [{"x": v} for v in mixed] + [{}]
    got = column(f"| from source | eval r = x {op} {constant} | select r", events, "r")
    literal = {"true": True, "false": False}.get(constant, None)
    literal = literal if literal is not None else (float(constant) if "." in constant else int(constant))
    assert got == [equals(e.get("x"), literal) is (op == "=") for e in events]


@pytest.mark.parametrize("regex", ["/(?i)kerberos::ptt/", "/Get-System/", "/(?i)wscript.exe/", r"/^(?i)ntkd\.exe/",
                                   "/mimikatz/i", "/(a|b)c/", "/(?i)MimiKatz/", "/(?i)KERBEROS.ptt/"])
def test_match_regex_looking_for_its_required_text_first_agrees_with_the_regex(regex):
    """match_regex with a regex literal checks the text every match holds before the regex; the
    regex given as a string (compiled per value, no shortcut) gives the same, errors included."""
    texts = ["cmd KERBEROS::PTT", "kerberos::pt", "x get-system", "Get-System", "C:\\WSCRIPT.EXE", "wscriptzexe",
             "ntkd.exe", "NTKD.EXE x", "a ntkd.exe", "MimiKatz", "\u212aerberos::ptt", "\u0130 mimikatz", "bc", None, 5]
    events = [{"x": t} for t in texts]
    pattern = regex[1:regex.rindex("/")]
    if regex.endswith("/i"):
        pattern = "(?i)" + pattern
    plain_pattern = orjson.dumps(pattern).decode()
    literal = column(f"| from source | eval r = match_regex(x, {regex}) | select r", events, "r")
    plain = column(f"| from source | eval r = match_regex(x, {plain_pattern}) | select r", events, "r")
    assert literal == plain
    # Over a column known to hold text (here lower's result) the whole column is searched at once.
    events = [e for e in events if type(e["x"]) is not int] + [{"x": "\n".join(texts[:3])}, {"x": ""}]
    literal = column(f"| from source | eval r = match_regex(lower(x), {regex}) | select r", events, "r")
    plain = column(f"| from source | eval r = match_regex(lower(x), {plain_pattern}) | select r", events, "r")
    assert literal == plain


@pytest.mark.parametrize("pattern", ["%delete%", "7z%", "%.exe", "a%b", "exact", "%", "", "x_y", "%\n%"])
def test_like_over_a_text_column_agrees_with_the_like_regex(pattern):
    from spl_lite.core.regex import like_to_regex

    texts = ["sc delete x", "DELETE", "7zip", "x7z", "a.exe", "exact", "ab", "a\nb", "acb", "", "x_y", "xzy", None]
    got = column(f"| from source | eval r = lower(x) LIKE {orjson.dumps(pattern).decode()} | select r",
                 [{"x": t} for t in texts], "r")
    assert got == [None if t is None else like_to_regex(pattern).match(t.lower()) is not None for t in texts]


def test_in_a_list_of_strings_agrees_with_the_in_function():
    """`x IN ("a", ...)` of string literals is a set lookup; in() called as a function is the plain path."""
    events = [{"x": v} for v in ["a", "b", "A", 1, None, [1], {"a": 1}, "", True, 1.5]] + [{}]
    for negated in ("", "NOT "):
        lookup = column(f'| from source | eval r = x {negated}IN ("a", "", "1") | select r', events, "r")
        plain = column(f'| from source | eval r = {"NOT " if negated else ""}in(x, "a", "", "1") | select r', events, "r")
        assert lookup == plain


def test_a_text_in_a_field_of_lists_agrees_with_the_in_function():
    """`"a" IN (f)` tests each row with Python's `in` and `==`; in() called as a function is the plain path."""
    odd = ["a", "b", "A", 1, None, True, 1.5, {"a": 1}, "", ["a"], ["b", "a"], [["a"]], [1, True, None], [], ["A"]]
    events = [{"f": v, "g": w} for v in odd for w in odd[:6]] + [{}]
    for negated in ("", "NOT "):
        for options in ("f", "f, g", '"b", f', 'f, "a"', "f, null"):
            lookup = column(f'| from source | eval r = "a" {negated}IN ({options}) | select r', events, "r")
            plain = column(f'| from source | eval r = {negated}in("a", {options}) | select r', events, "r")
            assert lookup == plain, options
    # Only lists in the column (as `_datamodels`): each is searched at once, with the same results.
    lists = [{"f": v} for v in odd if type(v) is list]
    got = column('| from source | eval r = "a" IN (f) | select r', lists, "r")
    assert got == column('| from source | eval r = in("a", f) | select r', lists, "r") == [True, True, False, False, False, False]


@pytest.mark.parametrize("batch_size", [1, 4096])
def test_truth_of_match_results_over_known_text_agrees_with_the_values(batch_size):
    """Over dictionary-encoded text (lower's result), a match's results are known to be booleans and
    nulls, which `= true`, `= false`, NOT and where read with numpy; one event a batch is the plain path."""
    texts = ["abc", "ABC", None, "xyz", "b", "", "Bb"] * 40
    got = run('| from source | eval l = lower(x) | eval m = match_regex(l, /b/), t = match_regex(l, /b/) = true, '
              'f = match_regex(l, /b/) = false, n = NOT match_regex(l, /b/) '
              '| where match_regex(l, /b/) OR x = "xyz" | select x, m, t, f, n', [{"x": x} for x in texts],
              batch_size=batch_size)
    expected = []
    for x in texts:
        m = None if x is None else "b" in x.lower()
        if m is True or x == "xyz":
            expected.append({"x": x, "m": m, "t": m is True, "f": m is False, "n": None if m is None else not m})
    assert got == expected


def test_dotted_paths_walk_maps_and_a_field_of_the_dotted_name_wins():
    def walk(value, keys):
        for key in keys:
            value = value.get(key) if type(value) is dict else None
        return value

    odd = [None, 1, "a", [1], {}, {"b": None}, {"b": 1}, {"b": {"c": 2}}, {"b": {"c": {"d": 3}}}, {"b": [{"c": 1}]}]
    events = [{"a": v} for v in odd] + [{}]
    got = run("| from source | select a.b AS x, a.b.c AS y, a.b.c.d AS z", events)
    assert got == [{"x": walk(e.get("a"), "b"), "y": walk(e.get("a"), "bc"), "z": walk(e.get("a"), "bcd")} for e in events]
    (record,) = run("| from source | select a.b.c AS y, a.b AS x", [{"a": {"b": {"c": 1}}, "a.b": {"c": 5}}])
    assert record == {"y": 1, "x": {"c": 5}}  # a.b.c walks from `a`; `a.b` is the field of that name


def test_where_not_equal_null_keeps_present_values():
    events = [{"p": "a"}, {}, {"p": None}, {"p": ""}]
    assert column("| from source | where p != null", events, "p") == ["a", ""]
    assert [r.get("p") for r in run("| from source | where p = null", events)] == [None, None]


# ---- Kleene logic (spec 3.3) -------------------------------------------------------------------

@pytest.mark.parametrize(
    "expression, expected",
    [
        ("f AND n", False),
        ("n AND f", False),
        ("t AND n", None),
        ("n AND t", None),
        ("t OR n", True),
        ("n OR t", True),
        ("f OR n", None),
        ("n OR f", None),
        ("NOT n", None),
        ("NOT t", False),
        ("NOT f", True),
        ("n AND n", None),
        ("t AND t AND n", None),
        ("t AND f AND n", False),
        ("f OR f OR n", None),
        ("f OR n OR t", True),
    ],
)
def test_kleene_logic(expression, expected):
    assert values(expression, {"t": True, "f": False}) is expected


def test_where_keeps_only_exactly_true():
    events = [{"id": 1, "b": True}, {"id": 2, "b": False}, {"id": 3}, {"id": 4, "b": "true"}, {"id": 5, "b": 1}]
    assert column("| from source | where b", events, "id") == [1]
    assert column("| from source | where NOT b", events, "id") == [2]


def test_where_not_of_an_equality_keeps_null_fields():
    # spec 3.3: null-safe `=` gives false for a null field, NOT false is true (DET-AUC)
    events = [{"id": 1, "src_user": "SYSTEM"}, {"id": 2, "src_user": "bob"}, {"id": 3}]
    assert column('| from source | where NOT (src_user="SYSTEM")', events, "id") == [2, 3]
    assert column('| from source | where NOT src_user="SYSTEM"', events, "id") == [2, 3]


def test_not_binds_looser_than_comparison_and_tighter_than_and_or():
    events = [
        {"id": 1, "x": "a", "y": 1},
        {"id": 2, "x": "b", "y": 1},
        {"id": 3, "x": "b", "y": 2},
        {"id": 4, "x": "a", "y": 2},
    ]
    # (NOT x="a" AND y=1) OR y=2  ->  rows 2, 3, 4
    assert column('| from source | where NOT x = "a" AND y = 1 OR y = 2', events, "id") == [2, 3, 4]
    # NOT (x="a" AND y=1)
    assert column('| from source | where NOT (x = "a" AND y = 1)', events, "id") == [2, 3, 4]
    # NOT x="a" OR y=2 with AND-before-OR: (NOT x="a") OR (y=2)
    assert column('| from source | where y = 1 AND x = "a" OR y = 2 AND x = "b"', events, "id") == [1, 3]


# ---- ordering comparisons (spec 3.3, 3.4) ------------------------------------------------------

@pytest.mark.parametrize(
    "expression, event, expected",
    [
        ("x < 5", {}, None),
        ("x >= 5", {"x": None}, None),
        ("5 > x", {}, None),
        ("x < 5", {"x": 4}, True),
        ("x <= 4.0", {"x": 4}, True),
        ("x > 1.5", {"x": 2}, True),
        ('x < "b"', {"x": "a"}, True),
        ('x < "B"', {"x": "a"}, False),     # code-point order
        ('x < 5', {"x": "4"}, None),       # incompatible types do not order
        ("x > false", {"x": True}, True),
        ("x < [2]", {"x": [1]}, None),
    ],
)
def test_ordering_comparisons(expression, event, expected):
    assert values(expression, event) is expected


def test_where_drops_null_ordering_results_either_way():
    events = [{"id": 1, "x": 3}, {"id": 2}, {"id": 3, "x": 9}]
    assert column("| from source | where x < 5", events, "id") == [1]
    assert column("| from source | where NOT (x < 5)", events, "id") == [3]  # NOT null is null


# ---- arithmetic (spec 4) -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "expression, expected",
    [
        ("5 + 2", 7),
        ("5 - 7", -2),
        ("6 * 7", 42),
        ("2 * 3.5", 7.0),
        ("1 + 0.5", 1.5),
        ("7/2", 3),               # int / int truncates toward zero
        ("-7/2", -3),
        ("7/-2", -3),
        ("7.0/2", 3.5),
        ("7/2.0", 3.5),
        ("1/0", None),            # int division by zero is null
        ("7 % 3", 1),
        ("-7 % 3", -1),           # sign of the dividend (Java)
        ("7 % -3", 1),
        ("5.5 % 2", 1.5),
        ("5 % 0", None),
        ('"ab" + "cd"', "abcd"),
        ('"a" + 1', None),        # string + number is null
        ('1 + "a"', None),
        ("true + 1", None),
        ("x + 1", None),          # null operand
        ("1 - x", None),
        ("x * 2", None),
        ('-"a"', None),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 2 - 3", 5),
    ],
)
def test_arithmetic(expression, expected):
    got = values(expression)
    assert got == expected and type(got) is type(expected)


def test_float_division_by_zero_follows_ieee():
    assert values("1.0/0") == math.inf
    assert values("-1.0/0") == -math.inf
    assert math.isnan(values("0/0.0"))


def test_arithmetic_on_fields():
    assert values("a * b + c", {"a": 2, "b": 3, "c": 0.5}) == 6.5
    assert values("-a", {"a": 3}) == -3
    assert values("a + b", {"a": "x", "b": "y"}) == "xy"


def test_negative_zero_and_non_finite_values_are_normalised_on_output():
    (record,) = run(
        "| from source | eval z = 0.0 * -1, l = -log(1), zs = [0.0 * -1], m = create_map([\"k\", 0.0 * -1]), "
        "i = 1.0/0, n = i * 0 | select z, l, zs, m, i, n",
        [{}],
    )
    assert math.copysign(1, record["z"]) == -1  # the value itself is -0.0 ...
    line = encode_record(record)
    assert line.endswith(b"\n")
    assert orjson.loads(line) == {"z": 0.0, "l": 0.0, "zs": [0.0], "m": {"k": 0.0}, "i": None, "n": None}
    assert b"-0.0" not in line and b"-0" not in line  # ... and it is written as 0.0


# ---- eval, select, rename, fields (spec 5.2-5.5) -----------------------------------------------

def test_eval_assignments_run_left_to_right():
    (record,) = run("| from source | eval a = 1, b = a + 1, a = b * 10, c = a", [{"a": 100}])
    assert record == {"a": 20, "b": 2, "c": 20}


def test_eval_overwrites_in_place_and_appends_new_fields():
    (record,) = run("| from source | eval y = 5, new = 1", [{"x": 1, "y": 2, "z": 3}])
    assert list(record) == ["x", "y", "z", "new"]
    assert record["y"] == 5


def test_eval_corpus_split_on_one_backslash():
    (record,) = run(
        '| from source | eval parent_process = lower(p), '
        'parent_process_name = mvindex(split(parent_process, "\\\\"), -1)',
        [{"p": "C:\\Windows\\System32\\CMD.EXE"}],
    )
    assert record["parent_process_name"] == "cmd.exe"


def test_select_keeps_listed_fields_in_order_missing_ones_as_null():
    (record,) = run(
        "| from source | select c, a, missing, a + 1 AS a1, lower(b) as lb, a * 2",
        [{"a": 1, "b": "X", "c": 3, "d": 4}],
    )
    assert record == {"c": 3, "a": 1, "missing": None, "a1": 2, "lb": "x", "a * 2": 2}
    assert list(record) == ["c", "a", "missing", "a1", "lb", "a * 2"]


def test_select_dotted_path_reads_inside_maps():
    (record,) = run("| from source | select e.process.name AS n, e.nope AS m", [{"e": {"process": {"name": "x"}}}])
    assert record == {"n": "x", "m": None}


def test_select_then_read_a_dropped_field_gives_null():
    (record,) = run("| from source | select a | eval c = b", [{"a": 1, "b": 2}])
    assert record == {"a": 1, "c": None}


def test_rename_moves_value_keeping_position():
    (record,) = run("| from source | rename b AS z", [{"a": 1, "b": 2, "c": 3}])
    assert list(record.items()) == [("a", 1), ("z", 2), ("c", 3)]


def test_rename_overwrites_an_existing_target_and_ignores_absent_fields():
    (record,) = run("| from source | rename output AS input, nothing AS other", [{"input": 9, "output": 1, "k": 0}])
    assert list(record.items()) == [("input", 1), ("k", 0)]


def test_rename_window_end_as_timestamp():
    events = [{"f": "a", "timestamp": 1}]
    (record,) = run("| from source | stats count() AS n BY f, span(timestamp, 5m) | rename window_end AS timestamp", events)
    assert record["timestamp"] == 300_000 and "window_end" not in record


def test_fields_keep_in_listed_order_and_drop():
    events = [{"a": 1, "b": 2, "c": 3}]
    assert list(run("| from source | fields c, a", events)[0].items()) == [("c", 3), ("a", 1)]
    assert run("| from source | fields + b", events) == [{"b": 2}]
    assert run("| from source | fields - b", events) == [{"a": 1, "c": 3}]
    assert run("| from source | fields - nothing", events) == [{"a": 1, "b": 2, "c": 3}]
    assert run("| from source | fields a, zz", events) == [{"a": 1, "zz": None}]


# ---- IN and LIKE (spec 4) ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "expression, event, expected",
    [
        ("x IN (1, 2)", {"x": 2}, True),
        ("x IN (1, 2)", {"x": 3}, False),
        ("x IN (1, 2)", {}, False),
        ("x NOT IN (1, 2)", {}, True),
        ("x IN (null)", {}, True),
        ("x IN (1.0)", {"x": 1}, True),
        ('"Endpoint_Processes" IN (dm)', {"dm": ["Endpoint_Processes", "X"]}, True),
        ('"Endpoint_Processes" IN (dm)', {"dm": ["X"]}, False),
        ('x LIKE "%cmd%"', {"x": "c:\\cmd.exe"}, True),
        ('x LIKE "cmd%"', {"x": "c:\\cmd.exe"}, False),
        ('x NOT LIKE "cmd%"', {"x": "c:\\cmd.exe"}, True),
        ('x LIKE "a_c"', {"x": "abc"}, True),
        ('x LIKE "%"', {}, None),
        ('x NOT LIKE "%"', {}, None),
    ],
)
def test_in_and_like(expression, event, expected):
    assert values(expression, event) is expected


# ---- function failures on one record (spec 5.2) ------------------------------------------------

def run_counting(text: str, events) -> tuple[list[dict], object]:
    """The records of a run and its record errors."""
    records = Search.compile(text).run(events)
    return list(records), records.record_errors


def test_a_function_failing_on_one_record_gives_null_and_is_counted():
    events = [{"n": "A"}, {"n": 5}, {"n": "B"}, {"n": [1]}]
    records, errors = run_counting(
        '| from read_ssa_enriched_events() | eval x = lower(map_get(input_event, "n")), y = 1 | select x, y',
        events,
    )
    assert records == [{"x": "a", "y": 1}, {"x": None, "y": 1}, {"x": "b", "y": 1}, {"x": None, "y": 1}]
    assert errors.count == 2
    assert any("lower" in message for message in errors.examples)


def test_map_get_of_a_non_map_is_null_and_counted():
    records, errors = run_counting(
        '| from source | eval v = map_get(m, "k") | select v', [{"m": {"k": 1}}, {"m": "text"}, {"m": {"k": 2}}])
    assert [r["v"] for r in records] == [1, None, 2]
    assert errors.count == 1


def test_record_errors_are_counted_per_run_and_search():
    """Compiling or running another search never touches a run's count (no global counter)."""
    search = Search.compile('| from source | eval v = lower(x)')
    first = search.run([{"x": 1}, {"x": 2}])
    other = Search.compile('| from source | eval v = upper(x)').run([{"x": 3}])
    assert len(list(first)) == 2 and first.record_errors.count == 2
    second = search.run([{"x": "a"}])
    list(second)
    assert second.record_errors.count == 0 and first.record_errors.count == 2
    list(other)
    assert other.record_errors.count == 1 and first.record_errors.count == 2


def test_null_arguments_are_not_errors():
    _, errors = run_counting('| from source | eval v = lower(x), w = map_get(m, "k")', [{}])
    assert errors.count == 0


# ---- sources and envelopes (spec 7.1) ----------------------------------------------------------

def test_enriched_source_wraps_each_event():
    (record,) = run("| from read_ssa_enriched_events()", [{"process_name": "cmd.exe", "_datamodels": ["Endpoint_Processes"]}])
    assert record == {
        "input_event": {"process_name": "cmd.exe", "_datamodels": ["Endpoint_Processes"]},
        "_datamodels": ["Endpoint_Processes"],
        "body": {},
    }


def test_envelope_lines_are_taken_as_the_record():
    events = [
        {"input_event": {"process_name": "a.exe"}},
        {"process_name": "b.exe"},
        {"input_event": {"process_name": "c.exe", "_datamodels": ["D"]}, "extra": 1},
    ]
    records = run(
        '| from read_ssa_enriched_events() | eval p = map_get(input_event, "process_name") | select p, _datamodels, body',
        events,
    )
    assert records == [
        {"p": "a.exe", "_datamodels": [], "body": {}},
        {"p": "b.exe", "_datamodels": [], "body": {}},
        {"p": "c.exe", "_datamodels": ["D"], "body": {}},
    ]


def test_envelope_fields_beside_input_event_do_not_leak():
    # Spec 7.1: the production source selects input_event only (issue 14, item 15).
    (record,) = run("| from read_ssa_enriched_events() | select extra, body", [{"input_event": {}, "extra": 7, "body": {"k": 1}}])
    assert record == {"extra": None, "body": {}}


def test_read_ba_enriched_events_has_the_same_shape():
    (record,) = run('| from read_ba_enriched_events() | eval t = map_get(input_event, "time") | select t, body', [{"time": 5}])
    assert record == {"t": 5, "body": {}}


# ---- union and several sinks (spec 5.1, 5.8) ----------------------------------------------------

UNION = """\
$a = | from read_ssa_enriched_events() | eval n = map_get(input_event, "n");
$b = | from $a | where n > 1 | eval branch = "b";
$c = | from $a | where n < 3 | eval branch = "c";
| from $b | union $c | select n, branch | into write_ssa_detected_events();
"""


@pytest.mark.parametrize("batch_size", [1, 2, 2048])
def test_union_order_is_per_source_record_then_branch_order(batch_size):
    records = run(UNION, [{"n": 1}, {"n": 2}, {"n": 3}], batch_size=batch_size)
    # record 2 matches both branches and appears twice, $b's copy first (named first)
    assert records == [
        {"n": 1, "branch": "c"},
        {"n": 2, "branch": "b"},
        {"n": 2, "branch": "c"},
        {"n": 3, "branch": "b"},
    ]


def test_union_with_branches_named_in_the_other_order():
    text = UNION.replace("| from $b | union $c", "| from $c | union $b")
    records = run(text, [{"n": 1}, {"n": 2}, {"n": 3}])
    assert [(r["n"], r["branch"]) for r in records] == [(1, "c"), (2, "c"), (2, "b"), (3, "b")]


def test_union_of_three_branches():
    text = """\
$src = | from read_ssa_enriched_events() | eval n = map_get(input_event, "n");
$x = | from $src | where n = 1 | eval k = "x";
$y = | from $src | eval k = "y";
$z = | from $src | where n = 2 | eval k = "z";
| from $z | union $x, $y | select n, k | into write_ssa_detected_events();
"""
    records = run(text, [{"n": 1}, {"n": 2}])
    assert [(r["n"], r["k"]) for r in records] == [(1, "x"), (1, "y"), (2, "z"), (2, "y")]


MULTI_SINK = """\
$a = | from read_ssa_enriched_events() | eval n = map_get(input_event, "n");
| from $a | where n > 1 | select n | into write_ssa_detected_events();
| from $a | where n < 3 | select n | eval s = 2 | into write_ssa_finding_events();
| from $a | select n | into write_null();
"""


def test_every_writing_sink_reaches_run_and_write_null_discards():
    records = run(MULTI_SINK, [{"n": 1}, {"n": 2}, {"n": 3}], batch_size=1)
    assert records == [{"n": 1, "s": 2}, {"n": 2}, {"n": 2, "s": 2}, {"n": 3}]
    records = run(MULTI_SINK, [{"n": 1}, {"n": 2}, {"n": 3}])
    assert sorted(map(orjson.dumps, records)) == sorted(
        map(orjson.dumps, [{"n": 2}, {"n": 3}, {"n": 1, "s": 2}, {"n": 2, "s": 2}])
    )


def test_execution_reports_sink_names_and_discarded_records():
    search = Search.compile(MULTI_SINK)
    got: list[tuple[str, list]] = []
    execution = Execution(search.plan, lambda sink, batch: got.append((sink, list(batch.records()))))
    execution.push([{"n": 1}, {"n": 2}, {"n": 3}])
    execution.finish()
    by_sink: dict[str, list] = {}
    for sink, records in got:
        by_sink.setdefault(sink, []).extend(records)
    assert by_sink == {
        "write_ssa_detected_events": [{"n": 2}, {"n": 3}],
        "write_ssa_finding_events": [{"n": 1, "s": 2}, {"n": 2, "s": 2}],
    }
    assert execution.records_out == 4
    assert execution.records_discarded == 3


def test_a_bare_pipeline_writes_to_the_default_sink():
    assert run("| from source | eval a = 1", [{}]) == [{"a": 1}]


def test_a_source_read_twice_is_one_pass():
    text = (
        "| from read_ssa_enriched_events() | eval k = 1 | select k | into write_ssa_detected_events();\n"
        "| from read_ssa_enriched_events() | eval k = 2 | select k | into write_ssa_finding_events();\n"
    )
    assert run(text, [{}, {}], batch_size=1) == [{"k": 1}, {"k": 2}, {"k": 1}, {"k": 2}]


# ---- rex (spec 5.6) ----------------------------------------------------------------------------

def test_rex_corpus_example_takes_the_last_path_element():
    text = (
        '| from read_ssa_enriched_events() '
        '| eval parent_process = lower(ucast(map_get(input_event, "parent_process_name"), "string", null)) '
        '| rex field=parent_process "(?<field0>[^\\\\\\\\]+)$" '
        '| select parent_process, field0'
    )
    records = run(text, [
        {"parent_process_name": "C:\\Program Files\\Microsoft Office\\WINWORD.EXE"},
        {"parent_process_name": "explorer.exe"},
        {},
        {"parent_process_name": "C:\\dir\\"},
    ])
    assert [r["field0"] for r in records] == ["winword.exe", "explorer.exe", None, None]


def test_rex_several_groups_first_match_and_non_participating_group():
    text = '| from source | rex field=s "(?<k>[a-z]+)=(?<v>\\\\d+)(?<opt>!)?" | select k, v, opt'
    records = run(text, [{"s": "a=1 b=2"}, {"s": "x=9!"}, {"s": "none"}, {"s": 5}])
    assert records == [
        {"k": "a", "v": "1", "opt": None},
        {"k": "x", "v": "9", "opt": "!"},
        {"k": None, "v": None, "opt": None},
        {"k": None, "v": None, "opt": None},
    ]


def test_rex_with_a_regex_literal_and_flags():
    records = run("| from source | rex field=s /(?<ext>\\.EXE)$/i | select ext", [{"s": "a.exe"}])
    assert records == [{"ext": ".exe"}]


def test_rex_is_not_anchored():
    assert run('| from source | rex field=s "(?<d>\\\\d+)" | select d', [{"s": "abc 42 x"}]) == [{"d": "42"}]


# ---- stats (spec 5.7) --------------------------------------------------------------------------

STATS_EVENTS = [
    {"f": "a", "timestamp": 0},
    {"f": "b", "timestamp": 1 * M},
    {"f": "a", "timestamp": 2 * M},
    {"f": "a", "timestamp": 6 * M},
    {"f": "b", "timestamp": 11 * M},
    {"f": None, "timestamp": 11 * M},
    {"f": "a"},  # no timestamp: dropped
]


def test_stats_count_by_field_over_tumbling_windows():
    records = run("| from source | stats count(f) AS n, count() BY f, span(timestamp, 5m)", STATS_EVENTS)
    assert records == [
        {"f": "a", "n": 2, "count()": 2, "window_start": 0, "window_end": 300_000, "window_trigger": 299_999},
        {"f": "b", "n": 1, "count()": 1, "window_start": 0, "window_end": 300_000, "window_trigger": 299_999},
        {"f": "a", "n": 1, "count()": 1, "window_start": 300_000, "window_end": 600_000, "window_trigger": 599_999},
        {"f": "b", "n": 1, "count()": 1, "window_start": 600_000, "window_end": 900_000, "window_trigger": 899_999},
        {"f": None, "n": 0, "count()": 1, "window_start": 600_000, "window_end": 900_000, "window_trigger": 899_999},
    ]


def test_stats_output_has_only_group_aggregates_and_window_fields():
    (record,) = run("| from source | stats count(x) BY f, span(timestamp, 300s)", [{"f": 1, "timestamp": 0, "x": 1, "other": 2}])
    assert list(record) == ["f", "count(x)", "window_start", "window_end", "window_trigger"]


def test_stats_emits_when_event_time_passes_window_end_and_flushes_the_rest():
    pulled = []

    def events():
        for i, event in enumerate(STATS_EVENTS[:5]):
            pulled.append(i)
            yield event

    seen = []
    for record in Search.compile("| from source | stats count() AS n BY f, span(timestamp, 5m)").run(events(), batch_size=1):
        seen.append((len(pulled), record["f"], record["window_start"], record["n"]))
    assert seen == [
        (4, "a", 0, 2),               # closed by the 6-minute event (the 4th read)
        (4, "b", 0, 1),
        (5, "a", 300_000, 1),         # closed by the 11-minute event
        (5, "b", 600_000, 1),         # still open at end of input: flushed
    ]


def test_stats_window_fields_align_to_the_size():
    ts = 1600967100000 + 123_456
    (record,) = run("| from source | stats count() AS n BY f, span(timestamp, 300s)", [{"f": 1, "timestamp": ts}])
    assert (record["window_start"], record["window_end"], record["window_trigger"]) == (
        1600967100000, 1600967400000, 1600967399999,
    )


def test_stats_sliding_window_puts_a_record_in_every_window_containing_it():
    records = run("| from source | stats count() AS n BY f, span(timestamp, 10m, 5m)", [{"f": "a", "timestamp": 6 * M}])
    assert [(r["window_start"], r["window_end"]) for r in records] == [(0, 600_000), (300_000, 900_000)]


def test_stats_sum_min_max_and_estdc():
    events = [
        {"f": "a", "timestamp": 0, "v": 1, "u": "x"},
        {"f": "a", "timestamp": 1, "v": 2.5, "u": "y"},
        {"f": "a", "timestamp": 2, "u": "x"},
    ]
    (record,) = run(
        "| from source | stats sum(v) AS s, min(v) AS lo, max(v) AS hi, estdc(u) AS d BY f, span(timestamp, 5m)", events
    )
    assert (record["s"], record["lo"], record["hi"], record["d"]) == (3.5, 1, 2.5, 2)


def test_stats_late_records_are_dropped():
    events = [{"f": "a", "timestamp": 0}, {"f": "a", "timestamp": 6 * M}, {"f": "a", "timestamp": 1 * M}]
    records = run("| from source | stats count() AS n BY f, span(timestamp, 5m)", events)
    assert [(r["window_start"], r["n"]) for r in records] == [(0, 1), (300_000, 1)]


def test_stats_output_flows_into_later_commands():
    records = run(
        "| from source | stats count() AS n BY f, span(timestamp, 5m) | where n > 1 | eval big = true",
        STATS_EVENTS,
    )
    assert [(r["f"], r["n"], r["big"]) for r in records] == [("a", 2, True)]


# ---- streaming-ML commands (spec 8) -------------------------------------------------------------

def test_first_time_event_output_field_name_and_values():
    events = [{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 3}, {"a": None, "b": 3}, {"a": None, "b": 3}]
    records = run('| from source | first_time_event input_columns=["a", "b"]', events)
    assert list(records[0]) == ["a", "b", "first_time_a_b"]
    assert [r["first_time_a_b"] for r in records] == [True, False, True, True, False]


def test_first_time_event_comma_separated_columns_are_trimmed():
    records = run('| from source | first_time_event input_columns="dest_device_id, cmd_line" cache_partitions=5', [
        {"dest_device_id": "h", "cmd_line": "x"}, {"dest_device_id": "h", "cmd_line": "x"},
    ])
    assert [r["first_time_dest_device_id_cmd_line"] for r in records] == [True, False]


def test_conditional_anomaly_adds_output_as_lift():
    events = [{"p": "services.exe", "c": "cmd.exe"}, {"p": "explorer.exe", "c": "notepad.exe"},
              {"p": "services.exe", "c": "cmd.exe"}, {"p": "explorer.exe", "c": "cmd.exe"}, {"c": "x"}]
    records = run('| from source | conditional_anomaly conditional="p" target="c"', events)
    assert list(records[0]) == ["p", "c", "output"]
    outputs = [r["output"] for r in records]
    # update first, then (n_ct/n_c) / (n_t/N): (1/1)/(1/1), (1/1)/(1/2), (2/2)/(2/3), (1/2)/(3/4)
    assert outputs[:4] == [pytest.approx(1.0), pytest.approx(2.0), pytest.approx(1.5), pytest.approx(2 / 3)]
    assert outputs[4] is None


def test_adaptive_threshold_gaussian_output_fields():
    events = [{"input": 1.0, "timestamp": 0}, {"input": 2.0, "timestamp": 1}, {"input": 3.0, "timestamp": 2}]
    records = run('| from source | adaptive_threshold algorithm="gaussian" threshold=0.001 window=604800000L', events)
    assert list(records[0]) == ["input", "timestamp", "mean", "variance", "label"]
    assert (records[0]["mean"], records[0]["variance"], records[0]["label"]) == (None, None, False)
    assert records[2]["mean"] == pytest.approx(1.5)
    assert records[2]["variance"] == pytest.approx(0.25)
    assert all(type(r["label"]) is bool for r in records)


def test_adaptive_threshold_default_algorithm_is_gaussian():
    (record,) = run("| from source | adaptive_threshold", [{"input": 1.0, "timestamp": 0}])
    assert list(record) == ["input", "timestamp", "mean", "variance", "label"]


def test_adaptive_threshold_quantile_output_fields_with_entity_and_value():
    events = [{"v": 1.0, "e": "a", "timestamp": 0}, {"v": 2.0, "e": "a", "timestamp": 1},
              {"v": 0.5, "e": "b", "timestamp": 2}, {"v": 0.5, "e": "a", "timestamp": 3}]
    records = run('| from source | adaptive_threshold algorithm="quantile" entity="e" value="v"', events)
    assert list(records[0]) == ["v", "e", "timestamp", "quantile", "label"]
    assert [r["quantile"] for r in records] == [0.0, 1.0, 0.0, 0.0]


def test_adaptive_threshold_entity_given_as_a_bare_name():
    records = run('| from source | adaptive_threshold algorithm="quantile" entity=e value=v',
                  [{"v": 1.0, "e": "a", "timestamp": 0}, {"v": 2.0, "e": "b", "timestamp": 1}])
    assert [r["quantile"] for r in records] == [0.0, 0.0]  # separate models per entity


# ---- misc --------------------------------------------------------------------------------------

def test_run_is_lazy_and_can_be_consumed_in_parts():
    search = Search.compile("| from source | where x > 0")
    iterator = search.run(({"x": i} for i in range(10_000)), batch_size=100)
    first = next(iterator)
    assert first == {"x": 1}
    assert sum(1 for _ in iterator) == 9_998


def test_index_access_on_lists_and_maps():
    record = {"l": [1, 2, 3], "m": {"k": "v"}}
    assert values("l[0]", record) == 1
    assert values("l[5]", record) is None
    assert values('m["k"]', record) == "v"
    assert values('m["nope"]', record) is None
    assert values("m[0]", record) is None
    assert values('ucast(l, "collection<long>", [])[1]', record) == 2


def test_non_boolean_predicate_is_counted_as_a_record_error():
    events = [{"b": True}, {"b": "true"}, {"b": 1}, {}]
    records, errors = run_counting("| from source | where b", events)
    assert len(records) == 1
    assert errors.count == 2  # "true" and 1; null is not an error


# An OR of `field = literal` terms is a membership test; it must keep `=`'s rules (True is not 1,
# 1.0 is 1, "1" is not 1, null only equals null), whatever shortcut evaluates it.
OR_EVENTS = [
    {"id": 1, "x": True}, {"id": 2, "x": 1.0}, {"id": 3}, {"id": 4, "x": "1"}, {"id": 5, "x": [1]},
    {"id": 6, "x": 2}, {"id": 7, "x": False}, {"id": 8, "x": 0},
]


@pytest.mark.parametrize(
    "predicate, ids",
    [
        ("x = 1 OR x = 2", [2, 6]),
        ("x = 0 OR x = 2", [6, 8]),
        ("1 = x OR 2 = x", [2, 6]),
        ("x == 1.0 OR x == 2", [2, 6]),
        ("x = null OR x = 1", [2, 3]),
        ('x = "1" OR x = "2"', [4]),
        ("x = true OR x = 5", [1]),
        ("x = false OR x = 5", [7]),
        ("NOT (x = 1 OR x = 2)", [1, 3, 4, 5, 7, 8]),
        ("x = 1 OR y = 2", [2]),
        ("x IN (1, 2)", [2, 6]),
        ("x IN (true)", [1]),
    ],
)
def test_or_of_equalities_keeps_null_safe_typed_equality(predicate, ids):
    assert column(f"| from source | where {predicate}", OR_EVENTS, "id") == ids
