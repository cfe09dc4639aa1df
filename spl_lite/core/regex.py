r"""The one place Java regular expressions (spec 2.4) and SQL LIKE patterns become Python patterns.

Java regexes are compiled with the `regex` package rather than `re`, for two reasons:
- a match can be given a time limit (`timeout=`): a pattern that backtracks exponentially, such as
  `(a|aa)+$` against `aaaa...!`, would otherwise hold a stream for ever (see `search`, `sub`);
- it expresses what `re` cannot: Unicode properties (`\p{L}`, `\p{IsLatin}`, `\p{InGreek}`) and class intersections (`[a-z&&[^b]]`,
  version 1 sets).
RE2 (linear time) was measured too: it compiles every corpus pattern but lacks backreferences,
lookaround and possessive quantifiers that Java has, and through its Python binding each match
costs more than a `regex` match with a time limit.

LIKE patterns stay with `re`: they are `.*`, `.` and literals only, anchored at both ends.
"""
from __future__ import annotations

import functools
import re
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable

from .values import is_java_pattern, type_name

if TYPE_CHECKING:
    from regex import Pattern
else:
    Pattern = Any


def _engine():
    """The `regex` package, imported when a pattern is first compiled: a run whose searches hold
    no regex is spared its import (about 10 ms, a twentieth of start-up)."""
    import regex

    return regex


# Trailing flag letters of a regex literal `/.../flags` (the `regex` flags of the same names).
_LITERAL_FLAGS = {"i": "IGNORECASE", "m": "MULTILINE", "s": "DOTALL", "x": "VERBOSE"}

# Java inline flag letters -> `regex` scoped-flag letters. `s` (DOTALL), `m` (MULTILINE) and `d`
# (UNIX_LINES) are followed by the translation itself, which writes `.`, `^`, `$` and \Z out with
# Java's line terminators. `u` (UNICODE_CASE) and `U` (UNICODE_CHARACTER_CLASS) switch the whole
# pattern to Unicode matching.
_INLINE_FLAGS = {"i": "i", "m": "", "s": "", "x": "x", "u": "", "U": "", "d": ""}

# Java's line terminators: \r\n, \n, \r, \x85, \u2028, \u2029; only \n under UNIX_LINES. The
# tables below are keyed by UNIX_LINES.
_TERMINATOR = r"(?:\r\n|[\n\r\x85\u2028\u2029])"
_LINE_CHARS = r"\n\r\x85\u2028\u2029"
_DOT = {False: f"[^{_LINE_CHARS}]", True: r"[^\n]"}
_ANY = "(?s:.)"  # `.` under DOTALL
_END = {False: f"(?={_TERMINATOR}?\\Z)", True: r"(?=\n?\Z)"}  # `$` and \Z: at the end or before a final terminator
_LINE_END = {  # `$` under MULTILINE: before a terminator (not inside \r\n) or at the end
    False: r"(?:(?=[\n\x85\u2028\u2029\r]|\Z)(?!(?<=\r)\n))",
    True: r"(?=\n|\Z)",
}
_LINE_START = {  # `^` under MULTILINE: at the start, or after a terminator that does not end the input
    False: f"(?:\\A|(?<=[{_LINE_CHARS}])(?!(?<=\\r)\\n)(?!\\Z))",
    True: r"(?:\A|(?<=\n)(?!\Z))",
}

# Java's \b / \B, on \w, written out (as `re`'s, and unlike the Unicode word boundaries of `regex`'s WORD flag).
_WORD_BOUNDARY = "(?:(?<=\\w)(?!\\w)|(?<!\\w)(?=\\w))"
_NOT_WORD_BOUNDARY = "(?:(?<=\\w)(?=\\w)|(?<!\\w)(?!\\w))"

# How long one match may run; a match that takes longer gives null (see `search`).
MATCH_SECONDS = 0.5
# Once SIGINT/SIGTERM is waiting (`set_stop_probe`), what every match left in the batch gets in all.
STOP_SECONDS = 0.2

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


class RegexTimeout(ValueError):
    """A match that ran out of time: the value is null and the record error names the pattern."""

    def __init__(self, pattern: Pattern, text: str, seconds: float | None):
        source = _JAVA_SOURCE.get(pattern, pattern.pattern)
        if seconds is None:
            why = "was cut short because the run was stopped"
        else:
            why = f"gave up after {seconds:g} s on a {len(text):,}-character value (it backtracks too much)"
        super().__init__(f"regex /{source}/ {why}; the value is null")


