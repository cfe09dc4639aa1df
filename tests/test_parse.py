"""Search text -> AST (spec sections 2 and 4): literals, operators, precedence, commands, spans."""
from __future__ import annotations

import pytest

from spl_lite.syntax import ast
from spl_lite.core.errors import SplError
from spl_lite.syntax.parse import parse


# ---- helpers -----------------------------------------------------------------------------------

def sx(node) -> str:
    """A span-free, S-expression picture of an expression, so tests read as the tree they expect."""
    if isinstance(node, ast.Literal):
        return repr(node.value)
    if isinstance(node, ast.Regex):
        return f"/{node.pattern}/{node.flags}"
    if isinstance(node, ast.Duration):
        return f"{node.millis}ms"
    if isinstance(node, ast.Field):
        return ".".join(node.path) if all(p.isidentifier() for p in node.path) else f"`{'.'.join(node.path)}`"
    if isinstance(node, ast.Call):
        return f"{node.name}({', '.join(sx(a) for a in node.args)})"
    if isinstance(node, ast.NamedArgument):
        return f"{node.name}: {sx(node.value)}"
    if isinstance(node, ast.Unary):
        return f"({node.op} {sx(node.operand)})"
    if isinstance(node, ast.Logical):
        return f"({node.op} {' '.join(sx(o) for o in node.operands)})"
    if isinstance(node, ast.Binary):
        return f"({node.op} {sx(node.left)} {sx(node.right)})"
    if isinstance(node, ast.In):
        return f"({'not-in' if node.negated else 'in'} {sx(node.value)} [{', '.join(sx(o) for o in node.options)}])"
    if isinstance(node, ast.IsNull):
        return f"({'is-not-null' if node.negated else 'is-null'} {sx(node.value)})"
    if isinstance(node, ast.Index):
        return f"{sx(node.target)}[{sx(node.index)}]"
    if isinstance(node, ast.ListLiteral):
        return "[" + ", ".join(sx(i) for i in node.items) + "]"
    if isinstance(node, ast.MapLiteral):
        return "{" + ", ".join(f"{sx(k)}: {sx(v)}" for k, v in node.entries) + "}"
    raise TypeError(type(node).__name__)


def commands(text: str) -> tuple:
    program = parse(text)
    assert len(program.statements) == 1
    return program.statements[0].commands


def expr(text: str):
    """The expression `text` as an eval right-hand side."""
    (_, evaluation) = commands("| from source | eval y = " + text)
    assert isinstance(evaluation, ast.Eval)
    (assignment,) = evaluation.assignments
    return assignment.value


def pred(text: str):
    (_, where) = commands("| from source | where " + text)
    assert isinstance(where, ast.Where)
    return where.predicate


def literal(text: str):
    node = expr(text)
    assert isinstance(node, ast.Literal), node
    return node.value


# ---- string literals (spec 2.3) ----------------------------------------------------------------

@pytest.mark.parametrize(
    "source, value",
    [
        (r'"abc"', "abc"),
        (r'""', ""),
        (r'"\\"', "\\"),                       # one backslash
        (r'"\\PATH"', "\\PATH"),               # the corpus replace() argument: 5 characters
        (r'"C:\\windows\temp"', "C:\\windows\temp"),  # SPL2's own example: \t is a TAB
        (r'"a\tb\nc\rd"', "a\tb\nc\rd"),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"\d+\.exe"', r"\d+\.exe"),          # unknown escapes keep both characters
        (r'"\q"', "\\q"),
        (r'"(?<field0>[^\\\\]+)$"', r"(?<field0>[^\\]+)$"),  # the rex corpus pattern
        ('"two\nlines"', "two\nlines"),        # a raw newline inside a string is kept
        (r'"/* not a comment */"', "/* not a comment */"),
    ],
)
def test_string_escapes(source, value):
    assert literal(source) == value


def test_string_literal_lengths_follow_escapes():
    assert len(literal(r'"\\"')) == 1
    assert len(literal(r'"\t"')) == 1
    assert len(literal(r'"\x"')) == 2


