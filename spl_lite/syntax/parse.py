"""Search text -> AST, through the Lark grammar; syntax errors become positioned SplErrors."""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import lark
from lark import Token, v_args
from lark.visitors import Transformer_NonRecursive

from . import ast
from ..core.errors import SYNTAX, TEMPLATE_PLACEHOLDER, Span, SplError
from .text import check_size, paused_gc, span_at, tokens


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text()
    # cache=True stores the built LALR tables in the temp directory, keyed by the grammar's hash.
    return lark.Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


def parse(text: str) -> ast.Program:
    check_size(text)
    if text.startswith("\ufeff"):
        # A UTF-8 byte-order mark (Windows editors write one): read as a space, so that every
        # offset and column stays that of the text as given.
        text = " " + text[1:]
    with paused_gc():
        try:
            tree = _parser().parse(text)
        except lark.exceptions.UnexpectedInput as error:
            _reject_placeholders(text)
            raise _syntax_error(error, text) from None
        return _ToAst().transform(tree)


def _span_of_token(token: Token) -> Span:
    return Span(token.line, token.column, token.start_pos, token.end_pos)


def _span_of_meta(meta) -> Span:
    return Span(meta.line, meta.column, meta.start_pos, meta.end_pos)


_ESCAPES = {"\\": "\\", '"': '"', "t": "\t", "n": "\n", "r": "\r"}


