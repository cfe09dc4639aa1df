"""Search text -> AST, through the Lark grammar; syntax errors become positioned SplErrors."""
from __future__ import annotations

import re
import threading
from functools import lru_cache
from importlib import resources

import lark
from lark import Token

from . import ast
from ..core.errors import SYNTAX, TEMPLATE_PLACEHOLDER, Span, SplError
from .text import check_size, paused_gc, span_at, tokens


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text()
    # The transformer runs as each rule is reduced: AST nodes are built directly, without a parse
    # tree or a second walk over it, and spans come from the children (tokens and nodes), which
    # is less than half the work of lark's propagate_positions. cache=True stores the built LALR
    # tables in the temp directory, keyed by the grammar's hash.
    return lark.Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
        transformer=_BUILDER,
        cache=True,
    )


_PARSING = threading.Lock()  # the builder's record of parenthesized nodes belongs to one parse


def parse(text: str) -> ast.Program:
    check_size(text)
    if text.startswith("\ufeff"):
        # A UTF-8 byte-order mark (Windows editors write one): read as a space, so that every
        # offset and column stays that of the text as given.
        text = " " + text[1:]
    with paused_gc(), _PARSING:
        try:
            return _parser().parse(text)
        except lark.exceptions.UnexpectedInput as error:
            _reject_placeholders(text)
            raise _syntax_error(error, text) from None
        finally:
            _BUILDER.in_parentheses.clear()


def _span_of_token(token: Token) -> Span:
    return Span(token.line, token.column, token.start_pos, token.end_pos)


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


