"""Scalar functions (spec section 6), called the way the engine calls them: apply(FUNCTIONS[name], args)."""
import math

import numpy as np
import pytest

from spl_lite.functions import FUNCTIONS, apply
from spl_lite.functions.cast import _equal_width_digits, parse_long, parse_long_column
from spl_lite.functions.time import set_clock
from spl_lite.core.regex import compile_java
from spl_lite.core.batch import TEXT_KINDS, known


def call(name, *args):
    return apply(FUNCTIONS[name], args)


def regex(body, flags=""):
    return compile_java(body, flags)


# ---- registry ----------------------------------------------------------------------------------

# Every scalar function the corpus calls (commands, aggregations, sources and sinks excluded).
CORPUS_FUNCTIONS = [
    "map_get", "ucast", "create_map", "match_regex", "like", "lower", "match", "concat", "time",
    "parse_long", "mvappend", "in", "strftime", "if", "cast", "len", "replace", "cidrmatch",
    "mvindex", "from_json_object", "parse_double", "coalesce", "mvrange", "substr", "split", "log",
]


def test_every_corpus_function_is_registered():
    assert [name for name in CORPUS_FUNCTIONS if name not in FUNCTIONS] == []


def test_signatures_use_dsp_argument_names():
    assert FUNCTIONS["cidrmatch"].signature() == "cidrmatch(cidr_range, ip)"
    assert FUNCTIONS["log"].signature() == "log(value, base?)"
    assert FUNCTIONS["ucast"].signature() == "ucast(input, target_type, default_value)"
    assert FUNCTIONS["mvappend"].min_args == 0 and FUNCTIONS["mvappend"].max_args is None


def test_aliases_share_one_implementation():
    for alias, name in [("ceiling", "ceil"), ("to_string", "tostring"), ("match", "match_regex"),
                        ("deserialize_json_object", "from_json_object"), ("to_json_string", "serialize_json")]:
        assert FUNCTIONS[alias].impl is FUNCTIONS[name].impl


def test_apply_propagates_nulls_without_calling_the_body():
    assert call("lower", None) is None
    assert call("replace", "a", None, "b") is None


# ---- casting and conversion (6.1) -------------------------------------------------------------

def test_ucast_checks_but_never_converts():
    assert call("ucast", "x", "string", None) == "x"
    assert call("ucast", "1602004409000", "string", None) == "1602004409000"
    assert call("ucast", 1602004409000, "string", None) is None
    assert call("ucast", 5, "string", "") == ""
    assert call("ucast", 5, "long", None) == 5
    assert call("ucast", 5, "integer", None) == 5
    assert call("ucast", True, "long", 0) == 0
    assert call("ucast", 2.5, "long", 0) == 0
    assert call("ucast", 2, "double", None) == 2.0 and type(call("ucast", 2, "double", None)) is float
    assert call("ucast", True, "boolean", None) is True
    assert call("ucast", ["a"], "collection<string>", []) == ["a"]
    assert call("ucast", "a", "collection<string>", []) == []
    assert call("ucast", {"k": 1}, "map<string, any>", None) == {"k": 1}
    assert call("ucast", {"k": 1}, "map<string,any>", None) == {"k": 1}
    assert call("ucast", [], "map<string, any>", None) is None
    assert call("ucast", 3, "any", None) == 3
    assert call("ucast", 3, "int", None) == 3
    assert call("ucast", ["a"], "list<string>", None) == ["a"]


def test_ucast_null_input_gives_the_default():
    assert call("ucast", None, "string", "") == ""
    assert call("ucast", None, "collection<string>", []) == []
    assert call("ucast", None, "string", None) is None


def test_ucast_rejects_unknown_types():
    with pytest.raises(ValueError, match="unknown type 'strng'"):
        call("ucast", "x", "strng", None)


