"""KnownColumn: columns that carry their value types and a dictionary encoding give the results
plain object columns give, wherever an operator uses those facts."""
from __future__ import annotations

import numpy as np
import pytest

from spl_lite.syntax import ast
from spl_lite.driver.api import Search
from spl_lite.functions.cast import ucast_column
from spl_lite.engine import expressions
from spl_lite.core.batch import Batch, coded, encoding, known, kinds_of, null_mask, take_rows
from spl_lite.engine.expressions import compile_expression, compile_predicate, keep_mask
from spl_lite.engine.streaming_ml import ConditionalAnomaly


def objects(values) -> np.ndarray:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def test_facts_survive_row_selection_and_nothing_else():
    column = coded(objects(["a", "b", None, "unused"]), np.array([1, 0, 2, 1, 0]), frozenset((str, type(None))))
    assert column.tolist() == ["b", "a", None, "b", "a"]
    kept = take_rows(column, np.array([True, False, True, False, True]))
    assert kept.tolist() == ["b", None, "a"] and encoding(kept) is not None and kinds_of(kept) == {str, type(None)}
    derived = [column == "a", column[1:], column[np.array([0, 1])], column.copy()]
    assert all(encoding(d) is None and kinds_of(d) is None for d in derived)
    assert list(iter(column)) == column.tolist()  # iterates like a plain array


def test_null_mask_reads_codes_in_use_only():
    distinct = objects([None, "x", "y"])
    column = coded(distinct, np.array([1, 2, 1]))
    assert null_mask(column).tolist() == [False, False, False]
    assert null_mask(coded(distinct, np.array([0, 1, 0]))).tolist() == [True, False, True]
    assert null_mask(known(objects(["a", "b"]), frozenset({str}))).tolist() == [False, False]


def test_ucast_trusts_known_kinds_and_checks_otherwise():
    texts = known(objects(["a", None, "b"]), frozenset((str, type(None))))
    assert ucast_column(texts, "string", None) is texts
    assert ucast_column(texts, "string", "") == ["a", "", "b"]
    mixed = objects(["a", 1, True])
    assert ucast_column(mixed, "string", None) == ["a", None, None]


def field_batch(values, name="v") -> Batch:
    return Batch({name: values}, np.arange(len(values)))


def compiled(text: str):
    """The evaluator of the expression in `eval r = <text>`."""
    plan = Search.compile(f"| from read_ssa_enriched_events() | eval r = {text} | into write_ssa_detected_events();").plan
    return compile_expression(plan.nodes[1].assignments[0][1])


def test_memoised_chains_give_per_row_results_and_an_encoding():
    evaluate = compiled('mvindex(split(lower(v), "\\\\"), -1)')
    rows = ["C:\\A\\X.EXE", None, "C:\\B\\y.exe", "C:\\A\\X.EXE", 5, ["list"], "C:\\B\\y.exe"]
    expected = ["x.exe", None, "y.exe", "x.exe", None, None, "y.exe"]
    assert evaluate(field_batch(objects(rows))).tolist() == expected  # numbers and lists: one by one
    again = evaluate(field_batch(objects([r for r in rows if isinstance(r, str) or r is None])))
    assert again.tolist() == [e for r, e in zip(rows, expected) if isinstance(r, str) or r is None]
    assert encoding(again) is not None and kinds_of(again) == {str, type(None)}


def test_a_chain_over_coded_text_runs_per_distinct_value_and_keeps_its_memo(monkeypatch):
    evaluate = compiled("upper(v)")
    calls, looked_up = [], []
    step = evaluate.step
    evaluate.step = lambda value: calls.append(value) or step(value)
    map_values = expressions._Mapped._map_values
    monkeypatch.setattr(expressions._Mapped, "_map_values",
                        lambda self, column, rows: looked_up.append(len(column)) or map_values(self, column, rows))
    rng = np.random.default_rng(3)
    for batch in range(4):
        # 600 distinct values over 2,048 rows: fewer than half the rows are new to the memo.
        distinct = objects([f"p{batch}-{i}" for i in range(600)] + [None])
        codes = rng.integers(0, len(distinct), 2048)
        column = coded(distinct, codes, frozenset((str, type(None))))
        result = evaluate.map(column)
        assert result.tolist() == [None if v is None else v.upper() for v in column.tolist()]
        assert encoding(result) is not None and kinds_of(result) == {str, type(None)}
        assert evaluate.memo is not None  # judged by the rows it stands for, not by distinct values
        assert looked_up[-1] == len(set(codes.tolist()))  # the distinct values in use, not the rows
    assert len(calls) == len(set(calls))  # each distinct value was computed once