# ---- regex literals (spec 2.4) -----------------------------------------------------------------

@pytest.mark.parametrize(
    "source, pattern, flags",
    [
        ("/abc/", "abc", ""),
        ("/.*teardown.*outside.*inside/i", ".*teardown.*outside.*inside", "i"),
        ("/a/ims", "a", "ims"),
        ("/[/]x/", "[/]x", ""),                 # a slash inside [...] does not end the literal
        ("/[^/\\]]+/", "[^/\\]]+", ""),          # nor after an escaped ] inside the class
        (r"/.* \/[cC] .*/", r".* \/[cC] .*", ""),  # \/ is an escaped slash (kept for the regex engine)
        ("/^(?i)ntkd\\.exe/", "^(?i)ntkd\\.exe", ""),
    ],
)
def test_regex_literals(source, pattern, flags):
    node = expr(f"match_regex(x, {source})")
    regex = node.args[1]
    assert isinstance(regex, ast.Regex)
    assert (regex.pattern, regex.flags) == (pattern, flags)


def test_regex_literal_may_hold_a_newline():
    node = expr("match_regex(x, /a\nb/)")
    assert node.args[1].pattern == "a\nb"


def test_regex_is_division_after_an_operand():
    assert sx(expr("x / 2")) == "(/ x 2)"
    assert sx(expr("4/2")) == "(/ 4 2)"
    assert sx(expr("(x) / 2")) == "(/ x 2)"


@pytest.mark.parametrize("source", ["a / b / c", "a/b/c", "x / 2 + y / 3"])
def test_division_chains(source):
    assert sx(expr(source)) in ("(/ (/ a b) c)", "(+ (/ x 2) (/ y 3))")


def test_division_followed_by_a_regex_later_in_the_search():
    (_, evaluation, where) = commands("| from source | eval r = x / 2 | where match_regex(y, /foo/)")
    assert sx(evaluation.assignments[0].value) == "(/ x 2)"
    assert sx(where.predicate) == "match_regex(y, /foo/)"


# ---- numbers, durations, booleans, null (spec 2.5) ---------------------------------------------

@pytest.mark.parametrize(
    "source, value, kind",
    [
        ("123", 123, int),
        ("123L", 123, int),
        ("604800000L", 604800000, int),
        ("0", 0, int),
        ("1.0", 1.0, float),
        ("0.001", 0.001, float),
        (".5", 0.5, float),
        ("1e3", 1000.0, float),
        ("2.5e-3", 0.0025, float),
        ("2F", 2.0, float),
        ("5D", 5.0, float),
        ("true", True, bool),
        ("FALSE", False, bool),
    ],
)
def test_number_and_boolean_literals(source, value, kind):
    got = literal(source)
    assert got == value and type(got) is kind


def test_null_literal_in_any_case():
    for source in ("null", "NULL", "Null"):
        assert literal(source) is None


@pytest.mark.parametrize(
    "source, millis",
    [("5000ms", 5000), ("300s", 300_000), ("5m", 300_000), ("10m", 600_000), ("1h", 3_600_000),
     ("86400s", 86_400_000), ("1d", 86_400_000), ("1w", 604_800_000)],
)
def test_durations(source, millis):
    node = expr(f"span(timestamp, {source})").args[1]
    assert isinstance(node, ast.Duration)
    assert (node.millis, node.text) == (millis, source)


def test_a_duration_needs_its_unit_to_end_the_word():
    # `5min` is not `5m` followed by `in`; it does not lex as a duration at all.
    with pytest.raises(SplError):
        parse("| from source | eval y = 5min")


@pytest.mark.parametrize(
    "source, value",
    [("-1", -1), ("-1L", -1), ("- 5", -5), ("-2.5", -2.5), ("-(5)", -5), ("-(-5)", 5), ("--5", 5)],
)
def test_unary_minus_folds_into_numeric_literals(source, value):
    node = expr(source)
    assert isinstance(node, ast.Literal) and node.value == value and type(node.value) is type(value)