def test_cast_converts_basic_types():
    assert call("cast", "12", "long") == 12
    assert call("cast", "12", "integer") == 12
    assert call("cast", "99999999999", "integer") is None  # beyond 32 bits, as Integer.parseInt
    assert call("cast", "99999999999", "long") == 99999999999
    assert call("cast", "1.5", "long") is None
    assert call("cast", 2.9, "long") == 2
    assert call("cast", -2.5, "long") == -3  # DSP's table rounds down
    assert call("cast", math.nan, "long") is None
    assert call("cast", 7, "double") == 7.0
    assert call("cast", "0.25", "float") == 0.25
    assert call("cast", "abc", "double") is None
    assert call("cast", 1.5, "string") == "1.5"
    assert call("cast", 3, "string") == "3"
    assert call("cast", True, "string") == "true"
    assert call("cast", "x", "string") == "x"
    assert call("cast", {}, "string") is None  # not a basic type (spec 6.1; issue 14, item 16)
    assert call("cast", {"a": 1}, "string") is None
    assert call("cast", [1], "string") is None
    assert call("tostring", [1]) is None
    assert call("serialize_json", [1]) == "[1]"  # the way to JSON text
    assert call("cast", b"hi", "string") == "hi"
    assert call("cast", "hi", "bytes") == b"hi"
    assert call("cast", "TRUE", "boolean") is True
    assert call("cast", 1, "boolean") is None
    assert call("cast", True, "long") is None
    assert call("cast", None, "string") is None


def test_parse_long():
    assert call("parse_long", "1602004409000") == 1602004409000
    assert call("parse_long", "-42") == -42
    assert call("parse_long", "+7") == 7
    assert call("parse_long", "1.5") is None
    assert call("parse_long", " 1") is None
    assert call("parse_long", "") is None
    assert call("parse_long", "9223372036854775808") is None  # one past Long.MAX_VALUE
    assert call("parse_long", "٣") is None  # ASCII digits only
    assert call("parse_long", 12) is None  # strict: only parse_double is lenient (spec 6.1)
    assert call("parse_long", 12.0) is None
    assert call("parse_double", 12) == 12.0
    assert call("parse_long", None) is None


@pytest.mark.parametrize("texts", [
    ["1602004409000", "1602004409001", "0000000000007"],  # one width: read as a grid of digits
    ["1602004409000", "16020044090x1"],
    ["1602004409000", "160200440900\n"],  # a newline inside, the same length in all
    ["1602004409000", "+602004409001"],
    ["1602004409000", "١٦٠٢٠٠٤٤٠٩٠٠١"],  # digits, but not ASCII
    ["123456789012345678", "999999999999999999"],  # 18 digits: the widest the grid reads
    ["1234567890123456789", "9223372036854775807", "9223372036854775808"],  # 19: read one by one
    ["1", "22", "333", "-4"],
    ["", ""],
    ["7"],
], ids=lambda texts: "-".join(map(str, map(len, texts))))
def test_parse_long_of_a_text_column_is_parse_long_of_each(texts):
    column = known(np.array(texts, dtype=object), TEXT_KINDS)
    result = parse_long_column(column)
    expected = [parse_long(text) for text in texts]
    assert result == expected and [type(v) for v in result] == [type(v) for v in expected]


def test_digit_runs_of_one_width_are_read_as_a_grid():
    assert _equal_width_digits("0012\n9999\n0000", 3, 4).tolist() == [12, 9999, 0]
    assert _equal_width_digits("12\n345", 2, 2) is None  # widths differ
    assert _equal_width_digits("12\n3a", 2, 2) is None


def test_parse_double():
    assert call("parse_double", "0.5") == 0.5
    assert call("parse_double", " 2e3 ") == 2000.0
    assert call("parse_double", "1.") == 1.0
    assert call("parse_double", ".5") == 0.5
    assert call("parse_double", "1.5f") == 1.5
    assert call("parse_double", "-Infinity") == -math.inf
    assert math.isnan(call("parse_double", "NaN"))
    assert call("parse_double", "inf") is None
    assert call("parse_double", "nan") is None
    assert call("parse_double", "1_000") is None
    assert call("parse_double", "abc") is None
    assert call("parse_double", 12) == 12.0 and type(call("parse_double", 12)) is float
    assert call("parse_double", None) is None


def test_tostring():
    assert call("tostring", 42) == "42"
    assert call("tostring", 0.5) == "0.5"
    assert call("tostring", False) == "false"
    assert call("to_string", ["a", 1]) is None  # as cast(x, "string"): a list has no text form
    assert call("tostring", None) is None