class _AstBuilder:
    """Builds AST nodes as the parser reduces each rule; method names are the grammar's rule names
    and each gets the rule's children: tokens, nodes built before, tuples, None for an omitted
    optional part. A node's span runs from its first child to its last; a parenthesized child
    counts with its parentheses (the parenthesized node's own span stays inside them)."""

    def __init__(self):
        # id(node) -> (node, span with the parentheses); the node is held so its id stays unique.
        self.in_parentheses: dict[int, tuple[object, Span]] = {}

    def _outer(self, child) -> Span | None:
        if isinstance(child, Token):
            return _span_of_token(child)
        if child is None:
            return None
        if isinstance(child, tuple):  # arguments, a map entry
            first, last = self._first(child), self._last(child)
            return None if first is None else Span(first.line, first.column, first.start, last.end)
        found = self.in_parentheses.get(id(child))
        if found is not None and found[0] is child:
            return found[1]
        return child.span

    def _first(self, children) -> Span | None:
        for child in children:
            span = self._outer(child)
            if span is not None:
                return span
        return None

    def _last(self, children) -> Span | None:
        for child in reversed(children):
            span = self._outer(child)
            if span is not None:
                return span
        return None

    def _span(self, children) -> Span:
        first, last = self._first(children), self._last(children)
        return Span(first.line, first.column, first.start, last.end)

    # ---- program structure ----
    def start(self, children):
        statements = tuple(c for c in children if not isinstance(c, Token))
        return ast.Program(statements, self._span(children))

    def binding(self, children):
        variable, pipeline = children
        return ast.Binding(self._variable(variable), pipeline, self._span(children))

    def pipeline(self, children):
        commands = tuple(c for c in children if not isinstance(c, Token))
        return ast.Pipeline(commands, self._span(children))

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
    def from_cmd(self, children):
        return ast.From(self._source_or_sink(children[1]), self._span(children))

    def into_cmd(self, children):
        return ast.Into(self._source_or_sink(children[1]), self._span(children))

    def eval_cmd(self, children):
        assignments = tuple(c for c in children[1:] if isinstance(c, ast.Assignment))
        return ast.Eval(assignments, self._span(children))

    def assignment(self, children):
        target, value = children
        return ast.Assignment(target, value, self._span(children))

    def where_cmd(self, children):
        return ast.Where(children[1], self._span(children))

    def select_cmd(self, children):
        return ast.Select(tuple(children[1:]), self._span(children))

    def select_item(self, children):
        alias = children[2] if len(children) == 3 else None
        return ast.SelectItem(children[0], alias, self._span(children))

    def fields_cmd(self, children):
        drop = any(isinstance(c, Token) and c.type == "FIELDS_MODE" and c.value == "-" for c in children)
        names = tuple(c for c in children if isinstance(c, ast.Field))
        return ast.Fields(drop, names, self._span(children))

    def rename_cmd(self, children):
        return ast.Rename(tuple(children[1:]), self._span(children))

    def rename_item(self, children):
        return ast.RenameItem(children[0], children[2], self._span(children))

    def union_cmd(self, children):
        return ast.Union_(tuple(self._variable(t) for t in children[1:]), self._span(children))

    def stats_cmd(self, children):
        aggregations, group_by, seen_by = [], [], False
        for child in children[1:]:
            if isinstance(child, Token):
                seen_by = True
            elif seen_by:
                group_by.append(child)
            else:
                aggregations.append(child)
        return ast.Stats(tuple(aggregations), tuple(group_by), self._span(children))

    def aggregation(self, children):
        alias = children[2] if len(children) == 3 else None
        return ast.Aggregation(children[0], alias, self._span(children))

    def generic_cmd(self, children):
        name, *args = children
        return ast.GenericCommand(name.value.lower(), tuple(args), self._span(children), _span_of_token(name))

    def negative_number(self, children):
        return ast.Literal(-_number(children[1].value), self._span(children))

    def arg_name(self, children):
        token = children[0]
        return ast.Field((token.value,), _span_of_token(token))

    def keyword_arg(self, children):
        name, value = children
        return ast.KeywordArgument(name.value, value, self._span(children))

    # ---- expressions ----
    def parenthesized(self, children):
        inner = children[1]
        self.in_parentheses[id(inner)] = (inner, self._span(children))
        return inner

    def _binary(self, children, op, left, right):
        return ast.Binary(op, left, right, self._span(children))

    def _logical(self, op, children):
        operands = children[0::2]  # the operator tokens sit between the operands
        first = operands[0]
        if isinstance(first, ast.Logical) and first.op == op:  # `(a OR b) OR c` is one chain too
            operands[0:1] = first.operands
        return ast.Logical(op, tuple(operands), self._span(children))

    def xor_(self, children):
        return self._logical("xor", children)

    def or_(self, children):
        return self._logical("or", children)

    def and_(self, children):
        return self._logical("and", children)

    def not_(self, children):
        return ast.Unary("not", children[1], self._span(children))

    def compare(self, children):
        left, op, right = children
        return self._binary(children, "=" if op.value == "==" else op.value, left, right)

    def equal(self, children):
        return self._binary(children, "=", children[0], children[1])

    def like(self, children):
        return self._binary(children, "like", children[0], children[2])

    def not_like(self, children):
        return ast.Unary("not", self._binary(children, "like", children[0], children[3]), self._span(children))

    def in_(self, children):
        return ast.In(children[0], children[2], False, self._span(children))

    def not_in(self, children):
        return ast.In(children[0], children[3], True, self._span(children))

    def is_null(self, children):
        return ast.IsNull(children[0], False, self._span(children))

    def is_not_null(self, children):
        return ast.IsNull(children[0], True, self._span(children))

    def binary(self, children):
        left, op, right = children
        return self._binary(children, op.value, left, right)

    def negate(self, children):
        operand = children[1]
        span = self._span(children)
        if isinstance(operand, ast.Literal) and type(operand.value) in (int, float):
            return ast.Literal(-operand.value, span)
        return ast.Unary("-", operand, span)

    def index(self, children):
        return ast.Index(children[0], children[1], self._span(children))

    def list_(self, children):
        items = tuple(c for c in children if c is not None and not isinstance(c, Token))
        return ast.ListLiteral(items, self._span(children))

    def map_(self, children):
        entries = tuple(c for c in children if c is not None and not isinstance(c, Token))
        return ast.MapLiteral(entries, self._span(children))

    def map_entry(self, children):
        return (children[0], children[1])

    def call(self, children):
        name, args = children[0], children[1]
        return ast.Call(name.value.lower(), args, self._span(children), _span_of_token(name))

    def like_call(self, children):
        return ast.Call("like", children[1], self._span(children), _span_of_token(children[0]))

    def in_call(self, children):
        return ast.Call("in", children[1], self._span(children), _span_of_token(children[0]))

    def arguments(self, children):
        return tuple(c for c in children if c is not None)

    def named_argument(self, children):
        name, value = children
        return ast.NamedArgument(name.value, value, self._span(children))

    def field(self, children):
        (token,) = children
        span = _span_of_token(token)
        if token.type == "QUOTED_NAME":
            return ast.Field((token.value[1:-1],), span)
        return ast.Field(tuple(token.value.split(".")), span)

    # ---- literals ----
    def string(self, children):
        token = children[0]
        return ast.Literal(unescape_string(token.value[1:-1]), _span_of_token(token))

    def regex(self, children):
        token = children[0]
        closing = token.value.rindex("/")
        return ast.Regex(token.value[1:closing], token.value[closing + 1 :], _span_of_token(token))

    def number(self, children):
        token = children[0]
        return ast.Literal(_number(token.value), _span_of_token(token))

    def duration(self, children):
        token = children[0]
        return ast.Duration(duration_millis(token.value), token.value, _span_of_token(token))

    def true(self, children):
        return ast.Literal(True, _span_of_token(children[0]))

    def false(self, children):
        return ast.Literal(False, _span_of_token(children[0]))

    def null(self, children):
        return ast.Literal(None, _span_of_token(children[0]))


_BUILDER = _AstBuilder()


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
    "COMMA": "`,`", "VBAR": "`|`", "SEP": "`;`", "EQUAL": "`=`", "COLON": "`:`", "MINUS": "`-`",
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
