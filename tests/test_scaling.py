"""Issue 14 item 7: a text over the size limit is refused with a diagnostic instead of taking
minutes and gigabytes. That parse and plan time grows linearly with the text is measured by
benchmarks/bench_parse_scaling.py, not by a timed test."""
from __future__ import annotations

import time

import pytest

from spl_lite import Search, SplError
from spl_lite.syntax.text import MAX_SEARCH_BYTES


def test_a_text_over_the_limit_is_refused_at_once():
    text = "| from read_ssa_enriched_events() /*" + "x" * MAX_SEARCH_BYTES + "*/;"
    started = time.perf_counter()
    with pytest.raises(SplError) as raised:
        Search.compile(text)
    assert time.perf_counter() - started < 1
    assert raised.value.code == "E0404"
    assert f"over the limit of {MAX_SEARCH_BYTES:,} bytes" in raised.value.render(text)


def test_a_plan_too_large_is_refused_with_a_diagnostic():
    """n commands each adding a field list n²/2 field names in all: bounded, so planning stays linear."""
    text = "| from read_ssa_enriched_events() " + " ".join(f"| eval f{i} = {i}" for i in range(4_000)) + ";"
    with pytest.raises(SplError) as raised:
        Search.compile(text)
    assert raised.value.code == "E0404"
    assert "too large to plan" in raised.value.message and raised.value.span is not None


def test_the_limit_counts_utf8_bytes():
    text = '| from read_ssa_enriched_events() | where x = "' + "é" * (MAX_SEARCH_BYTES // 2) + '";'
    with pytest.raises(SplError, match="over the limit"):
        Search.compile(text)