class RegexError(ValueError):
    """An invalid pattern; `pos` is the 0-based index in the Java pattern where the problem is, when known."""

    def __init__(self, message: str, pos: int | None = None):
        super().__init__(message)
        self.pos = pos


# The Java text each compiled pattern came from, for messages (bounded like compile_java's cache).
_JAVA_SOURCE: dict[Pattern, str] = {}

_stop_probe: Callable[[], bool] | None = None
_stop_seen: float | None = None


def set_stop_probe(probe: Callable[[], bool] | None) -> None:
    """`probe()` says whether a stop (SIGINT/SIGTERM) is waiting for the current batch to end; from
    then on all the matches left share STOP_SECONDS, so that a batch of pathological values cannot
    hold the stop for longer than that."""
    global _stop_probe, _stop_seen
    _stop_probe, _stop_seen = probe, None


def _time_limit() -> float:
    global _stop_seen
    if _stop_probe is None or not _stop_probe():
        _stop_seen = None
        return MATCH_SECONDS
    now = time.monotonic()
    if _stop_seen is None:
        _stop_seen = now
    return min(MATCH_SECONDS, max(0.0, _stop_seen + STOP_SECONDS - now))


def search(pattern: Pattern, text: str):
    """`pattern.search(text)` within the time limit; RegexTimeout (a ValueError) when it runs out."""
    if len(text) <= _UNCLOCKED.get(pattern, -1) and (_stop_probe is None or not _stop_probe()):
        return pattern.search(text)
    limit = _time_limit()
    if limit <= 0:
        raise RegexTimeout(pattern, text, None)
    try:
        return pattern.search(text, timeout=limit)
    except TimeoutError:
        raise RegexTimeout(pattern, text, limit if limit == MATCH_SECONDS else None) from None


def sub(pattern: Pattern, replacement, text: str) -> str:
    """`pattern.sub(replacement, text)` within the time limit, as `search`."""
    if len(text) <= _UNCLOCKED.get(pattern, -1) and (_stop_probe is None or not _stop_probe()):
        return pattern.sub(replacement, text)
    limit = _time_limit()
    if limit <= 0:
        raise RegexTimeout(pattern, text, None)
    try:
        return pattern.sub(replacement, text, timeout=limit)
    except TimeoutError:
        raise RegexTimeout(pattern, text, limit if limit == MATCH_SECONDS else None) from None


@functools.lru_cache(maxsize=4096)
def compile_java(pattern: str, flags: str = "") -> Pattern:
    """Compile a Java 8 regex (plus regex-literal flag letters) into a `regex` pattern.

    Raises ValueError when the pattern is invalid or uses a Java feature Python cannot express; the
    message names the pattern and the problem (`/(/: missing ), ...`), callers add the context.
    """
    engine = _engine()
    py_flags = 0
    for letter in flags:
        if letter not in _LITERAL_FLAGS:
            raise RegexError(f"unknown regex flag `{letter}` (expected some of i, m, s, x)")
        if letter in "ix":  # `s` and `m` are the translation's business (see _LINE_START)
            py_flags |= getattr(engine, _LITERAL_FLAGS[letter])
    marks: list[tuple[int, int]] = []
    text, unicode, sets = _translate(pattern, marks, flags)
    if not unicode:
        py_flags |= engine.ASCII  # Java's \w, \d, \s, \b and (?i) are ASCII-only unless asked otherwise.
    py_flags |= engine.VERSION1 if sets else engine.VERSION0
    try:
        compiled = engine.compile(text, py_flags)
    except engine.error as err:
        message = getattr(err, "msg", None) or str(err).split(" at position")[0]
        raise RegexError(f"/{pattern}/: {message}", _source_position(err.pos, marks)) from None
    except (OverflowError, RecursionError) as err:
        raise RegexError(f"/{pattern}/: {err}") from None
    if len(_JAVA_SOURCE) >= 8192:
        _JAVA_SOURCE.clear()
        _UNCLOCKED.clear()
    _JAVA_SOURCE[compiled] = pattern
    loops = None if sets else _loops_on_a_path(text, py_flags & engine.VERBOSE)
    if loops is not None and loops <= 1:
        _UNCLOCKED[compiled] = _UNCLOCKED_LENGTH[loops]
    return compiled