def unescape_string(body: str) -> str:
    """Spec 2.3: `\\\\ \\" \\t \\n \\r` are escapes; any other backslash pair is kept as written."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), body, flags=re.S)


_DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def duration_millis(text: str) -> int | None:
    """Milliseconds of a duration as the language writes it (`500ms`, `30s`, `10m`, `1h`, `2d`, `1w`);
    None for anything else."""
    found = re.fullmatch(r"(\d+)([a-z]+)", text)
    if found is None or found.group(2) not in _DURATION_UNITS:
        return None
    return int(found.group(1)) * _DURATION_UNITS[found.group(2)]


def _number(text: str) -> int | float:
    suffix = text[-1].lower()
    if suffix == "l":
        return int(text[:-1])
    if suffix in "fd":
        return float(text[:-1])
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


@v_args(meta=True)
class _ToAst(Transformer_NonRecursive):
    """Builds AST nodes; method names are the grammar's rule names."""

    # ---- program structure ----
    def start(self, meta, children):
        return ast.Program(tuple(children), _span_of_meta(meta))

    def binding(self, meta, children):
        variable, pipeline = children
        return ast.Binding(self._variable(variable), pipeline, _span_of_meta(meta))

    def pipeline(self, meta, commands):
        return ast.Pipeline(tuple(commands), _span_of_meta(meta))

    @staticmethod
    def _variable(token: Token) -> ast.Variable:
        return ast.Variable(token.value[1:], _span_of_token(token))

    def _source_or_sink(self, item):
        if isinstance(item, Token):
            if item.type == "VARIABLE":
                return self._variable(item)
            return ast.Field((item.value,), _span_of_token(item))
        return item

    # ---- commands ----
    def from_cmd(self, meta, children):
        return ast.From(self._source_or_sink(children[1]), _span_of_meta(meta))

    def into_cmd(self, meta, children):
        return ast.Into(self._source_or_sink(children[1]), _span_of_meta(meta))

    def eval_cmd(self, meta, children):
        return ast.Eval(tuple(c for c in children[1:] if isinstance(c, ast.Assignment)), _span_of_meta(meta))

    def assignment(self, meta, children):
        target, value = children
        return ast.Assignment(target, value, _span_of_meta(meta))

    def where_cmd(self, meta, children):
        return ast.Where(children[1], _span_of_meta(meta))

    def select_cmd(self, meta, children):
        return ast.Select(tuple(children[1:]), _span_of_meta(meta))

    def select_item(self, meta, children):
        alias = children[2] if len(children) == 3 else None
        return ast.SelectItem(children[0], alias, _span_of_meta(meta))

    def fields_cmd(self, meta, children):
        drop = any(isinstance(c, Token) and c.type == "FIELDS_MODE" and c.value == "-" for c in children)
        names = tuple(c for c in children if isinstance(c, ast.Field))
        return ast.Fields(drop, names, _span_of_meta(meta))

    def rename_cmd(self, meta, children):
        return ast.Rename(tuple(children[1:]), _span_of_meta(meta))

    def rename_item(self, meta, children):
        return ast.RenameItem(children[0], children[2], _span_of_meta(meta))

    def union_cmd(self, meta, children):
        return ast.Union_(tuple(self._variable(t) for t in children[1:]), _span_of_meta(meta))

    def stats_cmd(self, meta, children):
        aggregations, group_by, seen_by = [], [], False
        for child in children[1:]:
            if isinstance(child, Token):
                seen_by = True
            elif seen_by:
                group_by.append(child)
            else:
                aggregations.append(child)
        return ast.Stats(tuple(aggregations), tuple(group_by), _span_of_meta(meta))

    def aggregation(self, meta, children):
        alias = children[2] if len(children) == 3 else None
        return ast.Aggregation(children[0], alias, _span_of_meta(meta))

    def generic_cmd(self, meta, children):
        name, *args = children
        return ast.GenericCommand(name.value.lower(), tuple(args), _span_of_meta(meta), _span_of_token(name))

    def negative_number(self, meta, children):
        token = children[0]
        return ast.Literal(-_number(token.value), _span_of_meta(meta))

    def arg_name(self, meta, children):
        token = children[0]
        return ast.Field((token.value,), _span_of_token(token))

    def keyword_arg(self, meta, children):
        name, value = children
        return ast.KeywordArgument(name.value, value, _span_of_meta(meta))

    # ---- expressions ----
    def _binary(self, meta, op, left, right):
        return ast.Binary(op, left, right, _span_of_meta(meta))

    def _logical(self, meta, op, children):
        operands = children[0::2]  # the operator tokens sit between the operands
        first = operands[0]
        if isinstance(first, ast.Logical) and first.op == op:  # `(a OR b) OR c` is one chain too
            operands[0:1] = first.operands
        return ast.Logical(op, tuple(operands), _span_of_meta(meta))

    def xor_(self, meta, children):
        return self._logical(meta, "xor", children)

    def or_(self, meta, children):
        return self._logical(meta, "or", children)

    def and_(self, meta, children):
        return self._logical(meta, "and", children)

    def not_(self, meta, children):
        return ast.Unary("not", children[1], _span_of_meta(meta))

    def compare(self, meta, children):
        left, op, right = children
        return self._binary(meta, "=" if op.value == "==" else op.value, left, right)

    def equal(self, meta, children):
        return self._binary(meta, "=", children[0], children[1])

    def like(self, meta, children):
        return self._binary(meta, "like", children[0], children[2])

    def not_like(self, meta, children):
        return ast.Unary("not", self._binary(meta, "like", children[0], children[3]), _span_of_meta(meta))

    def in_(self, meta, children):
        return ast.In(children[0], children[2], False, _span_of_meta(meta))

    def not_in(self, meta, children):
        return ast.In(children[0], children[3], True, _span_of_meta(meta))

    def is_null(self, meta, children):
        return ast.IsNull(children[0], False, _span_of_meta(meta))

    def is_not_null(self, meta, children):
        return ast.IsNull(children[0], True, _span_of_meta(meta))

    def binary(self, meta, children):
        left, op, right = children
        return self._binary(meta, op.value, left, right)

    def negate(self, meta, children):
        (operand,) = children
        span = _span_of_meta(meta)
        if isinstance(operand, ast.Literal) and type(operand.value) in (int, float):
            return ast.Literal(-operand.value, span)
        return ast.Unary("-", operand, span)

    def index(self, meta, children):
        return ast.Index(children[0], children[1], _span_of_meta(meta))

    def list_(self, meta, children):
        return ast.ListLiteral(tuple(c for c in children if c is not None), _span_of_meta(meta))

    def map_(self, meta, children):
        return ast.MapLiteral(tuple(c for c in children if c is not None), _span_of_meta(meta))

    def map_entry(self, meta, children):
        return (children[0], children[1])

    def call(self, meta, children):
        name, args = children
        return ast.Call(name.value.lower(), args, _span_of_meta(meta), _span_of_token(name))

    def like_call(self, meta, children):
        return ast.Call("like", children[1], _span_of_meta(meta), _span_of_token(children[0]))

    def in_call(self, meta, children):
        return ast.Call("in", children[1], _span_of_meta(meta), _span_of_token(children[0]))

    def arguments(self, meta, children):
        return tuple(c for c in children if c is not None)

    def named_argument(self, meta, children):
        name, value = children
        return ast.NamedArgument(name.value, value, _span_of_meta(meta))

    def field(self, meta, children):
        (token,) = children
        span = _span_of_token(token)
        if token.type == "QUOTED_NAME":
            return ast.Field((token.value[1:-1],), span)
        return ast.Field(tuple(token.value.split(".")), span)

    # ---- literals ----
    def string(self, meta, children):
        token = children[0]
        return ast.Literal(unescape_string(token.value[1:-1]), _span_of_token(token))

    def regex(self, meta, children):
        token = children[0]
        closing = token.value.rindex("/")
        return ast.Regex(token.value[1:closing], token.value[closing + 1 :], _span_of_token(token))

    def number(self, meta, children):
        token = children[0]
        return ast.Literal(_number(token.value), _span_of_token(token))

    def duration(self, meta, children):
        token = children[0]
        return ast.Duration(duration_millis(token.value), token.value, _span_of_token(token))

    def true(self, meta, children):
        return ast.Literal(True, _span_of_token(children[0]))

    def false(self, meta, children):
        return ast.Literal(False, _span_of_token(children[0]))

    def null(self, meta, children):
        return ast.Literal(None, _span_of_token(children[0]))


