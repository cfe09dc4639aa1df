"""Property tests: mangled searches, random expressions and random input bytes never crash spl-lite.

A search either plans or raises SplError (a positioned diagnostic); RecursionError or any other
exception is a failure. The reader turns any bytes into events and counted bad lines, and a state
file of any bytes is loaded or refused with StateError. Bounded: 200 examples each, no deadline.
"""
from __future__ import annotations

import gzip
import re
import sys

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS, ROOT
from spl_lite.driver.api import Search
from spl_lite.core.errors import SplError
from spl_lite.io.jsonl import EventReader
from spl_lite.engine.checkpoint import StateError, decode_state

# Compiling a search raises Python's recursion limit (runtime/executor.py); do it before hypothesis
# starts, which otherwise warns that the limit changed under it.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 4000))
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    database=None)


def _texts() -> list[str]:
    """Corpus texts of every generation (every 20th under 4 kB, for speed), the reference detection
    and the error snapshots; without the corpus, the last two."""
    texts = [(ROOT / "searches" / "rare_parent_child_process_relationship.spl").read_text()]
    texts += [p.read_text() for p in sorted((ROOT / "tests" / "errors").glob("*.spl"))]
    if CORPUS.exists():
        for n, line in enumerate(CORPUS.read_bytes().splitlines()):
            text = orjson.loads(line)["search"]
            if n % 20 == 0 and len(text) < 4000:
                texts.append(text)
    return texts


TEXTS = _texts()
_TOKEN = re.compile(r"\w+|\s+|\S")
VOCABULARY = [
    "|", "(", ")", "[", "]", "{", "}", ",", "=", "==", "!=", "<", ">=", "+", "-", "*", "/", "%", ".", ":",
    "AND", "OR", "NOT", "IN", "LIKE", "BY", "AS", "null", "true", "false", "1", "-0.5", "1e309", "9223372036854775808",
    '"', "'", "`", "\\", "/(a/", "/[/", '"x"', "$x", "$", "eval", "where", "stats", "select", "fields", "rename",
    "rex", "union", "from", "into", "span(", "count(", "map_get(", "ucast(", "for_each(", "iterator(", ";", "\n",
    "first_time_event", "conditional_anomaly", "adaptive_threshold", "apply_model", "--body--", "$field$", "é", "\x00",
]


@st.composite
def mutated_search(draw) -> str:
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 5))):
        tokens = _TOKEN.findall(text) or [""]
        kind = draw(st.sampled_from(["del_char", "ins_char", "swap_chars", "del_token", "ins_token",
                                     "swap_tokens", "dup_span", "cut"]))
        i = draw(st.integers(0, max(0, len(text) - 1)))
        j = draw(st.integers(0, max(0, len(tokens) - 1)))
        k = draw(st.integers(0, max(0, len(tokens) - 1)))
        if kind == "del_char":
            text = text[:i] + text[i + 1 :]
        elif kind == "ins_char":
            text = text[:i] + draw(st.characters()) + text[i:]
        elif kind == "swap_chars" and i + 1 < len(text):
            text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        elif kind == "del_token":
            text = "".join(tokens[:j] + tokens[j + 1 :])
        elif kind == "ins_token":
            text = "".join(tokens[:j] + [draw(st.sampled_from(VOCABULARY))] + tokens[j:])
        elif kind == "swap_tokens":
            tokens[j], tokens[k] = tokens[k], tokens[j]
            text = "".join(tokens)
        elif kind == "dup_span":
            a, b = sorted((j, k))
            text = "".join(tokens[:b] + tokens[a:b] * draw(st.integers(1, 40)) + tokens[b:])
        elif kind == "cut":
            text = text[:i]
    return text


def plans_or_fails_cleanly(text: str) -> None:
    try:
        search = Search.compile(text)
    except SplError as error:
        error.render(text, "mutated.spl")  # rendering must not fail either
        error.to_json()
        return
    search.explain()


@SETTINGS
@given(mutated_search())
def test_mutated_corpus_searches_plan_or_raise_spl_error(text):
    plans_or_fails_cleanly(text)


ATOMS = ["x", "y.z", "input_event", "1", "2.5", "-3", '"s"', "null", "true", "/a+b/i", "[1, 2]", '{"k": 1}', "$v",
         "map_get(input_event, \"a\")", "mvindex(x, 0)", "x[0]", "x.y"]