# ---- maps and JSON (6.2) ------------------------------------------------------------------------

def test_map_get():
    assert call("map_get", {"a": 1}, "a") == 1
    assert call("map_get", {}, "a") is None
    assert call("map_get", {"a": {"b": 2}}, "a.b") is None  # no path traversal
    assert call("map_get", None, "a") is None
    assert call("map_get", {"a": 1}, None) is None
    with pytest.raises(TypeError):
        call("map_get", "not a map", "a")


def test_create_map_list_form():
    assert call("create_map", ["a", 1, "b", "x"]) == {"a": 1, "b": "x"}
    assert call("create_map", ["a", None]) == {"a": None}
    assert call("create_map", [None, 1, "b", 2]) == {"b": 2}
    assert call("create_map", [1, "one"]) == {"1": "one"}
    assert call("create_map", ["a", 1, "a", 2]) == {"a": 2}
    assert list(call("create_map", ["z", 1, "a", 2])) == ["z", "a"]
    assert call("create_map", None) is None
    with pytest.raises(ValueError, match="pairs"):
        call("create_map", ["a", 1, "b"])


def test_create_map_variadic_ba_form():
    body = call("create_map", "hostname", "host1", "type_id", 0, "tags", ["t"], "user", None)
    assert body == {"hostname": "host1", "type_id": 0, "tags": ["t"], "user": None}
    assert call("create_map") == {}
    with pytest.raises(ValueError):
        call("create_map", "a", 1, "b")


def test_from_json_object():
    assert call("from_json_object", '{"a": 1, "b": [1.5, null]}') == {"a": 1, "b": [1.5, None]}
    assert call("from_json_object", "[1, 2]") == [1, 2]
    assert call("deserialize_json_object", b'{"x": true}') == {"x": True}
    assert call("from_json_object", "{not json") is None
    assert call("from_json_object", "12") is None
    assert call("from_json_object", None) is None


def test_serialize_json():
    assert call("serialize_json", {"a": [1, "x", None], "b": 1.5}) == '{"a":[1,"x",null],"b":1.5}'
    assert call("to_json_string", "text") == '"text"'
    assert call("serialize_json", {"bad": math.inf, "zero": -0.0}) == '{"bad":null,"zero":0.0}'
    assert call("serialize_json", None) is None


# ---- lists (6.3) --------------------------------------------------------------------------------

def test_mvappend_flattens_and_skips_nulls():
    assert call("mvappend", "d", None, ["u"]) == ["d", "u"]
    assert call("mvappend", None, None) == []
    assert call("mvappend", "lorem", ["ipsum", None, "dolor"], "sit") == ["lorem", "ipsum", "dolor", "sit"]
    assert call("mvappend", [["nested"]], 1) == [["nested"], 1]  # one level only


def test_mvindex():
    assert call("mvindex", ["a", "b"], -1) == "b"
    assert call("mvindex", ["a", "b"], 0) == "a"
    assert call("mvindex", ["a"], 3) is None
    assert call("mvindex", ["a"], -2) is None
    assert call("mvindex", None, 0) is None
    assert call("mvindex", ["a"], None) is None
    with pytest.raises(TypeError):
        call("mvindex", "abc", 0)


def test_split():
    assert call("split", "c:\\w\\cmd.exe", "\\") == ["c:", "w", "cmd.exe"]
    assert call("split", "a\\b\\", "\\") == ["a", "b", ""]
    assert call("split", "a.b", ".") == ["a", "b"]  # literal, not a regex
    assert call("split", "abc", "") == ["a", "b", "c"]
    assert call("split", None, "\\") is None


def test_parent_process_name_idiom():
    parent = call("lower", "C:\\Windows\\System32\\CMD.exe")
    assert call("mvindex", call("split", parent, "\\"), -1) == "cmd.exe"


def test_mvrange():
    assert call("mvrange", 1, 5) == [1, 2, 3, 4]
    assert call("mvrange", 0, 10, 3) == [0, 3, 6, 9]
    assert call("mvrange", 5, 1, -2) == [5, 3]
    assert call("mvrange", 3, 3) == []
    assert len(call("mvrange", 1, 129)) == 128
    assert call("mvrange", None, 3) is None
    with pytest.raises(ValueError):
        call("mvrange", 1, 5, 0)