def test_unary_minus_on_expressions_stays_an_operator():
    assert sx(expr("-x")) == "(- x)"
    assert sx(expr("(-1)*log(output)")) == "(* -1 log(output))"
    assert sx(expr('-"a"')) == "(- 'a')"
    assert sx(expr("-2 * 3")) == "(* -2 3)"
    assert sx(expr("2 * -x")) == "(* 2 (- x))"
    assert sx(expr("x - -1")) == "(- x -1)"
    assert sx(expr("x-1")) == "(- x 1)"


# ---- operators and precedence (spec 4) ---------------------------------------------------------

@pytest.mark.parametrize(
    "source, tree",
    [
        ("1 + 2 * 3", "(+ 1 (* 2 3))"),
        ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
        ("1 - 2 - 3", "(- (- 1 2) 3)"),
        ("a * b % c", "(% (* a b) c)"),
        ("x + 1 > 2", "(> (+ x 1) 2)"),
        ("x == 1", "(= x 1)"),
        ("x = 1", "(= x 1)"),
        ("x != 1", "(!= x 1)"),
        ("x <= 1", "(<= x 1)"),
        ("x >= 1", "(>= x 1)"),
        ("x < 1", "(< x 1)"),
        ("x > 1", "(> x 1)"),
        # comparison binds tighter than NOT (`NOT dest_user="-"` in the corpus)
        ('NOT dest_user="-"', "(not (= dest_user '-'))"),
        ("NOT a AND b", "(and (not a) b)"),
        ("NOT NOT a", "(not (not a))"),
        # AND before OR
        ("a OR b AND c", "(or a (and b c))"),
        ("a AND b OR c AND d", "(or (and a b) (and c d))"),
        ("(a OR b) AND c", "(and (or a b) c)"),
        ('NOT x="a" and y=1 Or z=2', "(or (and (not (= x 'a')) (= y 1)) (= z 2))"),
        # chains flatten (corpus searches OR hundreds of terms)
        ("a OR b OR c OR d", "(or a b c d)"),
        ("a and b AND c", "(and a b c)"),
        ("(a OR b) OR c", "(or a b c)"),
        ("a OR (b OR c)", "(or a (or b c))"),
        ("label AND input > mean", "(and label (> input mean))"),
    ],
)
def test_precedence(source, tree):
    assert sx(pred(source)) == tree


@pytest.mark.parametrize("word_and, word_or, word_not", [("AND", "OR", "NOT"), ("and", "or", "not"), ("And", "oR", "nOt")])
def test_logical_keywords_in_any_case(word_and, word_or, word_not):
    tree = pred(f"{word_not} a {word_and} b {word_or} c")
    assert sx(tree) == "(or (and (not a) b) c)"


def test_comparisons_do_not_chain():
    with pytest.raises(SplError):
        parse("| from source | where x = 1 = 2")


@pytest.mark.parametrize(
    "source, tree",
    [
        ('x LIKE "%cmd.exe%"', "(like x '%cmd.exe%')"),
        ('x like "a%"', "(like x 'a%')"),
        ('x NOT LIKE "a%"', "(not (like x 'a%'))"),
        ('x not like "a%"', "(not (like x 'a%'))"),
        ('like(x, "a%")', "like(x, 'a%')"),
        ('NOT x LIKE "a%"', "(not (like x 'a%'))"),
    ],
)
def test_like(source, tree):
    assert sx(pred(source)) == tree


@pytest.mark.parametrize(
    "source, tree",
    [
        ("x IN (1, 2)", "(in x [1, 2])"),
        ('x in ("a")', "(in x ['a'])"),
        ("x NOT IN (1, 2)", "(not-in x [1, 2])"),
        ("x not in (1)", "(not-in x [1])"),
        ('"Endpoint_Processes" IN(_datamodels)', "(in 'Endpoint_Processes' [_datamodels])"),
        ("in(x, 1, 2)", "in(x, 1, 2)"),
        ("x IN (1) AND y NOT IN (2)", "(and (in x [1]) (not-in y [2]))"),
    ],
)
def test_in(source, tree):
    assert sx(pred(source)) == tree