UNARY = ["-{}", "NOT {}", "({})", "lower({})", "len({})", "cast({}, \"long\")", "{}[1]", "{}.f", "isnull({})"]
BINARY = ["{} + {}", "{} - {}", "{} * {}", "{} / {}", "{} % {}", "{} = {}", "{} == {}", "{} != {}", "{} < {}",
          "{} AND {}", "{} OR {}", "{} IN ({}, 1)", "{} LIKE {}", "if({}, {}, null)", "coalesce({}, {})",
          "match_regex({}, {})", "concat({}, {})", "[{}, {}]", "{{\"a\": {}, \"b\": {}}}"]

expressions = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(UNARY), inner).map(lambda t: t[0].format(t[1])),
        st.tuples(st.sampled_from(BINARY), inner, inner).map(lambda t: t[0].format(t[1], t[2])),
    ),
    max_leaves=60,
)
token_soup = st.lists(st.sampled_from(VOCABULARY + ATOMS), max_size=40).map(" ".join)


@SETTINGS
@given(st.one_of(expressions, token_soup, st.text(max_size=80)), st.sampled_from(["eval r = {}", "where {}",
                                                                                  "select {} AS r", "stats count({}) AS n BY x, span(t, 5m)"]))
def test_random_expressions_plan_or_raise_spl_error(expression, command):
    plans_or_fails_cleanly("| from read_ssa_enriched_events() | " + command.format(expression)
                           + " | into write_ssa_detected_events();")


@pytest.mark.parametrize("depth", [1, 60, 400, 999, 1500])
def test_deep_nesting_of_every_kind_is_a_diagnostic_not_a_crash(depth):
    for expression in ("(" * depth + "1" + ")" * depth, "-" * depth + "1", "NOT " * depth + "true",
                       "[" * depth + "]" * depth, "x" + "[0]" * depth, "x" + ".y" * depth, "1" + " + 1" * depth,
                       "lower(" * depth + "x" + ")" * depth, "{\"a\": " * depth + "1" + "}" * depth,
                       "if(true, " * depth + "1" + ", 2)" * depth):
        plans_or_fails_cleanly(f"| from read_ssa_enriched_events() | eval r = {expression};")


_LINES = [b'{"a": 1}', b"{", b"[]", b'"s"', b"", b"   ", b"\xff\xfe", b'{"a": "\xc3\x28"}', b"[" * 1100,
          b'{"a": {"b": [1, 2, {"c": null}]}}', b"\x1f\x8b\x08\x00"]


@SETTINGS
@given(st.lists(st.one_of(st.binary(max_size=60), st.sampled_from(_LINES)), max_size=30),
       st.sampled_from(["plain", "gzip", "truncated gzip"]), st.integers(1, 7))
def test_the_reader_turns_any_bytes_into_events_and_counted_bad_lines(tmp_path_factory, pieces, packing, batch_size):
    data = b"\n".join(pieces)
    if packing != "plain":
        data = gzip.compress(data)
        if packing == "truncated gzip":
            data = data[: max(10, len(data) // 2)]
    path = tmp_path_factory.mktemp("bytes") / "input"
    path.write_bytes(data)
    rejected = []
    reader = EventReader([str(path)], batch_size, on_reject=rejected.append)
    events = []
    try:
        for batch in reader.batches():
            assert all(type(e) is dict for e in batch)
            events.extend(batch)
            reader.commit()
    except SplError:
        return  # an unreadable file is reported as such
    counters = reader.counters
    assert counters.events == len(events)
    assert counters.bad_lines == len(rejected)
    assert counters.events + counters.bad_lines <= counters.lines
    # gzip is recognised by content, and so are a JSON array (its items count as lines) and a
    # byte-order mark (the text is read recoded)
    if packing == "plain" and not data.startswith((b"\x1f\x8b", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")) \
            and data.lstrip()[:1] != b"[":
        assert counters.lines == len(data.split(b"\n")) - (data.endswith(b"\n") or not data)


@SETTINGS
@given(st.binary(max_size=300))
def test_a_state_file_of_any_bytes_is_loaded_or_refused(data):
    try:
        decode_state(data, "state")
    except StateError:
        pass