def test_memo_starting_over_keeps_earlier_columns_right(monkeypatch):
    monkeypatch.setattr(expressions, "_MEMO_LIMIT", 3)
    monkeypatch.setattr(expressions, "_MEMO_SAMPLE", 1)
    evaluate = compiled("upper(v)")
    columns = [evaluate(field_batch(objects([f"n{i}", "same", "same", "same"]))) for i in range(8)]
    assert evaluate.memo is not None and len(evaluate.memo) <= 3  # it started over at least once
    for i, column in enumerate(columns):
        assert column.tolist() == [f"N{i}", "SAME", "SAME", "SAME"] and encoding(column) is not None


def test_membership_and_conditional_anomaly_agree_on_coded_and_plain_columns():
    rng = np.random.default_rng(5)
    parents = [f"p{i}" for i in rng.integers(0, 6, 3000)]
    children = [f"c{i}" if i else None for i in rng.integers(0, 9, 3000)]
    plain_state, coded_state = ConditionalAnomaly(), ConditionalAnomaly()
    for start in range(0, 3000, 512):
        p, c = objects(parents[start:start + 512]), objects(children[start:start + 512])
        distinct_c = objects(sorted({x for x in c if x is not None}) + [None, "never used"])
        codes = np.array([len(distinct_c) - 2 if x is None else list(distinct_c).index(x) for x in c])
        coded_children = coded(distinct_c, codes)
        assert coded_children.tolist() == c.tolist()
        assert plain_state.score(p, c) == coded_state.score(p, coded_children)
        predicate = compile_predicate(ast_or("v", ["c1", "c4", "zzz"]))
        assert keep_mask(predicate(field_batch(c))).tolist() == keep_mask(predicate(field_batch(coded_children))).tolist()
    assert plain_state.state_dict() == coded_state.state_dict()  # numbered in the same order


def ast_or(name: str, options: list[str]):
    span = ast.Span(0, 0, 1, 1)
    field = ast.Field((name,), span)
    return ast.Logical("or", tuple(ast.Binary("=", field, ast.Literal(o, span), span) for o in options), span)


@pytest.mark.parametrize("text, values, expected", [
    ("(-1) * v", [2.0, 0.5, -3], [-2.0, -0.5, 3]),
    ("v / 2", [3, 3.0, -3], [1, 1.5, -1]),  # integer division truncates toward zero
    ("v % 0", [3, 3.5], [None, float("nan")]),
    ("log(v)", [100.0, 1e-3], [2.0, -3.0]),
    ("log(v)", [0.0, -1.0], [float("-inf"), float("nan")]),
])
def test_number_columns_take_the_fast_path_with_the_same_results(text, values, expected):
    got = compiled(text)(field_batch(objects(values))).tolist()
    assert [type(g) for g in got] == [type(e) for e in expected]
    assert all((g != g and e != e) or g == e for g, e in zip(got, expected))


def test_orderings_of_doubles_are_null_where_nan():
    evaluate = compiled("a > b")
    batch = Batch({"a": objects([1.0, float("nan"), 3.0, 2.0]), "b": objects([0.5, 1.0, float("nan"), 2.0])},
                  np.arange(4))
    assert evaluate(batch).tolist() == [True, None, None, False]
    mixed = Batch({"a": objects([1, "x"]), "b": objects([0.5, "w"])}, np.arange(2))
    assert evaluate(mixed).tolist() == [True, True]