@pytest.mark.parametrize(
    "source, tree",
    [
        ("x IS NULL", "(is-null x)"),
        ("x is null", "(is-null x)"),
        ("x IS NOT NULL", "(is-not-null x)"),
        ("x iS nOt NuLl", "(is-not-null x)"),
        ("NOT x IS NULL", "(not (is-null x))"),
        ("x IS NULL OR y IS NOT NULL", "(or (is-null x) (is-not-null y))"),
        ("map_get(e, \"k\") IS NOT NULL", "(is-not-null map_get(e, 'k'))"),
    ],
)
def test_is_null(source, tree):
    assert sx(pred(source)) == tree


def test_in_and_is_null_node_fields():
    node = pred("x NOT IN (1, 2)")
    assert isinstance(node, ast.In) and node.negated is True and len(node.options) == 2
    node = pred("x IS NOT NULL")
    assert isinstance(node, ast.IsNull) and node.negated is True


# ---- calls, named arguments, names -------------------------------------------------------------

def test_function_names_are_lower_cased_and_arguments_kept_in_order():
    node = expr('MAP_GET(input_event, "_time")')
    assert isinstance(node, ast.Call)
    assert node.name == "map_get"
    assert sx(node) == "map_get(input_event, '_time')"


def test_named_arguments():
    node = expr('cidrmatch(ip: dest_ip, cidr_range: "10.0.0.0/8")')
    assert isinstance(node, ast.Call)
    first, second = node.args
    assert isinstance(first, ast.NamedArgument) and isinstance(second, ast.NamedArgument)
    assert (first.name, sx(first.value)) == ("ip", "dest_ip")
    assert (second.name, sx(second.value)) == ("cidr_range", "'10.0.0.0/8'")


def test_positional_then_named_arguments():
    assert sx(expr('log(x, base: 2)')) == "log(x, base: 2)"


def test_call_without_arguments():
    node = expr("time()")
    assert isinstance(node, ast.Call) and node.args == ()


def test_dotted_paths():
    node = expr("input_event.process.file.name")
    assert isinstance(node, ast.Field)
    assert node.path == ("input_event", "process", "file", "name")
    assert node.name == "input_event.process.file.name"


def test_backtick_and_single_quoted_names():
    node = expr("`dense/Sigmoid:0`")
    assert isinstance(node, ast.Field) and node.path == ("dense/Sigmoid:0",)
    node = expr("'json-map'")
    assert isinstance(node, ast.Field) and node.path == ("json-map",)
    node = expr("'a.b'")  # a quoted dot is part of the name, not a path
    assert node.path == ("a.b",)
    node = expr("'Start Time' + 1")
    assert sx(node) == "(+ `Start Time` 1)"


def test_quoted_name_as_eval_target():
    (_, evaluation) = commands("| from source | eval `embedding_input:0` = 1")
    assert evaluation.assignments[0].target.path == ("embedding_input:0",)


def test_names_that_look_like_keywords_or_commands():
    # command names stay ordinary field names inside expressions
    assert sx(expr("stats + eval")) == "(+ stats eval)"
    assert sx(expr("fromage")) == "fromage"
    assert sx(expr("android")) == "android"  # begins with `and`
    assert sx(expr("order_id")) == "order_id"  # begins with `or`
    assert sx(expr("notes")) == "notes"


def test_indexing():
    node = expr('ucast(map_get(input_event, "dest_device_ips"), "collection<string>", [])[0]')
    assert isinstance(node, ast.Index)
    assert sx(node) == "ucast(map_get(input_event, 'dest_device_ips'), 'collection<string>', [])[0]"
    assert sx(expr('m["k"][0]')) == "m['k'][0]"
    assert sx(expr("x[-1]")) == "x[-1]"
    assert sx(expr("x[i + 1]")) == "x[(+ i 1)]"