# A match with the time limit costs `regex` about 1.5 us more than one without (clock set-up), as
# much as a whole `\d+` replace in a command line. A pattern that cannot backtrack much runs
# without it over texts short enough that its worst case stays far below MATCH_SECONDS: with no
# repetition but of one character (`\w+`, `[^\s]*`, `-?`) and at most one such loop on any path
# through it, a search tries each start (n) and backtracks over at most one loop (n): n * n steps
# of the pattern at worst, some 50 ms at 1,024 characters (`\s+$` over spaces), where the limit
# could never cut in; with no loop at all, n steps. While a stop waits, every match is timed again.
_UNCLOCKED: dict[Pattern, int] = {}
_UNCLOCKED_LENGTH = {0: 1 << 16, 1: 1 << 10}


def _loops_on_a_path(translated: str, verbose: int) -> int | None:
    """The most repetitions (of more than once) on one path through the pattern, when each repeats
    one character; None for anything that could backtrack further (a repeated group, a back
    reference, a loop in a lookaround) or that Python's own parser does not read."""
    try:
        import re._constants as c  # CPython's own regex parser (3.11 on): private, so any failure declines
        import re._parser as parser

        with warnings.catch_warnings():  # what `re` would read otherwise (`[[`, `&&`) is no concern here
            warnings.simplefilter("ignore")
            parsed = parser.parse(translated, re.VERBOSE if verbose else 0)
    except (ImportError, re.error, OverflowError, RecursionError, ValueError):
        return None
    single = (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN, c.CATEGORY)
    repeats = (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT)

    def loops(items) -> int | None:
        total = 0
        for op, argument in items:
            if op in single or op is c.AT:
                continue
            if op is c.SUBPATTERN:
                found = loops(argument[-1])
            elif op is c.ATOMIC_GROUP:
                found = loops(argument)
            elif op is c.BRANCH:
                branches = [loops(branch) for branch in argument[1]]
                found = None if None in branches else max(branches)
            elif op in repeats:
                low, high, body = argument
                if high <= 1:
                    found = loops(body)
                elif len(body) == 1 and body[0][0] in single:
                    found = 1
                else:
                    return None
            elif op in (c.ASSERT, c.ASSERT_NOT):
                found = loops(argument[1])
                if found:
                    return None
            else:
                return None
            if found is None:
                return None
            total += found
        return total

    try:
        return loops(parsed)
    except RecursionError:
        return None


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


def as_pattern(value) -> Pattern:
    """A regex argument: a regex literal arrives compiled, a string is compiled as a Java regex."""
    if is_java_pattern(value):
        return value
    if type(value) is str:
        return compile_java(value)
    raise TypeError(f"expected a regular expression, got {type_name(value)}")


def required_text(pattern: str, flags: str = "") -> tuple[str, bool, bool] | None:
    """(text, ignore_case, whole): the longest run of literal characters that every match of the
    Java `pattern` contains, compared ignoring ASCII case when `ignore_case`; `whole` when that run
    is all the pattern is. A class or a group is an atom whose text is not taken. None when the
    pattern has alternation outside a group, sets flags other than by a leading `(?i)`, holds
    non-ASCII text or a nested class, or has no run of two characters.

    A value without the text cannot match, so the regex need only be run on the others (none at all
    when `whole`): most detections match command lines against `(?i)some-tool` or `(?i)kerberos::ptt`.
    """
    if set(flags) - set("ims"):  # `x`: white space is no longer literal
        return None
    ignore_case = "i" in flags
    body = pattern
    if body.startswith("(?i)"):
        ignore_case, body = True, body[4:]
    elif body.startswith("^(?i)"):
        ignore_case, body = True, "^" + body[5:]
    runs: list[str] = []
    current: list[str] = []
    whole = True
    last_literal = False
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            following = body[i + 1 : i + 2]
            if following and following.isascii() and not following.isalnum():
                current.append(following)  # an escaped punctuation character stands for itself
                last_literal = True
                i += 2
                continue
            if following in ("", "Q", "E"):
                return None
            runs.append("".join(current))  # \d, \w, \b, ...: an atom that is not literal
            current, whole, last_literal = [], False, False
            i += 2
            continue
        if c in "[(":  # a class or a group: one atom, not literal (whatever text is inside)
            end = _class_end(body, i) if c == "[" else _group_end(body, i)
            if end is None:
                return None
            runs.append("".join(current))
            current, whole, last_literal = [], False, False
            i = end
            continue
        if c in "|)]}" or not c.isascii():
            return None
        if c in "?*+{":  # a quantifier: the atom before it may be absent or repeated
            if last_literal:
                current.pop()
            runs.append("".join(current))
            current, whole, last_literal = [], False, False
            if c == "{":
                end = body.find("}", i)
                if end < 0:
                    return None
                i = end
            i += 1
            continue
        if c in ".^$":
            runs.append("".join(current))
            current, whole, last_literal = [], False, False
            i += 1
            continue
        current.append(c)
        last_literal = True
        i += 1
    runs.append("".join(current))
    if whole:
        return runs[0], ignore_case, True
    longest = max(runs, key=len)
    return (longest, ignore_case, False) if len(longest) >= 2 else None


