"""`spl-lite fmt`: print a search's syntax tree back as text in one canonical layout.

The layout:

* each statement ends with `;`, statements are separated by a blank line, and a `$name =`
  binding starts on the line of its first command;
* each command is on its own line, starting `| `; command names and function names are lower
  case, the operator words upper case (`AND OR NOT LIKE IN IS NULL AS BY`), literals
  `true false null` lower case;
* one space around `=`, comparison and arithmetic operators, none inside brackets, `, ` between
  items; a command's `key=value` arguments are written without spaces, as SPL does;
* a line longer than 100 characters is broken: an AND/OR chain puts one term per line, indented,
  with the operator first (a nested chain goes in an indented parenthesised block); a long call,
  list or `IN (...)` puts its items on indented lines; a long `eval` puts one assignment a line;
* string and number literals keep their spelling (`"\\d"`, `604800000L`, `1.5F`), durations and
  regex literals are kept as written; quoted field names are quoted with back-ticks only where
  they must be;
* a `select` expression or `stats` aggregation without `AS` is kept exactly as written, because
  its text is the name of the field it makes;
* comments `/* */` stay where they stand when they end a command's line; a comment elsewhere
  inside a command goes on its own line just before that command.

The printer works on the AST, so what it prints parses back to the same tree (spans aside); the
command line checks that before it writes anything.
"""
from __future__ import annotations

import difflib
import os
import re
import sys
import tempfile
from dataclasses import fields as dataclass_fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from . import ast
from .parse import parse, unescape_string

WIDTH = 100
INDENT = 4

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?[LlFfDd]?")
_STRING = re.compile(r'"(\\.|[^"\\])*"', re.S)
# Words the grammar reads as keywords somewhere; a field with such a name is written quoted.
_KEYWORDS = {
    "from", "into", "eval", "where", "select", "fields", "rename", "union", "stats", "as", "by",
    "and", "or", "xor", "not", "like", "in", "is", "null", "true", "false",
}

# Binding levels, loosest first (grammar.lark): an operand printed where a tighter level is
# required gets parentheses.
_XOR = 0
_OR, _AND, _NOT, _PREDICATE, _SUM, _PRODUCT, _UNARY, _POSTFIX, _ATOM = range(1, 10)
_COMPARISONS = {"=", "!=", "<", "<=", ">", ">=", "like"}


# ---- comments ----
@lru_cache(maxsize=1)
def _comment_parser():
    """A second parser of the same grammar whose lexer hands every comment to `_COLLECTED`."""
    import lark

    grammar = resources.files(__package__).joinpath("grammar.lark").read_text()
    return lark.Lark(
        grammar, parser="lalr", lexer="contextual", cache=True,
        lexer_callbacks={"COMMENT": lambda token: _COLLECTED.append(token)},
    )


_COLLECTED: list = []