def test_list_and_map_literals():
    assert sx(expr("[]")) == "[]"
    assert sx(expr('["a", 1, null, [2L]]')) == "['a', 1, None, [2]]"
    assert sx(expr("{}")) == "{}"
    assert sx(expr('{"k": 1, "m": {"n": [true]}}')) == "{'k': 1, 'm': {'n': [True]}}"
    assert sx(expr('create_map(["process_name", process_name])')) == "create_map(['process_name', process_name])"
    node = expr('{"a": x + 1}')
    assert isinstance(node, ast.MapLiteral)
    (key, value), = node.entries
    assert isinstance(key, ast.Literal) and isinstance(value, ast.Binary)


# ---- commands ----------------------------------------------------------------------------------

def test_from_into_and_leading_pipe():
    frm, into = commands("| from read_ssa_enriched_events() | into write_ssa_detected_events();")
    assert isinstance(frm, ast.From) and isinstance(frm.source, ast.Call)
    assert frm.source.name == "read_ssa_enriched_events"
    assert isinstance(into, ast.Into) and into.sink.name == "write_ssa_detected_events"
    # the leading pipe and the final `;` are optional
    frm2, into2 = commands("from source | into sink")
    assert isinstance(frm2.source, ast.Field) and frm2.source.name == "source"
    assert isinstance(into2.sink, ast.Field) and into2.sink.name == "sink"


def test_command_keywords_in_any_case():
    cmds = commands('| FROM source | WHERE x=1 | Eval y=2 | SELECT y AS z | Into write_null()')
    assert [type(c) for c in cmds] == [ast.From, ast.Where, ast.Eval, ast.Select, ast.Into]


def test_eval_assignments_in_order():
    (_, evaluation) = commands('| from source | eval a=1, b=a+1, a = "x"')
    assert [(a.target.name, sx(a.value)) for a in evaluation.assignments] == [
        ("a", "1"), ("b", "(+ a 1)"), ("a", "'x'"),
    ]


def test_select_items_and_aliases():
    (_, select) = commands("| from source | select a, b AS c, lower(d) as e, f + 1")
    assert [(sx(i.value), i.alias.name if i.alias else None) for i in select.items] == [
        ("a", None), ("b", "c"), ("lower(d)", "e"), ("(+ f 1)", None),
    ]


def test_fields_rename():
    (_, keep, drop, plus, rename) = commands("| from source | fields a, b | fields - c | fields + d | rename a AS x, b as y")
    assert (keep.drop, [f.name for f in keep.names]) == (False, ["a", "b"])
    assert (drop.drop, [f.name for f in drop.names]) == (True, ["c"])
    assert (plus.drop, [f.name for f in plus.names]) == (False, ["d"])
    assert [(i.old.name, i.new.name) for i in rename.items] == [("a", "x"), ("b", "y")]


def test_stats_aggregations_and_group_by():
    (_, stats) = commands("| from source | stats count(x) AS n, max(y), count() BY f, g, span(timestamp, 600s, 300s)")
    assert isinstance(stats, ast.Stats)
    assert [(sx(a.call), a.alias.name if a.alias else None) for a in stats.aggregations] == [
        ("count(x)", "n"), ("max(y)", None), ("count()", None),
    ]
    assert [sx(g) for g in stats.group_by] == ["f", "g", "span(timestamp, 600000ms, 300000ms)"]


def test_generic_command_arguments():
    (_, rex, at) = commands(
        '| from source | rex field=parent_process "(?<field0>[^\\\\\\\\]+)$" '
        '| adaptive_threshold algorithm="gaussian" threshold=0.001 window=604800000L entity=device'
    )
    assert isinstance(rex, ast.GenericCommand) and rex.name == "rex"
    keyword, pattern = rex.args
    assert (keyword.name, sx(keyword.value)) == ("field", "parent_process")
    assert isinstance(pattern, ast.Literal) and pattern.value == "(?<field0>[^\\\\]+)$"
    assert at.name == "adaptive_threshold"
    assert [(a.name, sx(a.value)) for a in at.args] == [
        ("algorithm", "'gaussian'"), ("threshold", "0.001"), ("window", "604800000"), ("entity", "device"),
    ]