def test_length():
    assert call("length", [1, 5, 3, 4]) == 4
    assert call("length", "abc") == 3
    assert call("length", {"a": 1}) == 1
    assert call("length", b"ab") == 2
    assert call("length", None) is None
    with pytest.raises(TypeError):
        call("length", 5)


# ---- strings (6.4) ------------------------------------------------------------------------------

def test_lower_and_upper():
    assert call("lower", "C:\\Windows") == "c:\\windows"
    assert call("upper", "cmd.exe") == "CMD.EXE"
    assert call("lower", None) is None
    assert call("upper", None) is None
    with pytest.raises(TypeError, match="lower needs a string, got long"):
        call("lower", 5)


def test_len():
    assert call("len", "cmd.exe") == 7
    assert call("len", "") == 0
    assert call("len", None) is None
    # The unusually-long-command-line detection: parse_double(len(coalesce(cmd_line, "")))
    assert call("parse_double", call("len", call("coalesce", None, ""))) == 0.0


def test_concat():
    assert call("concat", "a", 1, "b") == "a1b"
    assert call("concat", "host ", "h1", " ran ", 2.5, " ", True) == "host h1 ran 2.5 true"
    assert call("concat", "a", None, "b") is None
    assert call("concat", ["Jane", " ", "Smith"]) == "Jane Smith"  # DSP's named form: values: [...]
    assert call("concat", ["a", None]) is None
    # Lists are not flattened (spec 6.4): a list among the arguments has no text form (issue 14, item 16).
    assert call("concat", "a", ["b", "c"]) is None
    assert call("concat", ["a", ["b"]]) is None
    assert call("concat", "a", {"k": 1}) is None
    assert call("concat", "a", b"hi") == "ahi"  # bytes as cast(x, "string") gives them
    assert call("concat") == ""


def test_replace():
    assert call("replace", "a12b3", regex(r"\d+"), "N") == "aNbN"
    assert call("replace", "x c:\\tmp\\a.exe y", regex(r"\w:\\[^\s]+"), "\\PATH") == "x PATH y"
    assert call("replace", "cmd /c -x", regex(r"\s(--?\w+)|(\/\w+)"), " ARG") == "cmd  ARG ARG"
    assert call("replace", "2020-10-06", regex(r"(\d+)-(\d+)-(\d+)"), "$3/$2/$1") == "06/10/2020"
    assert call("replace", "ab", regex(r"(?<first>a)"), "[${first}]") == "[a]b"
    assert call("replace", "ab", regex("a|(b)"), "<$1>") == "<><b>"  # unmatched group inserts nothing
    assert call("replace", "a", regex("(a)"), "$10") == "a0"  # Java: $1 then a literal 0
    assert call("replace", "a", regex("a"), "\\$1") == "$1"
    assert call("replace", "a", regex("a"), "\\\\") == "\\"
    assert call("replace", "aXb", "x", "-") == "aXb"  # a string regex is compiled as Java
    assert call("replace", "aXb", "(?i)x", "-") == "a-b"
    assert call("replace", None, regex("a"), "b") is None


def test_replace_bad_replacements():
    with pytest.raises(ValueError, match="group \\$2"):
        call("replace", "a", regex("(a)"), "$2")
    with pytest.raises(ValueError, match="without a group number"):
        call("replace", "a", regex("a"), "$")
    with pytest.raises(ValueError, match="lone backslash"):
        call("replace", "a", regex("a"), "x\\")
    with pytest.raises(ValueError, match="unknown group"):
        call("replace", "a", regex("a"), "${nope}")


def test_substr():
    assert call("substr", "splunk", 1, 3) == "spl"
    assert call("substr", "splunk", 2) == "plunk"
    assert call("substr", "splunk", -3) == "unk"
    assert call("substr", "splunk", -3, 2) == "un"
    assert call("substr", "abc", 3, 1) == "c"
    assert call("substr", "abc", 4, 1) == ""
    assert call("substr", "abc", 1, -1) is None
    assert call("substr", None, 1, 1) is None
    assert call("substr", "abc", None) is None
    # The phishing searches walk a string one character at a time.
    assert [call("substr", "hey", i, 1) for i in call("mvrange", 1, 4)] == ["h", "e", "y"]