def _class_end(body: str, start: int) -> int | None:
    """The index after the character class opening at `start`; None for a nested class (Java's
    unions and intersections) or one left open."""
    i = start + 1
    if body[i:i + 1] == "^":
        i += 1
    if body[i:i + 1] == "]":  # a `]` first is itself
        i += 1
    while i < len(body):
        c = body[i]
        if c == "\\":
            i += 2
        elif c == "[":
            return None
        elif c == "]":
            return i + 1
        else:
            i += 1
    return None


def _group_end(body: str, start: int) -> int | None:
    """The index after the group opening at `start`; None for a group that changes the flags of what
    follows it (`(?i)` within the pattern: the text after it would compare otherwise), or one left open."""
    if body.startswith("(?", start):
        kind = body[start + 2:start + 3]
        if kind not in (":", "=", "!", ">", "<"):
            flags_end = start + 2
            while flags_end < len(body) and (body[flags_end].isalpha() or body[flags_end] == "-"):
                flags_end += 1
            if body[flags_end:flags_end + 1] != ":":  # (?i) and the like, or something unknown
                return None
    depth, i = 0, start
    while i < len(body):
        c = body[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            end = _class_end(body, i)
            if end is None:
                return None
            i = end
            continue
        if c == "(":
            if i > start and body.startswith("(?", i) and _group_end(body, i) is None:
                return None  # flags set in an inner group: refused too, which keeps the rule simple
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def like_matcher(pattern: str) -> Callable[[str], bool] | None:
    """What `like_to_regex(pattern).match(text) is not None` says, by string search instead of a
    regex, for a pattern without `_`: the text starts and ends with the outer pieces and holds the
    inner ones in order (leftmost first, which finds a fit wherever there is one). None with `_`."""
    if "_" in pattern:
        return None
    if "%" not in pattern:
        return pattern.__eq__
    first, *middle, last = pattern.split("%")
    least = len(first) + len(last)

    def matches(text: str) -> bool:
        if len(text) < least or not text.startswith(first) or not text.endswith(last):
            return False
        position, end = len(first), len(text) - len(last)
        for piece in middle:
            found = text.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True

    return matches


@functools.lru_cache(maxsize=4096)
def like_to_regex(pattern: str) -> re.Pattern:
    """SQL LIKE: `%` any run, `_` one character, the whole string, case-sensitive, no escape char."""
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(rf"\A{body}\Z", re.DOTALL)


def _translate(pattern: str, marks: list[tuple[int, int]] | None = None, flags: str = "") -> tuple[str, bool, bool]:
    """Rewrite the Java-only syntax, passing the rest through for `regex` to judge.

    Also says whether the pattern asks for Unicode matching anywhere, and whether it needs version 1
    sets (a nested class or an `&&` intersection). `marks` receives (offset in the result, index in
    `pattern`) at the start of each construct, to place errors `regex` reports.
    """
    out: list[str] = []
    length = 0  # of "".join(out[:counted])
    counted = 0
    unicode = any("u" in m.group(1) or "U" in m.group(1) for m in _FLAG_GROUP.finditer(pattern))
    sets = False
    # One entry per open group (the bottom one is the whole pattern): the scoped-flag wrappers
    # opened inside it by a Java `(?i)`-style switch, which lasts to the end of that group.
    wrappers: list[list[str]] = [[]]
    # Per open group likewise: the letters of s (DOTALL), m (MULTILINE), d (UNIX_LINES) in force.
    lines: list[set[str]] = [set(flags) & set("smd")]
    opened_at: list[int] = []  # where each open group starts in `pattern`
    # Per open character class (nested ones too): where its text starts in `out`, the index in
    # `pattern` after its `[` or `[^`, whether it holds a Unicode property, and where its `[` is.
    classes: list[list] = []
    i, n = 0, len(pattern)
    while i < n:
        if marks is not None:
            length += sum(len(piece) for piece in out[counted:])
            counted = len(out)
            marks.append((length, i))
        c = pattern[i]
        if c == "\\":
            text, i, is_property = _escape(pattern, i, bool(classes))
            if is_property and classes and not unicode:
                classes[-1][2] = True
            out.append(text)
            continue
        if classes:
            if c == "]" and i > classes[-1][1]:
                start, _, has_property, _ = classes.pop()
                out.append(c)
                if has_property and not classes:
                    _unicode_class(out, start, pattern)
            elif c == "]":
                out.append("\\]")  # `[]...]`: a leading `]` is a literal
            elif c == "[":
                sets = True  # Java's union of a nested class, as version 1 sets write it
                negated = pattern.startswith("[^", i)
                out.append("[^" if negated else "[")
                i += 2 if negated else 1
                classes.append([len(out) - 1, i, False, i - (2 if negated else 1)])
                continue
            elif c == "&" and pattern.startswith("&&", i):
                sets = True
                out.append("&&")
                i += 2
                continue
            elif c in "&~|":
                out.append("\\" + c)  # literal in Java; escaped so that neither re nor version 1 sets read it
            else:
                out.append(c)
            i += 1
            continue
        if c == "[":
            negated = pattern.startswith("[^", i)
            out.append("[^" if negated else "[")
            i += 2 if negated else 1
            classes.append([len(out) - 1, i, False, i - (2 if negated else 1)])
            continue
        if c == "(":
            flag_group = _FLAG_GROUP.match(pattern, i)
            if flag_group:
                on, off, end = flag_group.groups()
                try:
                    scoped = _scoped_flags(pattern, on, off or "")
                except RegexError as error:
                    raise RegexError(str(error), i) from None
                switched = (lines[-1] | (set(on) & set("smd"))) - set(off or "")
                if end == ")":
                    lines[-1] = switched
                    if scoped:
                        out.append(f"(?{scoped}:")
                        wrappers[-1].append(scoped)
                else:
                    out.append(f"(?{scoped}:" if scoped else "(?:")
                    wrappers.append([])
                    lines.append(switched)
                    opened_at.append(i)
                i = flag_group.end()
                continue
            opened_at.append(i)
            if pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3].isalpha():
                out.append("(?P<")
                i += 3
            else:
                out.append("(")
                i += 1
            wrappers.append([])
            lines.append(set(lines[-1]))
            continue
        if c == ")":
            out.append(")" * len(wrappers[-1]))
            if len(wrappers) > 1:
                wrappers.pop()
                lines.pop()
                opened_at.pop()
            out.append(")")
        elif c in ".^$":
            state = lines[-1]
            unix = "d" in state
            if c == ".":
                out.append(_ANY if "s" in state else _DOT[unix])
            elif c == "^":
                out.append(_LINE_START[unix] if "m" in state else r"\A")
            else:
                out.append(_LINE_END[unix] if "m" in state else _END[unix])
        elif c == "|" and wrappers[-1]:
            opened = wrappers[-1]
            out.append(")" * len(opened) + "|" + "".join(f"(?{f}:" for f in opened))
        else:
            out.append(c)
        i += 1
    # Said here, at the opening character, as `re` did: `regex` would point at the end of the pattern.
    if classes:
        raise RegexError(f"/{pattern}/: unterminated character set", classes[0][3])
    if opened_at:
        raise RegexError(f"/{pattern}/: missing ), unterminated subpattern", opened_at[-1])
    out.append(")" * len(wrappers[0]))
    return "".join(out), unicode, sets