def test_generic_command_regex_and_list_arguments():
    (_, rex, fte) = commands('| from source | rex field=a /(?<b>x)/i | first_time_event input_columns=["a", "b"]')
    assert isinstance(rex.args[1], ast.Regex) and (rex.args[1].pattern, rex.args[1].flags) == ("(?<b>x)", "i")
    assert sx(fte.args[0].value) == "['a', 'b']"


def test_union_and_variables():
    (frm, union, into) = commands("| from $a | union $b, $c | into write_null()")
    assert isinstance(frm.source, ast.Variable) and frm.source.name == "a"
    assert [v.name for v in union.variables] == ["b", "c"]


def test_multi_statement_program():
    text = (
        "$ssa_input = | from read_ssa_enriched_events() | eval x = 1;\n"
        "$cond_1 = | from $ssa_input | where x = 1;\n"
        "| from $cond_1 | union $ssa_input | into write_ssa_detected_events();\n"
    )
    program = parse(text)
    first, second, third = program.statements
    assert isinstance(first, ast.Binding) and first.variable.name == "ssa_input"
    assert isinstance(first.pipeline, ast.Pipeline) and len(first.pipeline.commands) == 2
    assert isinstance(second, ast.Binding) and second.variable.name == "cond_1"
    assert isinstance(third, ast.Pipeline)
    assert [type(c) for c in third.commands] == [ast.From, ast.Union_, ast.Into]


def test_statement_separators_are_lenient():
    assert len(parse(";;| from source | into sink;;\n;| from source | into sink").statements) == 2


def test_empty_stage_is_accepted():
    assert [type(c) for c in commands("| from source | | eval a = 1")] == [ast.From, ast.Eval]


# ---- comments ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "/* leading */ | from source | eval a = 1",
        "| from source /* between pipes */ | eval a = 1",
        "| from source | /* after a pipe */ eval a = 1",
        "| from source | eval /* before the target */ a = 1",
        "| from source | eval a /* before = */ = 1",
        "| from source /**/ | eval a = 1",
        "| from source /* multi\nline | with \"quotes\" */ | eval a = 1",
    ],
)
def test_comments_between_tokens(text):
    (_, evaluation) = commands(text)
    assert [(a.target.name, sx(a.value)) for a in evaluation.assignments] == [("a", "1")]


def test_comment_inside_an_eval_list_and_a_call():
    (_, evaluation) = commands("| from source | eval a = f(x /* c */, 1), /* between */ b = 2")
    assert [(a.target.name, sx(a.value)) for a in evaluation.assignments] == [("a", "f(x, 1)"), ("b", "2")]


# Where a regex literal could start, `/* ... */` must still be a comment (COMMENT outranks REGEX).
@pytest.mark.parametrize(
    "source, tree",
    [
        ("a /* c */ + 1", "(+ a 1)"),
        ("a + /* c */ 1", "(+ a 1)"),
        ('x = "a" /* c */ AND y = 1', "(and (= x 'a') (= y 1))"),
        ("f(x, /* c */ /a/)", "f(x, /a/)"),
        ("1 /* at the end of the command */", "1"),
        ('f(x) /* after a call */', "f(x)"),
    ],
)
def test_comments_inside_expressions(source, tree):
    assert sx(expr(source)) == tree


def test_comment_at_the_end_of_a_where_line():
    cmds = commands('| from source\n| where a = 1 /* keep ones */\n| eval b = 2')
    assert [type(c) for c in cmds] == [ast.From, ast.Where, ast.Eval]


# ---- spans -------------------------------------------------------------------------------------

def test_spans_of_nodes():
    text = "| from read_ssa_enriched_events()\n| eval name = lower(process_name)\n| where name = \"cmd.exe\""
    program = parse(text)
    frm, evaluation, where = program.statements[0].commands
    assert (frm.span.line, frm.span.column) == (1, 3)
    assert text[frm.span.start:frm.span.end] == "from read_ssa_enriched_events()"

    call = evaluation.assignments[0].value
    assert (call.span.line, call.span.column) == (2, 15)
    assert text[call.span.start:call.span.end] == "lower(process_name)"
    assert (call.name_span.line, call.name_span.column) == (2, 15)
    assert text[call.name_span.start:call.name_span.end] == "lower"
    argument = call.args[0]
    assert (argument.span.line, argument.span.column) == (2, 21)
    assert text[argument.span.start:argument.span.end] == "process_name"

    comparison = where.predicate
    assert (comparison.span.line, comparison.span.column) == (3, 9)
    assert text[comparison.span.start:comparison.span.end] == 'name = "cmd.exe"'
    string = comparison.right
    assert (string.span.line, string.span.column) == (3, 16)
    assert text[string.span.start:string.span.end] == '"cmd.exe"'  # the span covers the quotes