# ---- conditionals and predicates (6.5, 4) -------------------------------------------------------

def test_if():
    assert call("if", 1 > 0, "y", "n") == "y"
    assert call("if", False, "y", "n") == "n"
    assert call("if", None, "y", "n") == "n"
    assert call("if", True, None, "n") is None
    with pytest.raises(TypeError, match="boolean"):
        call("if", "yes", 1, 0)


def test_case():
    assert call("case", False, "a", True, "b", True, "c") == "b"
    assert call("case", None, "a", True, "b") == "b"
    assert call("case", False, "a") is None
    with pytest.raises(ValueError):
        call("case", True, "a", False)


def test_coalesce():
    assert call("coalesce", None, "") == ""
    assert call("coalesce", None, None, 3) == 3
    assert call("coalesce", None) is None
    assert call("coalesce", False, True) is False


def test_like():
    assert call("like", "7z.exe", "7z%") is True
    assert call("like", "a\\b", "%\\b") is True
    assert call("like", "WinRAR.exe", "winrar.exe") is False
    assert call("like", "c:\\windows\\cmd.exe", "%cmd.exe") is True
    assert call("like", "abc", "a_c") is True
    assert call("like", None, "7z%") is None
    assert call("like", "x", None) is None


def test_match_regex():
    assert call("match_regex", "cmd /c dir", regex(r".* \/[cC] .*")) is True
    assert call("match_regex", "powershell -enc", regex("enc")) is True  # unanchored
    assert call("match_regex", "x", regex("^y")) is False
    assert call("match_regex", "NTKD.exe", regex(r"^(?i)ntkd\.exe")) is True
    assert call("match_regex", "abc", "b") is True
    assert call("match_regex", None, regex("a")) is None


def test_match_g4_dialect():
    assert call("match", "reg save HKEY_LOCAL_MACHINE\\SAM", regex(r"(?i)HKEY_LOCAL_MACHINE\\SAM")) is True
    assert call("match", "mspub.exe", regex(r"(?i)visio.exe")) is False
    assert call("match", None, regex("a")) is None


def test_in():
    assert call("in", "A", ["A", "B"]) is True
    assert call("in", "Endpoint_Processes", ["Endpoint_Processes", "x"]) is True
    assert call("in", "cmd.exe", "reg.exe", "cmd.exe") is True
    assert call("in", "C", "A", ["B"]) is False
    assert call("in", 1, 1.0) is True  # numbers compare by value
    assert call("in", "1", 1) is False  # no string/number coercion
    assert call("in", None, "a") is False
    assert call("in", None, None) is True  # null-safe equality
    assert call("in", "a", None) is False


def test_cidrmatch():
    assert call("cidrmatch", "10.0.0.0/8", "10.1.2.3") is True
    assert call("cidrmatch", "192.168.0.0/16", "10.1.2.3") is False
    assert call("cidrmatch", "172.16.0.0/12", "172.31.255.255") is True
    assert call("cidrmatch", "10.0.0.5", "10.0.0.5") is True
    assert call("cidrmatch", "10.0.0.0/8", "not an ip") is False
    assert call("cidrmatch", "10.0.0.0/8", "::1") is False
    assert call("cidrmatch", None, "10.1.2.3") is None
    assert call("cidrmatch", "10.0.0.0/8", None) is None
    with pytest.raises(ValueError, match="not an IPv4 CIDR"):
        call("cidrmatch", "10.0.0.0/33", "10.1.2.3")


# ---- math (6.6) ---------------------------------------------------------------------------------

def test_log():
    assert call("log", 100) == 2.0
    assert call("log", 1000) == 3.0
    assert call("log", 8, 2) == 3.0
    assert call("log", 100, 10) == 2.0
    assert call("log", math.e ** 2, math.e) == pytest.approx(2.0)
    assert call("log", 0) == -math.inf
    assert math.isnan(call("log", -1))
    assert call("log", 4, 1) == math.inf
    assert call("log", None) is None
    assert call("log", 8, None) is None
    # The rare-parent-child detection: input = (-1)*log(output)
    assert -call("log", 0.001) == pytest.approx(3.0)


