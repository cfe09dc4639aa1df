"""The one place Java regular expressions (spec 2.4) and SQL LIKE patterns become Python `re` patterns."""
from __future__ import annotations

import functools
import re

from .values import type_name

# Trailing flag letters of a regex literal `/.../flags`.
_LITERAL_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}

# Java inline flag letters -> Python scoped-flag letters. `d` (UNIX_LINES) is how Python already
# treats line ends. `u` (UNICODE_CASE) and `U` (UNICODE_CHARACTER_CLASS) switch the whole pattern
# to Unicode matching: CPython's search() ignores a scoped `(?u:...)` under a global ASCII flag.
_INLINE_FLAGS = {"i": "i", "m": "m", "s": "s", "x": "x", "u": "", "U": "", "d": ""}

_FLAG_GROUP = re.compile(r"\(\?([A-Za-z]*)(?:-([A-Za-z]*))?([:)])")

# Java's POSIX classes (US-ASCII only, as in Java without UNICODE_CHARACTER_CLASS), written as
# the inside of a Python character class.
_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}

# Java escapes that Python lacks, as the inside of a character class.
_CLASS_ESCAPES = {
    "h": " \\t\\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000",
    "v": "\\n\\x0b\\f\\r\\x85\\u2028\\u2029",
}


class RegexError(ValueError):
    """An invalid pattern; `pos` is the 0-based index in the Java pattern where the problem is, when known."""

    def __init__(self, message: str, pos: int | None = None):
        super().__init__(message)
        self.pos = pos


@functools.lru_cache(maxsize=4096)
def compile_java(pattern: str, flags: str = "") -> re.Pattern:
    """Compile a Java 8 regex (plus regex-literal flag letters) into a Python pattern.

    Raises ValueError when the pattern is invalid or uses a Java feature Python cannot express; the
    message names the pattern and the problem (`/(/: missing ), ...`), callers add the context.
    """
    py_flags = 0
    for letter in flags:
        if letter not in _LITERAL_FLAGS:
            raise RegexError(f"unknown regex flag `{letter}` (expected some of i, m, s, x)")
        py_flags |= _LITERAL_FLAGS[letter]
    marks: list[tuple[int, int]] = []
    text, unicode = _translate(pattern, marks)
    if not unicode:
        py_flags |= re.ASCII  # Java's \w, \d, \s, \b and (?i) are ASCII-only unless asked otherwise.
    try:
        return re.compile(text, py_flags)
    except re.error as err:
        raise RegexError(f"/{pattern}/: {err.msg}", _source_position(err.pos, marks)) from None


def _source_position(pos: int | None, marks: list[tuple[int, int]]) -> int | None:
    """The index in the Java pattern of the construct that became position `pos` of the Python one."""
    if pos is None:
        return None
    found = None
    for translated, source in marks:
        if translated > pos:
            break
        found = source
    return found


def as_pattern(value) -> re.Pattern:
    """A regex argument: a regex literal arrives compiled, a string is compiled as a Java regex."""
    if isinstance(value, re.Pattern):
        return value
    if type(value) is str:
        return compile_java(value)
    raise TypeError(f"expected a regular expression, got {type_name(value)}")


@functools.lru_cache(maxsize=4096)
def like_to_regex(pattern: str) -> re.Pattern:
    """SQL LIKE: `%` any run, `_` one character, the whole string, case-sensitive, no escape char."""
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(rf"\A{body}\Z", re.DOTALL)


def _translate(pattern: str, marks: list[tuple[int, int]] | None = None) -> tuple[str, bool]:
    """Rewrite the Java-only syntax, passing the rest through for `re` to judge.

    Also says whether the pattern asks for Unicode matching anywhere. `marks` receives (offset in
    the result, index in `pattern`) at the start of each construct, to place errors `re` reports.
    """
    out: list[str] = []
    length = 0  # of "".join(out[:counted])
    counted = 0
    unicode = False
    # One entry per open group (the bottom one is the whole pattern): the scoped-flag wrappers
    # opened inside it by a Java `(?i)`-style switch, which lasts to the end of that group.
    wrappers: list[list[str]] = [[]]
    in_class = False
    class_start = 0
    i, n = 0, len(pattern)
    while i < n:
        if marks is not None:
            length += sum(len(piece) for piece in out[counted:])
            counted = len(out)
            marks.append((length, i))
        c = pattern[i]
        if c == "\\":
            text, i = _escape(pattern, i, in_class)
            out.append(text)
            continue
        if in_class:
            if c == "]" and i > class_start:
                in_class = False
                out.append(c)
            elif c == "]":
                out.append("\\]")  # `[]...]`: a leading `]` is a literal
            elif c == "[":
                raise RegexError(f"/{pattern}/: nested character classes are not supported", i)
            elif c == "&" and pattern.startswith("&&", i):
                raise RegexError(f"/{pattern}/: character class intersection (&&) is not supported", i)
            elif c in "&~|":
                out.append("\\" + c)  # literal in both dialects; escaped so Python does not warn
            else:
                out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            negated = pattern.startswith("[^", i)
            out.append("[^" if negated else "[")
            i += 2 if negated else 1
            class_start = i
            continue
        if c == "(":
            flag_group = _FLAG_GROUP.match(pattern, i)
            if flag_group:
                on, off, end = flag_group.groups()
                unicode = unicode or "u" in on or "U" in on
                try:
                    scoped = _scoped_flags(pattern, on, off or "")
                except RegexError as error:
                    raise RegexError(str(error), i) from None
                if end == ")":
                    if scoped:
                        out.append(f"(?{scoped}:")
                        wrappers[-1].append(scoped)
                else:
                    out.append(f"(?{scoped}:")
                    wrappers.append([])
                i = flag_group.end()
                continue
            if pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3].isalpha():
                out.append("(?P<")
                i += 3
            else:
                out.append("(")
                i += 1
            wrappers.append([])
            continue
        if c == ")":
            out.append(")" * len(wrappers[-1]))
            if len(wrappers) > 1:
                wrappers.pop()
            out.append(")")
        elif c == "|" and wrappers[-1]:
            opened = wrappers[-1]
            out.append(")" * len(opened) + "|" + "".join(f"(?{f}:" for f in opened))
        else:
            out.append(c)
        i += 1
    out.append(")" * len(wrappers[0]))
    return "".join(out), unicode