def test_spans_of_statements_and_variables():
    text = "$a = | from source;\n  | from $a | into sink;"
    binding, pipeline = parse(text).statements
    assert (binding.variable.span.line, binding.variable.span.column) == (1, 1)
    assert text[binding.variable.span.start:binding.variable.span.end] == "$a"
    variable = pipeline.commands[0].source
    assert (variable.span.line, variable.span.column) == (2, 10)
    assert text[variable.span.start:variable.span.end] == "$a"


def test_folded_negative_literal_span_covers_the_sign():
    text = "| from source | eval y = -42"
    node = parse(text).statements[0].commands[1].assignments[0].value
    assert text[node.span.start:node.span.end] == "-42"


def test_spans_cover_brackets_and_a_parenthesized_operand_counts_with_its_parentheses():
    text = "|| from source | where (a OR b) AND f(x)[0] IN (1, 2) AND [c] = {\"k\": (d)} | eval y = 1, ;"
    program = parse(text)
    pipeline = program.statements[0]
    where, evaluation = pipeline.commands[1:]
    conjunction = where.predicate
    grouped, membership, equality = conjunction.operands

    def written(node):
        return text[node.span.start:node.span.end]

    assert written(program) == text and written(pipeline) == text[:-2]  # the `|`s and `;` at the edges
    assert written(grouped) == "a OR b"  # the node itself stays inside its parentheses
    assert written(conjunction).startswith("(a OR b) AND")  # its parent starts at the `(`
    assert written(membership) == "f(x)[0] IN (1, 2)" and written(membership.value) == "f(x)[0]"
    assert written(equality) == '[c] = {"k": (d)}' and written(equality.right.entries[0][1]) == "d"
    assert written(evaluation) == "eval y = 1,"  # the trailing comma a published search has


def test_generic_command_name_span():
    text = "| from source\n|   conditional_anomaly conditional=\"p\" target=\"c\""
    node = parse(text).statements[0].commands[1]
    assert (node.name_span.line, node.name_span.column) == (2, 5)
    assert text[node.name_span.start:node.name_span.end] == "conditional_anomaly"


def test_walk_visits_every_node():
    node = pred('NOT lower(x) IN ("a", y)')
    kinds = [type(n).__name__ for n in ast.walk(node)]
    assert kinds == ["Unary", "In", "Call", "Field", "Literal", "Field"]


# ---- syntax errors carry positions -------------------------------------------------------------

def test_syntax_error_position():
    with pytest.raises(SplError) as info:
        parse('| from source\n| where x = "a" y = "b"')
    error = info.value
    assert error.code == "E0101"
    assert (error.span.line, error.span.column) == (2, 17)


def test_unterminated_string_is_named():
    with pytest.raises(SplError) as info:
        parse('| from source | where x = "abc')
    assert info.value.message == "unterminated string"
    assert info.value.span.column == 27


def test_placeholder_text_inside_a_comment_is_not_a_placeholder():
    parse("| from source /* fill $field$ or --body-- in */ | into write_null();")


@pytest.mark.parametrize("text", [
    "| from source | where match_regex(x, /a--b--c/) | into write_null();",
    "| from source | where 'cost$usd$' > 1 | into write_null();",
])
def test_placeholder_look_alikes_in_regex_and_quoted_names(text):
    parse(text)


def test_placeholder_look_alikes_inside_strings_are_fine():
    parse('| from source | where x = "--body--" OR y = "$field$" | into write_null();')