def comments_of(text: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of each `/* */` comment, as the lexer sees them (not inside strings)."""
    if "/*" not in text:
        return []
    _COLLECTED.clear()
    try:
        _comment_parser().parse(text)
        return [(t.start_pos, t.end_pos, t.value) for t in _COLLECTED]
    finally:
        _COLLECTED.clear()


class _Comments:
    """Where each comment goes: before a command (`leading`), at the end of its line (`trailing`),
    or after everything (`tail`). Keys are (statement index, command index)."""

    def __init__(self, text: str, program: ast.Program, verbatim: list[ast.Span] = ()):
        self.leading: dict[tuple[int, int], list[str]] = {}
        self.trailing: dict[tuple[int, int], list[str]] = {}
        self.tail: list[str] = []
        # A comment inside text printed as written is printed with it.
        found = [c for c in comments_of(text) if not any(v.start <= c[0] < v.end for v in verbatim)]
        if not found:
            return
        anchors = []  # (anchor start, command start, command end, key)
        for s, statement in enumerate(program.statements):
            pipeline = statement.pipeline if isinstance(statement, ast.Binding) else statement
            for c, command in enumerate(pipeline.commands):
                start = statement.span.start if c == 0 else command.span.start
                anchors.append((start, command.span.start, command.span.end, (s, c)))
        for start, end, comment in found:
            self._place(text, anchors, start, end, comment)

    def _place(self, text, anchors, start, end, comment) -> None:
        for anchor, command_start, command_end, key in anchors:
            if anchor <= start < command_end:  # inside a command (or between `$x =` and it)
                self.leading.setdefault(key, []).append(comment)
                return
        before = [a for a in anchors if a[2] <= start]
        if before:
            _, _, previous_end, key = before[-1]
            if "\n" not in text[previous_end:start]:
                self.trailing.setdefault(key, []).append(comment)
                return
        for anchor, _, _, key in anchors:
            if anchor >= end:
                self.leading.setdefault(key, []).append(comment)
                return
        self.tail.append(comment)


def _named_by_text(program: ast.Program) -> list[ast.Span]:
    """Spans whose text is an output field's name: a `select` expression (not a plain field)
    without AS, and a `stats` aggregation without AS. They are printed as written, or formatting
    would rename the field (`select lower( x )` makes the field `lower( x )`)."""
    spans = []
    for node in ast.walk(program):
        if isinstance(node, ast.SelectItem) and node.alias is None and not isinstance(node.value, ast.Field):
            spans.append(node.value.span)
        elif isinstance(node, ast.Aggregation) and node.alias is None:
            spans.append(node.call.span)
    return spans


# ---- the printer ----
class _Printer:
    def __init__(self, text: str, verbatim: list[ast.Span] = ()):
        self.text = text
        self._flat: dict[int, str] = {}
        self._verbatim = {(v.start, v.end) for v in verbatim}

    def as_named(self, node: Any) -> str:
        """A node whose text names a field: as written when it is one of those, else formatted."""
        span = node.span
        if (span.start, span.end) in self._verbatim:
            return self.text[span.start : span.end]
        return self.flat(node)

    # -- literals and names --
    def literal(self, node: ast.Literal) -> str:
        value = node.value
        if value is None:
            return "null"
        if value is True:
            return "true"
        if value is False:
            return "false"
        written = self.text[node.span.start : node.span.end]
        if isinstance(value, str):
            if _STRING.fullmatch(written) and unescape_string(written[1:-1]) == value:
                return written
            return _quote(value)
        squeezed = re.sub(r"\s+", "", written)
        if _NUMBER.fullmatch(squeezed) and _same_number(_number_value(squeezed), value):
            return squeezed
        return _number_text(value)

    @staticmethod
    def field(node: ast.Field) -> str:
        if len(node.path) > 1:
            return ".".join(node.path)
        name = node.path[0]
        if _NAME.fullmatch(name) and name.lower() not in _KEYWORDS:
            return name
        if "`" not in name and "\n" not in name and name:
            return f"`{name}`"
        return f"'{name}'"

    # -- expressions on one line --
    def flat(self, node: Any) -> str:
        key = id(node)
        cached = self._flat.get(key)
        if cached is None:
            cached = self._flat[key] = self._render(node)
        return cached

    def operand(self, node: Any, level: int) -> str:
        text = self.flat(node)
        return f"({text})" if _level(node) < level else text

    def _render(self, node: Any) -> str:
        if isinstance(node, ast.Literal):
            return self.literal(node)
        if isinstance(node, ast.Field):
            return self.field(node)
        if isinstance(node, ast.Regex):
            return f"/{node.pattern}/{node.flags}"
        if isinstance(node, ast.Duration):
            return node.text
        if isinstance(node, ast.Call):
            return f"{node.name}({self.items(node.args)})"
        if isinstance(node, ast.NamedArgument):
            return f"{node.name}: {self.flat(node.value)}"
        if isinstance(node, ast.ListLiteral):
            return f"[{self.items(node.items)}]"
        if isinstance(node, ast.MapLiteral):
            return "{" + ", ".join(f"{self.flat(k)}: {self.flat(v)}" for k, v in node.entries) + "}"
        if isinstance(node, ast.Logical):
            level = _level(node) + 1
            return f" {node.op.upper()} ".join(self.operand(o, level) for o in node.operands)
        if isinstance(node, ast.Unary):
            if node.op == "not":
                inner = node.operand
                if isinstance(inner, ast.Binary) and inner.op == "like":
                    return f"{self.operand(inner.left, _SUM)} NOT LIKE {self.operand(inner.right, _SUM)}"
                return f"NOT {self.operand(inner, _NOT)}"
            text = self.operand(node.operand, _UNARY)
            return f"-({text})" if text.startswith("-") else f"-{text}"
        if isinstance(node, ast.Binary):
            if node.op in _COMPARISONS:
                op = "LIKE" if node.op == "like" else node.op
                return f"{self.operand(node.left, _SUM)} {op} {self.operand(node.right, _SUM)}"
            level = _level(node)
            return f"{self.operand(node.left, level)} {node.op} {self.operand(node.right, level + 1)}"
        if isinstance(node, ast.In):
            word = "NOT IN" if node.negated else "IN"
            return f"{self.operand(node.value, _SUM)} {word} ({self.items(node.options)})"
        if isinstance(node, ast.IsNull):
            return f"{self.operand(node.value, _SUM)} IS {'NOT NULL' if node.negated else 'NULL'}"
        if isinstance(node, ast.Index):
            return f"{self.operand(node.target, _POSTFIX)}[{self.flat(node.index)}]"
        if isinstance(node, ast.Variable):
            return f"${node.name}"
        raise TypeError(f"cannot format {type(node).__name__}")

    def items(self, nodes) -> str:
        return ", ".join(self.flat(n) for n in nodes)

    # -- expressions over several lines --
    def block(self, node: Any, indent: int, used: int) -> list[str]:
        """`node` as lines: the first continues a line already `used` characters long, the others
        are whole lines indented by at least `indent`."""
        flat = self.flat(node)
        if used + len(flat) <= WIDTH:
            return [flat]
        if isinstance(node, ast.Logical):
            word, level = node.op.upper(), _level(node) + 1
            lines: list[str] = []
            for i, operand in enumerate(node.operands):
                if i == 0:
                    lines += self.wrapped_operand(operand, level, indent, used)
                else:
                    lead = " " * indent + word + " "
                    part = self.wrapped_operand(operand, level, indent, len(lead))
                    lines.append(lead + part[0])
                    lines += part[1:]
            return lines
        if isinstance(node, ast.Unary) and node.op == "not" and _level(node.operand) < _NOT:
            part = self.wrapped_operand(node.operand, _NOT, indent, used + 4)
            return ["NOT " + part[0]] + part[1:]
        if isinstance(node, ast.Call) and node.args:
            return self.packed(f"{node.name}(", node.args, ")", indent)
        if isinstance(node, ast.ListLiteral) and node.items:
            return self.packed("[", node.items, "]", indent)
        if isinstance(node, ast.In) and node.options:
            value = self.operand(node.value, _SUM)
            word = "NOT IN" if node.negated else "IN"
            return self.packed(f"{value} {word} (", node.options, ")", indent)
        if isinstance(node, ast.NamedArgument):
            part = self.block(node.value, indent, used + len(node.name) + 2)
            return [f"{node.name}: {part[0]}"] + part[1:]
        return [flat]

    def wrapped_operand(self, node: Any, level: int, indent: int, used: int) -> list[str]:
        if _level(node) >= level:
            return self.block(node, indent, used)
        flat = f"({self.flat(node)})"
        if used + len(flat) <= WIDTH:
            return [flat]
        inner_indent = indent + INDENT
        inner = self.block(node, inner_indent, inner_indent)
        return ["(", " " * inner_indent + inner[0], *inner[1:], " " * indent + ")"]

    def packed(self, opener: str, nodes, closer: str, indent: int) -> list[str]:
        """`opener`, then the items filled onto lines indented by `indent`, then `closer` on a line
        of its own, one level out. A lone list argument is hugged: `create_map([` ... `])`."""
        if len(nodes) == 1 and isinstance(nodes[0], ast.ListLiteral) and nodes[0].items:
            return self.packed(opener + "[", nodes[0].items, "]" + closer, indent)
        inner = indent
        lines = [opener]
        current = ""
        for i, node in enumerate(nodes):
            comma = "," if i < len(nodes) - 1 else ""
            part = self.block(node, inner + INDENT, inner)
            if len(part) == 1:
                piece = part[0] + comma
                if current and inner + len(current) + 1 + len(piece) <= WIDTH:
                    current += " " + piece
                    continue
                if current:
                    lines.append(" " * inner + current)
                current = piece
                continue
            if current:
                lines.append(" " * inner + current)
                current = ""
            lines += [" " * inner + part[0], *part[1:-1], part[-1] + comma]
        if current:
            lines.append(" " * inner + current)
        lines.append(" " * (indent - INDENT) + closer)
        return lines

    # -- commands --
    def command(self, node: Any) -> list[str]:
        if isinstance(node, ast.From):
            return [f"| from {self.source(node.source)}"]
        if isinstance(node, ast.Into):
            return [f"| into {self.source(node.sink)}"]
        if isinstance(node, ast.Where):
            prefix = "| where "
            lines = self.block(node.predicate, INDENT, len(prefix))
            return [prefix + lines[0]] + lines[1:]
        if isinstance(node, ast.Eval):
            return self.eval(node)
        if isinstance(node, ast.Select):
            items = [self.as_named(i.value) + (f" AS {self.field(i.alias)}" if i.alias else "") for i in node.items]
            return self.filled("| select", items)
        if isinstance(node, ast.Fields):
            return self.filled("| fields -" if node.drop else "| fields", [self.field(n) for n in node.names])
        if isinstance(node, ast.Rename):
            return self.filled("| rename", [f"{self.field(i.old)} AS {self.field(i.new)}" for i in node.items])
        if isinstance(node, ast.Union_):
            return self.filled("| union", [f"${v.name}" for v in node.variables])
        if isinstance(node, ast.Stats):
            aggregations = [
                self.as_named(a.call) + (f" AS {self.field(a.alias)}" if a.alias else "") for a in node.aggregations
            ]
            groups = [self.flat(g) for g in node.group_by]
            one_line = "| stats " + ", ".join(aggregations) + (" BY " + ", ".join(groups) if groups else "")
            if len(one_line) <= WIDTH:
                return [one_line]
            lines = self.filled("| stats", aggregations)
            if groups:
                lines += self.filled(" " * INDENT + "BY", groups)
            return lines
        if isinstance(node, ast.GenericCommand):
            return [" ".join([f"| {node.name}"] + [self.argument(a) for a in node.args])]
        raise TypeError(f"cannot format {type(node).__name__}")

    def source(self, node: Any) -> str:
        if isinstance(node, ast.Field):
            return node.name  # a bare name: `from source`, `into sink`
        return self.flat(node)

    def argument(self, node: Any) -> str:
        if isinstance(node, ast.KeywordArgument):
            return f"{node.name}={self.argument_value(node.value)}"
        return self.flat(node)

    def argument_value(self, node: Any) -> str:
        if isinstance(node, ast.Field):
            return node.name  # argument values are bare names, never quoted ones
        if isinstance(node, ast.ListLiteral):
            return "[" + ", ".join(self.argument_value(i) for i in node.items) + "]"
        return self.flat(node)

    def eval(self, node: ast.Eval) -> list[str]:
        parts = [(self.field(a.target), a.value) for a in node.assignments]
        one_line = "| eval " + ", ".join(f"{t} = {self.flat(v)}" for t, v in parts)
        if len(one_line) <= WIDTH:
            return [one_line]
        if len(parts) == 1:
            target, value = parts[0]
            prefix = f"| eval {target} = "
            lines = self.block(value, INDENT, len(prefix))
            return [prefix + lines[0]] + lines[1:]
        lines = ["| eval"]
        for i, (target, value) in enumerate(parts):
            prefix = " " * INDENT + f"{target} = "
            part = self.block(value, 2 * INDENT, len(prefix))
            lines += [prefix + part[0], *part[1:]]
            if i < len(parts) - 1:
                lines[-1] += ","
        return lines

    @staticmethod
    def filled(head: str, items: list[str]) -> list[str]:
        """`head item, item, ...`, continued on lines indented by INDENT when it gets too long."""
        lines = [head]
        for i, item in enumerate(items):
            piece = item + ("," if i < len(items) - 1 else "")
            if len(lines[-1]) + 1 + len(piece) <= WIDTH or lines[-1] in (head, " " * INDENT):
                lines[-1] += " " + piece if lines[-1] != " " * INDENT else piece
            else:
                lines.append(" " * INDENT + piece)
        return lines


def _level(node: Any) -> int:
    if isinstance(node, ast.Logical):
        return {"xor": _XOR, "or": _OR}.get(node.op, _AND)
    if isinstance(node, ast.Unary):
        return _NOT if node.op == "not" else _UNARY
    if isinstance(node, ast.Binary):
        if node.op in _COMPARISONS:
            return _PREDICATE
        return _SUM if node.op in "+-" else _PRODUCT
    if isinstance(node, (ast.In, ast.IsNull)):
        return _PREDICATE
    if isinstance(node, ast.Index):
        return _POSTFIX
    if isinstance(node, ast.Literal) and type(node.value) in (int, float) and _negative(node.value):
        return _UNARY  # printed with a leading `-`
    return _ATOM


def _negative(value: float) -> bool:
    return value < 0 or (value == 0 and str(value).startswith("-"))


def _number_value(text: str) -> int | float:
    negative = text.startswith("-")
    body = text[1:] if negative else text
    suffix = body[-1].lower()
    if suffix == "l":
        value: int | float = int(body[:-1])
    elif suffix in "fd":
        value = float(body[:-1])
    elif any(c in body for c in ".eE"):
        value = float(body)
    else:
        value = int(body)
    return -value if negative else value


def _same_number(a: int | float, b: int | float) -> bool:
    return type(a) is type(b) and (a == b or a != a and b != b) and str(a)[0] == str(b)[0]


def _number_text(value: int | float) -> str:
    if type(value) is int:
        return str(value)
    if value != value:
        raise ValueError("NaN has no literal")
    if value in (float("inf"), float("-inf")):
        return "1e999" if value > 0 else "-1e999"
    text = repr(value)
    return text if any(c in text for c in ".e") else text + ".0"


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# ---- the whole text ----
def format_program(program: ast.Program, text: str) -> str:
    """The canonical text of `program`, which was parsed from `text` (for comments and spellings)."""
    verbatim = _named_by_text(program)
    printer = _Printer(text, verbatim)
    comments = _Comments(text, program, verbatim)
    blocks = []
    for s, statement in enumerate(program.statements):
        binding = isinstance(statement, ast.Binding)
        pipeline = statement.pipeline if binding else statement
        lines: list[str] = []
        for c, command in enumerate(pipeline.commands):
            lines += comments.leading.get((s, c), [])
            command_lines = printer.command(command)
            if c == 0 and binding:
                command_lines[0] = f"${statement.variable.name} = {command_lines[0]}"
            if c == len(pipeline.commands) - 1:
                command_lines[-1] += ";"
            trailing = comments.trailing.get((s, c))
            if trailing:
                command_lines[-1] += " " + " ".join(trailing)
            lines += command_lines
        blocks.append("\n".join(lines))
    if comments.tail:
        blocks.append("\n".join(comments.tail))
    return "\n\n".join(blocks) + "\n"


def format_text(text: str) -> str:
    """Parse `text` (raising SplError on a syntax error) and return it in the canonical layout."""
    return format_program(parse(text), text)


def without_spans(node: Any) -> Any:
    """The tree as nested tuples, positions left out: equal for texts that mean the same."""
    if isinstance(node, tuple):
        return tuple(without_spans(n) for n in node)
    if hasattr(node, "__dataclass_fields__") and not isinstance(node, ast.Span):
        values = [without_spans(getattr(node, f.name)) for f in dataclass_fields(node)
                  if f.name not in ("span", "name_span")]
        return (type(node).__name__, *values)
    if isinstance(node, float) and node != node:
        return "nan"
    return (type(node).__name__, node) if isinstance(node, (bool, int, float)) else node


# ---- the command ----
VERBATIM_LIST = ".fmt-verbatim"


def _targets(paths: list[str]) -> list[str]:
    """The files to format; in a directory, every *.spl but those its `.fmt-verbatim` names (one
    path a line, relative to it): published content kept byte for byte, such as the reference."""
    found = []
    for path in paths:
        if path != "-" and os.path.isdir(path):
            listed = Path(path) / VERBATIM_LIST
            verbatim = set(listed.read_text(encoding="utf-8").split()) if listed.is_file() else set()
            found += [str(p) for p in sorted(Path(path).rglob("*.spl"))
                      if p.relative_to(path).as_posix() not in verbatim]
        else:
            found.append(path)
    return found


def _write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(prefix=".fmt-", suffix=".spl", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def main(paths: list[str], check: bool = False, diff: bool = False) -> int:
    """Format each file; with `check` or `diff` only report. 1 when a file would change (with
    `check`) or cannot be formatted, else 0."""
    from ..core.errors import SplError

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
    status = 0
    changed = 0
    for path in _targets(paths):
        label = "<stdin>" if path == "-" else path
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(f"spl-lite fmt: cannot read `{path}`: {getattr(error, 'strerror', None) or error}", file=sys.stderr)
            status = 1
            continue
        try:
            program = parse(text)
            formatted = format_program(program, text)
            if without_spans(parse(formatted)) != without_spans(program):
                raise AssertionError("the formatted text would mean something else")
        except SplError as error:
            print(error.render(text, label), file=sys.stderr)
            status = 1
            continue
        except (AssertionError, TypeError, ValueError, RecursionError) as error:
            print(f"spl-lite fmt: internal error formatting `{label}` ({error}); left unchanged; "
                  "please report it with the search", file=sys.stderr)
            status = 1
            continue
        if path == "-" and not (check or diff):
            sys.stdout.write(formatted)
            continue
        if formatted == text:
            continue
        changed += 1
        if diff:
            sys.stdout.writelines(difflib.unified_diff(
                text.splitlines(keepends=True), formatted.splitlines(keepends=True), label, f"{label} (formatted)"
            ))
        if check:
            print(f"would reformat {label}")
            status = 1
        elif not diff:
            _write_atomically(path, formatted)
            print(f"reformatted {label}")
    return status