# ASCII forms of the class escapes, for a class that must be matched in Unicode mode because it
# holds a Unicode property (`[\p{L}\d]`).
_ASCII_IN_CLASS = {"\\w": "a-zA-Z0-9_", "\\d": "0-9", "\\s": " \\t\\n\\x0b\\f\\r"}


def _unicode_class(out: list[str], start: int, pattern: str) -> None:
    """Make the class whose text is out[start:] match in Unicode mode (Unicode properties need it)
    while its \\w, \\d and \\s stay ASCII, as Java's are."""
    for k in range(start, len(out)):
        piece = out[k]
        if piece in _ASCII_IN_CLASS:
            out[k] = _ASCII_IN_CLASS[piece]
        elif piece in ("\\W", "\\D", "\\S"):
            raise RegexError(f"/{pattern}/: {piece} in a class with a Unicode property is not supported")
    out[start] = "(?u:" + out[start]
    out.append(")")


def _scoped_flags(pattern: str, on: str, off: str) -> str:
    for letter in on + off:
        if letter not in _INLINE_FLAGS:
            raise RegexError(f"/{pattern}/: unknown inline flag `{letter}`")
    on_py = "".join(dict.fromkeys(_INLINE_FLAGS[c] for c in on))
    off_py = "".join(dict.fromkeys(_INLINE_FLAGS[c] for c in off))
    return on_py + (f"-{off_py}" if off_py else "")


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int, bool]:
    """Translate the escape starting at pattern[i] (a backslash); return the text, the next index
    and whether it is a Unicode property (`\\p{L}`)."""
    try:
        if pattern[i + 1 : i + 2] in ("p", "P"):
            return _property(pattern, i, in_class)
        text, nxt = _escape_at(pattern, i, in_class)
        return text, nxt, False
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
    if e in _CLASS_ESCAPES:
        return (_CLASS_ESCAPES[e] if in_class else f"[{_CLASS_ESCAPES[e]}]"), i + 2
    if e in ("H", "V") and not in_class:
        return f"[^{_CLASS_ESCAPES[e.lower()]}]", i + 2
    if e == "R" and not in_class:
        return _TERMINATOR, i + 2
    if e == "b" and not in_class:
        return _WORD_BOUNDARY, i + 2
    if e == "B" and not in_class:
        return _NOT_WORD_BOUNDARY, i + 2
    if e == "z":
        return "\\Z", i + 2
    if e == "Z" and not in_class:
        return _END[False], i + 2  # Java's \Z also matches before a final line terminator
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
    if e.isalpha() and e not in _KNOWN_LETTER_ESCAPES:
        raise RegexError(f"/{pattern}/: bad escape \\{e}")
    return pattern[i : i + 2], i + 2


