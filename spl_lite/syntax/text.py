"""Search text read without the grammar: its size bound, its statements and commands split by
scanning (error recovery), positions as Spans. Kept apart from parse.py so that a run whose plan
comes from the plan cache never imports Lark."""
from __future__ import annotations

import gc
import re
from contextlib import contextmanager

from ..core.errors import TOO_LARGE, Span, SplError

# The longest search text accepted, in UTF-8 bytes: the same bound as a search file's (driver/searches.py).
# Parsing and planning are linear in the text, about 1 s per 150 kB; 4 MiB takes a minute or so.
MAX_SEARCH_BYTES = 4 << 20


def check_size(text: str) -> None:
    size = len(text) if len(text) * 4 <= MAX_SEARCH_BYTES else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SEARCH_BYTES:
        raise SplError(
            TOO_LARGE,
            f"the search is {size:,} bytes long, over the limit of {MAX_SEARCH_BYTES:,} bytes",
            hint="split it into several searches; is this really a search?",
        )


@contextmanager
def paused_gc():
    """No cyclic garbage collection while a tree is built: every object made survives, so each
    collection would walk all of them again, and a long search took time growing faster than
    its length (issue 14 item 7). Parsing and planning make no cycles worth collecting."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def span_at(text: str, start: int, end: int) -> Span:
    line = text.count("\n", 0, start) + 1
    return Span(line, start - (text.rfind("\n", 0, start) + 1) + 1, start, end)


# ---- splitting text into statements and commands without parsing it (error recovery) ----
_SCAN = re.compile(
    r"""(?P<string>"(?:\\.|[^"\\])*"?)|(?P<quoted>`[^`\n]*`?|'[^'\n]*'?)|(?P<comment>/\*.*?(?:\*/|\Z))"""
    r"""|(?P<sep>[|;])|(?P<word>[\w.$]+)|(?P<space>\s+)|(?P<other>.)""",
    re.S,
)
_REGEX_LITERAL = re.compile(r"/(\\.|\[(\\.|[^\]\\])*\]|[^/\\\[])+/[a-z]*", re.S)


def tokens(text: str):
    """(kind, start, end) of the text's strings, quoted names, comments, regexes, `|` and `;`
    separators, words and other characters; a `/` after a number, `)` or `]` is division."""
    position, previous = 0, ""
    while position < len(text):
        if text[position] == "/" and text[position + 1 : position + 2] != "*" and not (
            previous[:1].isdigit() or previous in (")", "]")
        ):
            found = _REGEX_LITERAL.match(text, position)
            if found:
                yield "regex", position, found.end()
                position, previous = found.end(), "/"
                continue
        found = _SCAN.match(text, position)
        kind = found.lastgroup
        yield kind, position, found.end()
        if kind not in ("space", "comment"):
            previous = found.group()
        position = found.end()


def regions(text: str, offset: int, separators: str) -> tuple[int, int]:
    """[start, end) of the command (separators "|;") or statement (";") holding `offset`: from
    just after the separator before it to the next separator at or after it."""
    start, end = 0, len(text)
    for kind, begin, finish in tokens(text):
        if kind != "sep" or text[begin] not in separators:
            continue
        if begin < offset:
            start = finish
        else:
            end = begin
            break
    return start, end