def test_ln_and_exp():
    assert call("ln", math.e) == 1.0
    assert call("ln", 0) == -math.inf
    assert math.isnan(call("ln", -1))
    assert call("exp", 0) == 1.0
    assert call("exp", 1000) == math.inf
    assert call("ln", None) is None
    assert call("exp", None) is None


def test_abs_ceil_floor_sqrt_pow():
    assert call("abs", -3) == 3 and type(call("abs", -3)) is int
    assert call("abs", -2.5) == 2.5
    assert call("ceil", 2.1) == 3 and type(call("ceil", 2.1)) is int
    assert call("ceiling", -2.1) == -2
    assert call("floor", 2.9) == 2
    assert call("floor", -2.1) == -3
    assert call("floor", 5) == 5
    assert call("ceil", math.inf) == math.inf
    assert call("sqrt", 16) == 4.0
    assert math.isnan(call("sqrt", -1))
    assert call("pow", 2, 10) == 1024.0
    assert call("pow", 0, -1) == math.inf
    assert math.isnan(call("pow", -8, 1 / 3))
    assert call("pow", 10, 400) == math.inf
    assert call("pow", -10, 401) == -math.inf
    for name in ("abs", "ceil", "ceiling", "floor", "sqrt"):
        assert call(name, None) is None
    assert call("pow", 2, None) is None
    with pytest.raises(TypeError, match="number"):
        call("abs", True)


# ---- time (6.7) ---------------------------------------------------------------------------------

def test_time_uses_the_replaceable_clock():
    previous = set_clock(lambda: 1602004409000)
    try:
        assert call("time") == 1602004409000
    finally:
        set_clock(previous)
    assert abs(call("time") - __import__("time").time() * 1000) < 60_000


def test_strftime_ba_event_time():
    # BA findings: strftime(timestamp, "%Y-%m-%dT%H:%M:%S.%6QZ", "%Z"); an unknown zone id means UTC.
    assert call("strftime", 1602004409123, "%Y-%m-%dT%H:%M:%S.%6QZ", "%Z") == "2020-10-06T17:13:29.123000Z"


def test_strftime_codes_and_zones():
    ms = 1602004409123  # 2020-10-06 17:13:29.123 UTC, a Tuesday
    assert call("strftime", ms, "%Y-%m-%d %H:%M:%S.%Q") == "2020-10-06 17:13:29.123"
    assert call("strftime", ms, "%3N|%6N|%9N|%N", None) == "123|123000|123000000|123000000"
    assert call("strftime", ms, "%a %A %b %B %e %j %p %I %y %F %T %s %%") == (
        "Tue Tuesday Oct October  6 280 PM 05 20 2020-10-06 17:13:29 1602004409 %"
    )
    assert call("strftime", ms, "%H:%M %Z %z %:z", "America/New_York") == "13:13 EDT -0400 -04:00"
    assert call("strftime", ms, "%H:%M %z", "GMT-0700") == "10:13 -0700"
    assert call("strftime", ms, "%H:%M %z", "+05:30") == "22:43 +0530"
    assert call("strftime", -1, "%Y-%m-%dT%H:%M:%S.%3Q") == "1969-12-31T23:59:59.999"
    assert call("strftime", 1500.5, "%S.%6Q") == "01.500500"


def test_strftime_nulls_and_errors():
    assert call("strftime", None, "%Y", None) is None
    assert call("strftime", 0, None) is None
    with pytest.raises(ValueError, match="unsupported format variable '%c'"):
        call("strftime", 0, "%c")
    with pytest.raises(TypeError):
        call("strftime", "1602004409000", "%Y")


def test_mvrange_past_the_list_limit_is_a_counted_null_not_a_hang():
    from spl_lite import Search

    records = Search.compile('| from source | eval x = mvrange(0, 1000000000), y = mvrange(0, 3) | select x, y').run([{}])
    assert list(records) == [{"x": None, "y": [0, 1, 2]}]
    assert records.record_errors.count == 1