# ---- diagnostics ----
# Strings, quoted names and comments are skipped; what is left that looks like a template is one.
_PLACEHOLDER = re.compile(
    r'"(?:\\.|[^"\\])*"|`[^`]*`|\'[^\'\n]*\'|/\*.*?\*/|(--[A-Za-z_]+--|\$[A-Za-z_][A-Za-z0-9_]*\$)', re.S
)


def _reject_placeholders(text: str) -> None:
    """Content-build templates (`--body--`, `$field$`) are not SPL2: when a search does not parse,
    name the template rather than the token the parser tripped on."""
    for match in _PLACEHOLDER.finditer(text):
        if match.group(1):
            start = match.start(1)
            line = text.count("\n", 0, start) + 1
            column = start - (text.rfind("\n", 0, start) + 1) + 1
            raise SplError(
                TEMPLATE_PLACEHOLDER,
                f"unexpanded template placeholder `{match.group(1)}`",
                Span(line, column, start, match.end(1)),
                hint="this is filled in by Splunk's content build; substitute it before running",
            )


_COMMENTS = re.compile(r"/\*.*?\*/", re.S)

_TOKEN_NAMES = {
    "RPAR": "`)`", "LPAR": "`(`", "RSQB": "`]`", "LSQB": "`[`", "RBRACE": "`}`", "LBRACE": "`{`",
    "COMMA": "`,`", "VBAR": "`|`", "_SEP": "`;`", "EQUAL": "`=`", "COLON": "`:`", "MINUS": "`-`",
    "NAME": "a name", "DOTTED_NAME": "a dotted name", "QUOTED_NAME": "a quoted name",
    "VARIABLE": "a `$variable`", "STRING": "a string", "REGEX": "a regex", "NUMBER": "a number",
    "DURATION": "a duration", "COMPARE": "a comparison", "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/` or `%`", "$END": "end of input",
}
# Groups of terminals that mean one thing to a reader: "an expression" rather than twelve tokens.
_EXPRESSION_START = {"NAME", "STRING", "NUMBER", "LPAR", "LSQB", "LBRACE", "REGEX", "NULL", "TRUE", "FALSE"}


def _describe_expected(expected: set[str]) -> str:
    if {"AND", "OR", "COMPARE"} <= expected:
        # After a complete operand LALR's merged states offer every operator and every closing
        # bracket, most of them wrong here; the one thing surely missing is an operator.
        return "expected an operator such as `AND`, `OR` or `=` before this"
    if _EXPRESSION_START <= expected:
        rest = expected - _EXPRESSION_START - {"MINUS", "NOT", "LIKE", "IN", "DURATION", "DOTTED_NAME", "QUOTED_NAME"}
        names = ["an expression"] + sorted(_TOKEN_NAMES.get(t, f"`{t.lower()}`") for t in rest)
    else:
        names = sorted(_TOKEN_NAMES.get(t, f"`{t.lower()}`") for t in expected)
    if len(names) > 1:
        return "expected " + ", ".join(names[:-1]) + " or " + names[-1]
    return "expected " + (names[0] if names else "something else")


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of input"
    return f"`{token.value}`"