# Letter escapes Java and `regex` read alike (`regex` knows more, such as \X and \m, which Java does not).
_KNOWN_LETTER_ESCAPES = frozenset("tnrfaxuwWdDsSAbB123456789")

# java.lang.Character properties, as Unicode properties.
_JAVA_PROPERTIES = {
    "javaLowerCase": "Lowercase",
    "javaUpperCase": "Uppercase",
    "javaAlphabetic": "Alphabetic",
    "javaLetter": "L",
    "javaDigit": "Nd",
    "javaMirrored": "Bidi_Mirrored",
    "javaWhitespace": "White_Space",
}
_PROPERTY_KEYS = {"script": "Script", "sc": "Script", "block": "Block", "blk": "Block",
                  "general_category": "General_Category", "gc": "General_Category"}


def _property(pattern: str, i: int, in_class: bool) -> tuple[str, int, bool]:
    negated = pattern[i + 1] == "P"
    close = pattern.find("}", i + 3)
    if pattern.startswith("{", i + 2) and close > 0:
        name, nxt = pattern[i + 3 : close], close + 1
    else:
        name, nxt = pattern[i + 2 : i + 3], i + 3
    body = _POSIX.get(name)
    if body is not None:  # Java's POSIX classes are US-ASCII
        if in_class:
            if negated:
                raise RegexError(f"/{pattern}/: \\P{{{name}}} inside a class is not supported")
            return body, nxt, False
        return (f"[^{body}]" if negated else f"[{body}]"), nxt, False
    unicode_name = _unicode_property(name)
    if unicode_name is None:
        raise RegexError(f"/{pattern}/: \\{pattern[i + 1]}{{{name}}} is not supported")
    text = f"\\{pattern[i + 1]}{{{unicode_name}}}"
    return (text if in_class else f"(?u:{text})"), nxt, True


@functools.lru_cache(maxsize=256)
def _unicode_property(name: str) -> str | None:
    """The `regex` spelling of a Java Unicode property (`L`, `IsL`, `IsLatin`, `InGreek`,
    `script=Latin`, `javaLowerCase`), or None when `regex` does not know it."""
    if name in _JAVA_PROPERTIES:
        name = _JAVA_PROPERTIES[name]
    elif "=" in name:
        key, _, value = name.partition("=")
        if key.lower() not in _PROPERTY_KEYS:
            return None
        name = f"{_PROPERTY_KEYS[key.lower()]}={value}"
    elif name.startswith("In") and len(name) > 2:
        name = f"Block={name[2:]}"
    elif name.startswith("Is") and len(name) > 2:
        name = name[2:]
    if not name or not all(ch.isalnum() or ch in "_=- " for ch in name):
        return None
    engine = _engine()
    try:
        engine.compile(f"\\p{{{name}}}")
    except engine.error:
        return None
    return name