def _scoped_flags(pattern: str, on: str, off: str) -> str:
    for letter in on + off:
        if letter not in _INLINE_FLAGS:
            raise RegexError(f"/{pattern}/: unknown inline flag `{letter}`")
    on_py = "".join(dict.fromkeys(_INLINE_FLAGS[c] for c in on))
    off_py = "".join(dict.fromkeys(_INLINE_FLAGS[c] for c in off))
    return on_py + (f"-{off_py}" if off_py else "")


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape starting at pattern[i] (a backslash); return the text and next index."""
    try:
        return _escape_at(pattern, i, in_class)
    except RegexError as error:
        raise RegexError(str(error), i if error.pos is None else error.pos) from None


def _escape_at(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    if i + 1 >= len(pattern):
        raise RegexError(f"/{pattern}/: trailing backslash")
    e = pattern[i + 1]
    if e == "/":
        return "/", i + 2
    if e == "Q":
        end = pattern.find("\\E", i + 2)
        stop = len(pattern) if end < 0 else end
        return re.escape(pattern[i + 2 : stop]), (stop if end < 0 else end + 2)
    if e == "k" and pattern.startswith("<", i + 2):
        close = pattern.find(">", i + 3)
        if close < 0:
            raise RegexError(f"/{pattern}/: unterminated \\k<name>")
        return f"(?P={pattern[i + 3 : close]})", close + 1
    if e in ("p", "P"):
        return _property(pattern, i, in_class)
    if e in _CLASS_ESCAPES:
        return (_CLASS_ESCAPES[e] if in_class else f"[{_CLASS_ESCAPES[e]}]"), i + 2
    if e in ("H", "V") and not in_class:
        return f"[^{_CLASS_ESCAPES[e.lower()]}]", i + 2
    if e == "R" and not in_class:
        return "(?:\\r\\n|[\\n\\x0b\\f\\r\\x85\\u2028\\u2029])", i + 2
    if e == "z":
        return "\\Z", i + 2
    if e == "Z" and not in_class:
        return "(?=\\n?\\Z)", i + 2  # Java's \Z also matches before a final line terminator
    if e == "e":
        return "\\x1b", i + 2
    if e == "c" and i + 2 < len(pattern):
        return f"\\x{ord(pattern[i + 2]) ^ 64:02x}", i + 3
    if e == "x" and pattern.startswith("{", i + 2):
        close = pattern.find("}", i + 3)
        digits = pattern[i + 3 : close] if close > 0 else ""
        if not re.fullmatch(r"[0-9a-fA-F]{1,6}", digits) or int(digits, 16) > 0x10FFFF:
            raise RegexError(f"/{pattern}/: bad \\x{{...}} escape")
        return f"\\U{int(digits, 16):08x}", close + 1
    if e == "0":
        # Java octal \0n, \0nn, \0mnn (m <= 3); Python's \0 takes at most two more digits.
        digits = re.match(r"[0-3][0-7]{2}|[0-7]{1,2}", pattern[i + 2 : i + 5])
        if not digits:
            raise RegexError(f"/{pattern}/: bad octal escape \\0")
        return f"\\x{int(digits.group(), 8):02x}", i + 2 + digits.end()
    if e == "G":
        raise RegexError(f"/{pattern}/: \\G is not supported")
    return pattern[i : i + 2], i + 2


def _property(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    negated = pattern[i + 1] == "P"
    close = pattern.find("}", i + 3)
    if pattern.startswith("{", i + 2) and close > 0:
        name, nxt = pattern[i + 3 : close], close + 1
    else:
        name, nxt = pattern[i + 2 : i + 3], i + 3
    body = _POSIX.get(name)
    if body is None or (negated and in_class):
        raise RegexError(f"/{pattern}/: \\{pattern[i + 1]}{{{name}}} is not supported")
    if in_class:
        return body, nxt
    return (f"[^{body}]" if negated else f"[{body}]"), nxt