def _syntax_error(error: lark.exceptions.UnexpectedInput, text: str) -> SplError:
    if not _COMMENTS.sub("", text).strip():
        return SplError(SYNTAX, "the search is empty", Span(1, 1, 0, 0), hint="start with `| from read_ssa_enriched_events()`")
    named = _spl1(text) or _duration_words(error, text) or _runaway_string(error, text)
    if named is not None:
        return named
    if isinstance(error, lark.exceptions.UnexpectedToken):
        token = error.token
        if token.type == "$END":
            offset = len(text.rstrip())
            line = text.count("\n", 0, offset) + 1
            column = offset - (text.rfind("\n", 0, offset) + 1) + 1
            span = Span(line, column, offset, offset + 1)
        else:
            span = _span_of_token(token)
        return SplError(
            SYNTAX, f"unexpected {_describe_token(token)}", span, hint=_describe_expected(set(error.expected))
        )
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        start = error.pos_in_stream
        char = text[start]
        hint = _describe_expected(set(error.allowed)) if error.allowed else None
        if char == '"':
            message, hint = "unterminated string", "close it with `\"`"
        elif char in "'`":
            message, hint = "unterminated quoted name", f"close it with `{char}`"
        else:
            message = f"unexpected character `{char}`"
        return SplError(SYNTAX, message, Span(error.line, error.column, start, start + 1), hint=hint)
    offset = len(text)
    return SplError(SYNTAX, "unexpected end of input", Span(text.count("\n") + 1, 1, offset, offset))


# ---- named causes of syntax errors: mistakes whose plain "unexpected token" would mislead ----
_SPL1_START = re.compile(
    r"\s*(?:(search)\s+)?(?:(index|sourcetype|source|host|eventtype|tag)\s*!?=|([A-Za-z_][\w.]*)\s*!?=\s*[\w\"*])",
    re.I,
)


def _spl1(text: str) -> SplError | None:
    """`index=main sourcetype=X EventCode=1 | stats count by host` is SPL1, the search-head
    language: it starts with `field=value` terms (or `search`) where SPL2 starts with a command."""
    body = _COMMENTS.sub(lambda m: " " * len(m.group()), text)
    found = _SPL1_START.match(body)
    if found is None:
        return None
    start = found.start(1) if found.group(1) else found.start(2) if found.group(2) else found.start(3)
    word = next(g for g in found.groups() if g)
    return SplError(
        SYNTAX,
        "this is SPL1 (Splunk's search-head language); spl-lite reads SPL2 pipelines",
        span_at(text, start, start + len(word)),
        hint="start with `| from read_ssa_enriched_events()` and write the conditions after `| where`",
        notes=[
            'SPL1 `index=main sourcetype=S process_name=cmd.exe` is SPL2 `| from read_ssa_enriched_events() '
            '| eval process_name = ucast(map_get(input_event, "process_name"), "string", null) '
            '| where process_name = "cmd.exe"`: the source decides the events, not index or sourcetype',
            "SPL1 `| stats count by host` is SPL2 `| stats count() AS count BY host, span(timestamp, 5m)`",
            "end each pipeline with `| into write_ssa_detected_events();`",
        ],
    )


_UNIT_WORDS = {
    "ms": ("ms", "msec", "msecs", "millisecond", "milliseconds"),
    "s": ("s", "sec", "secs", "second", "seconds"),
    "m": ("m", "min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "d": ("d", "day", "days"),
    "w": ("w", "wk", "wks", "week", "weeks"),
}
_UNIT_OF = {word: unit for unit, words in _UNIT_WORDS.items() for word in words}


def _duration_words(error, text: str) -> SplError | None:
    """`10 minutes`, `10 min`, `10min`: a duration is written `10m`."""
    token = getattr(error, "token", None)
    if token is None or token.type != "NAME" or token.value.lower() not in _UNIT_OF:
        return None
    number = re.search(r"(\d+)\s*$", text[: token.start_pos])
    if number is None:
        return None
    unit = _UNIT_OF[token.value.lower()]
    written = text[number.start(1) : token.end_pos]
    return SplError(
        SYNTAX,
        f"`{written}` is not a duration",
        span_at(text, number.start(1), token.end_pos),
        hint=f"write `{number.group(1)}{unit}`: a number and a unit (ms, s, m, h, d, w), no space between",
    )


def _runaway_string(error, text: str) -> SplError | None:
    """An unclosed `"` swallows text up to the next `"`, often lines further on, and the error
    comes after it: point at the opening quote of a string that runs over lines before the error."""
    position = getattr(error, "pos_in_stream", None)
    token = getattr(error, "token", None)
    if token is not None and token.type != "$END":
        position = token.start_pos
    if position is None:
        return None
    opening = None
    for kind, start, end in tokens(text):
        if start >= position:
            break
        if kind == "string" and "\n" in text[start:end]:
            opening = start
        elif kind not in ("space", "comment"):
            opening = opening if kind == "string" else None
    if opening is None:
        return None
    return SplError(
        SYNTAX,
        "this string runs over several lines: is its closing `\"` missing?",
        span_at(text, opening, opening + 1),
        hint="close it with `\"` on the line where it starts",
    )
