"""Searches run together share the work they have in common, and each gives what it gives alone."""
from __future__ import annotations

import pytest

from conftest import CORPUS, EXAMPLE, cli_in_process, compile_cached, needs_corpus

from spl_lite.engine.executor import Execution
from spl_lite.engine.sharing import SharedWork
from spl_lite.plan.rules.shared_work import shared_expressions, structure
from spl_lite.plan.program import plan_text

SSA = '| from read_ssa_enriched_events() '
SINK = ' | into write_ssa_detected_events();'


def _run_together(plans, events: list[dict], shared: SharedWork | None) -> tuple[list[list[dict]], list[Execution]]:
    """Each plan's records from one batch of `events` pushed through Executions that share `shared`
    (None: each alone), and the Executions."""
    got: list[list[dict]] = [[] for _ in plans]
    runs = [Execution(plan, lambda sink, batch, out=out: out.extend(batch.records()), shared=shared)
            for plan, out in zip(plans, got)]
    converted = runs[0].inputs.convert(events)
    for run in runs:
        run.push_converted(converted)
    return got, runs


def test_structure_ignores_positions_only():
    a = plan_text(SSA + '| eval x = lower(map_get(input_event, "n"))' + SINK).nodes[1].assignments[0][1]
    b = plan_text(SSA + '|   eval   y=lower( map_get(input_event,"n") )' + SINK).nodes[1].assignments[0][1]
    c = plan_text(SSA + '| eval x = upper(map_get(input_event, "n"))' + SINK).nodes[1].assignments[0][1]
    assert structure(a) == structure(b) != structure(c)


def test_structure_with_a_memo_gives_what_it_gives_without_and_visits_each_node_once(monkeypatch):
    from spl_lite.syntax import ast

    chain = plan_text(SSA + '| eval x = lower(ucast(map_get(input_event, "n"), "string", null)) = "a"' + SINK) \
        .nodes[1].assignments[0][1]
    inner_first = list(ast.walk(chain))[::-1]  # the compiler asks for inner expressions first
    known: dict = {}
    combined = []
    real_fold = ast.fold
    monkeypatch.setattr(ast, "fold", lambda node, combine, settled=None: real_fold(
        node, lambda n, parts: combined.append(n) or combine(n, parts), settled))
    with_memo = [structure(node, column, known) for column in ("input_event", None) for node in inner_first]
    visits_with_memo = len(combined)
    combined.clear()
    assert with_memo == [structure(node, column) for column in ("input_event", None) for node in inner_first]
    assert visits_with_memo == 2 * len(inner_first) < len(combined)  # each node once per column


def test_structure_tells_apart_values_a_dict_takes_for_one_key():
    shapes = {structure(plan_text(SSA + f'| eval x = coalesce(map_get(input_event, "n"), {v})' + SINK)
                        .nodes[1].assignments[0][1]) for v in ("1", "1.0", "true", "0.0", "-0.0", "0")}
    assert len(shapes) == 6


@needs_corpus
def test_the_shareable_column_of_every_corpus_expression_is_its_one_field_when_nothing_varies():
    """shareable_column stops at a second field; over every node of the SSA detections' expressions
    it gives what its definition says: the one field read, unless a call varies or binds."""
    from spl_lite.core.errors import SplError
    from spl_lite.functions import FUNCTIONS
    from spl_lite.plan.rules.shared_work import shareable_column
    from spl_lite.syntax import ast

    checked = shareable = 0
    for path in sorted((CORPUS.parent / "ssa").glob("*.spl")):
        try:
            plan = compile_cached(path.read_text()).plan
        except SplError:
            continue
        for node in plan.nodes:
            for expression in node.expressions():
                for part in ast.walk(expression):
                    if isinstance(part, ast.Field):
                        expected = part.path[0] if len(part.path) > 1 else None
                    else:
                        names = ast.field_names(part)
                        varies = any(isinstance(p, ast.Call) and (p.name in ("for_each", "iterator")
                                                                  or not FUNCTIONS[p.name].params)
                                     for p in ast.walk(part))
                        expected = next(iter(names)) if len(names) == 1 and not varies else None
                    assert shareable_column(part) == expected, part
                    checked += 1
                    shareable += expected is not None
    assert checked > 10_000 and shareable > 1_000


def test_searches_with_for_each_over_one_field_run_together():
    """`iterator(lst, "x")` reads one field but is no function: nothing under for_each is shared."""
    from spl_lite.plan import physical

    plans = [plan_text(SSA + f'| eval l = map_get(input_event, "l") | eval d = for_each(iterator(l, "x"), x * {k}) '
                             '| select d' + SINK) for k in (2, 3)]
    assert "for_each" not in physical.choose(plans).explain()
    got = [[], []]
    runs = [Execution(plan, lambda sink, batch, out=out: out.extend(batch.records()), shared=SharedWork())
            for plan, out in zip(plans, got)]
    converted = runs[0].inputs.convert([{"l": [1, 2]}, {"l": None}])
    for run in runs:
        run.push_converted(converted)
    assert got == [[{"d": [2, 4]}, {"d": None}], [{"d": [3, 6]}, {"d": None}]]


def test_a_common_chain_is_computed_once_and_its_errors_counted_by_each_search():
    first = plan_text(SSA + '| eval x = lower(map_get(input_event, "n")) | select x' + SINK)
    second = plan_text(SSA + '| eval y = lower(map_get(input_event, "n")), z = 1 | select y, z' + SINK)
    shared = SharedWork()
    got = {0: [], 1: []}
    runs = [Execution(plan, lambda sink, batch, i=i: got[i].extend(batch.records()), shared=shared)
            for i, plan in enumerate((first, second))]
    converted = runs[0].inputs.convert([{"n": "A"}, {"n": 5}, {"n": "B"}])
    for run in runs:
        run.push_converted(converted)
    # map_get and lower over it computed for the first search; the second reads lower's result.
    assert (shared.computed, shared.reused) == (2, 1)
    assert got == {0: [{"x": "a"}, {"x": None}, {"x": "b"}], 1: [{"y": "a", "z": 1}, {"y": None, "z": 1}, {"y": "b", "z": 1}]}
    assert [run.record_errors.count for run in runs] == [1, 1]


def test_what_is_computed_from_a_shared_result_is_shared_whatever_each_search_names_it():
    first = plan_text('| from source | eval pf = process.file | eval n = lower(pf.name), p = pf.path | where n LIKE "%.exe" '
                      '| select n, p' + SINK)
    second = plan_text('| from source | eval f = process.file | where lower(f.name) LIKE "%.exe" | eval q = f.path '
                       '| select q' + SINK)
    # A third search with a field literally named `f.path`: its `f.path` is that field, not shared.
    third = plan_text('| from source | eval f = process.file, `f.path` = "own" | eval q = f.path | select q' + SINK)
    events = [{"process": {"file": {"name": n, "path": p}}} for n, p in
              [("A.EXE", "c:\\a.exe"), ("b.dll", None), (None, "x"), ("A.EXE", "c:\\a.exe"), (1, 2)]] + [{"process": 3}, {}]

    def outputs(shared):
        return _run_together((first, second, third), events, shared)[0]

    shared = SharedWork()
    together = outputs(shared)
    assert together == outputs(None)
    assert together[2] == [{"q": "own"}] * len(events)
    # The first search's process.file read by the other two, its lower(pf.name) by the second (whose
    # f.path comes after its filter, over rows of its own).
    assert shared.reused == 3


def test_searches_together_write_what_each_writes_alone(tmp_path):
    """The shipped library and the reference over the example: each output file equals its own run."""
    from pathlib import Path

    searches = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "searches").glob("*.spl"))
    together = cli_in_process("run", *searches, "--input", EXAMPLE, "--output-dir", tmp_path / "all")
    assert together.returncode == 0, together.err
    for search in searches:
        alone = cli_in_process("run", search, "--input", EXAMPLE, "--output", tmp_path / "one.jsonl")
        assert alone.returncode == 0, alone.err
        name = Path(search).stem
        assert (tmp_path / "all" / f"{name}.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes(), name


@pytest.mark.corpus  # a corpus-wide comparison: CI's corpus step (pyproject addopts)
def test_the_corpus_detections_together_give_what_each_gives_alone(monkeypatch):
    """Every corpus SSA detection that plans, run in one pass with shared work (encoded columns,
    text searched once per batch) over generated events, writes the bytes it writes alone."""
    import sys
    from pathlib import Path

    import orjson

    from spl_lite.core.errors import SplError
    from spl_lite.driver.api import Search
    from spl_lite.functions import time as time_functions
    from spl_lite.io.formats import InputConverter
    from spl_lite.io.jsonl import encode_record

    root = Path(__file__).resolve().parents[1]
    corpus = root.parent / "shared" / "corpus" / "ssa"
    if not corpus.is_dir():
        pytest.skip(f"the corpus of SSA detections is not at {corpus}")
    monkeypatch.setattr(time_functions, "_clock", lambda: 1_700_000_000_000)  # time() alike in both runs
    plans = []
    for path in sorted(corpus.glob("*.spl")):
        try:
            plans.append(Search.compile(path.read_text()).plan)
        except SplError:
            continue
    assert len(plans) > 100
    sys.path.insert(0, str(root / "benchmarks"))
    from generate_events import generate

    lines = list(generate(3000, seed=3, rare_rate=0.02))
    batches = [[orjson.loads(line) for line in lines[i:i + 1024]] for i in range(0, len(lines), 1024)]

    def outputs(shared: SharedWork | None) -> list[bytes]:
        written = [[] for _ in plans]
        runs = [Execution(plan, lambda sink, batch, out=out: out.extend(map(encode_record, batch.records())),
                          shared=shared) for plan, out in zip(plans, written)]
        converter = InputConverter()
        for events in batches:
            converted = converter.convert(events)
            for run in runs:
                run.push_converted(converted)
            if shared is not None:
                shared.clear()
        for run in runs:
            run.finish()
        return [b"".join(out) for out in written] + [run.record_errors.count for run in runs]

    shared = SharedWork()
    together = outputs(shared)
    assert shared.reused > 500
    assert together == outputs(None)
    assert sum(map(bool, together[:len(plans)])) >= 3  # detections found, not only empty outputs


def test_explain_lists_the_expressions_several_searches_share():
    first = plan_text(SSA + '| eval x = lower(map_get(input_event, "n")), y = map_get(input_event, "only") | select x, y' + SINK)
    second = plan_text(SSA + '| eval y = lower(map_get(input_event,"n")) | where y = "a" | select y' + SINK)
    assert shared_expressions([first, second]) == [('lower(map_get(input_event, "n"))', 2),
                                                   ('map_get(input_event, "n")', 2)]
    from spl_lite.plan import physical

    text = physical.choose([first, second]).explain()
    assert 'shared: 2 expressions' in text and '2 searches: lower(map_get(input_event, "n"))' in text
    assert "shared" not in physical.choose([first]).explain()


def test_a_condition_over_an_encoded_column_is_evaluated_per_distinct_value():
    """A `where` of comparisons on one dictionary-encoded field runs over its distinct values, and
    gives what it gives alone; other calls (cidrmatch, whose "bad" is a record error) do not."""
    searches = [
        SSA + '| eval n = lower(map_get(input_event, "n")) | where n = "10.0.0.0/8" OR n LIKE "192.%" | select n' + SINK,
        SSA + '| eval m = lower(map_get(input_event, "n")) | where m LIKE "192.%" OR m = "10.0.0.0/8" | select m' + SINK,
        SSA + '| eval n = lower(map_get(input_event, "n")) | where cidrmatch(n, "10.1.2.3") | select n' + SINK,
        SSA + '| eval k = lower(map_get(input_event, "n")) | where cidrmatch(k, "10.1.2.3") | select k' + SINK,
    ]
    plans = [plan_text(text) for text in searches]
    values = ["10.0.0.0/8", "BAD", "192.168.0.0/16", "10.0.0.0/8", "bad", "8.8.8.8"] * 3
    events = [{"n": v} for v in values]

    def outputs(shared):
        got, runs = _run_together(plans, events, shared)
        return got, [(run.record_errors.count, run.record_errors.examples) for run in runs]

    shared = SharedWork()
    together = outputs(shared)
    assert together == outputs(None)
    assert together[1][2][0] == together[1][3][0] == 1  # "bad", counted once as its memoised call counts it
    assert [len(out) for out in together[0]] == [9, 9, 6, 6]
    # The first search's condition (and the second's: the same ORs in another order are another
    # expression) went over the 4 distinct values; cidrmatch went over the rows.
    assert shared.by_distinct_value == 2


def test_a_column_two_expressions_give_is_encoded_once(monkeypatch):
    """`map_get(input_event, "n")` in one search and `process.cmd_line` of a view over the same
    decoded column in another give one column object: it is hashed into codes once per batch."""
    import numpy as np

    from spl_lite.core.batch import Batch, encoding, known
    from spl_lite.engine import sharing
    from spl_lite.engine.expressions import RecordErrors

    calls = []
    real = sharing.encode_text
    monkeypatch.setattr(sharing, "encode_text", lambda column: calls.append(column) or real(column))
    decoded = np.array(["a", "b", "a", None, "a", "b"] * 2, dtype=object)
    batch = Batch({"e": np.array([None] * 12, dtype=object)}, np.arange(12))
    shared = SharedWork()
    expressions = [plan_text(f"| from source | eval x = {text}" + SINK).nodes[1].assignments[0][1]
                   for text in ('map_get(e, "n")', "e.n")]
    reads = [shared.wrap(expr, "e", lambda _batch: decoded, RecordErrors(), "values") for expr in expressions]
    first, second = (read(batch) for read in reads)
    assert first is second and list(first) == list(decoded)
    distinct, codes = encoding(first)
    assert list(distinct[codes]) == list(decoded) and len(set(codes)) == 3
    assert len(calls) == 1
    shared.clear()  # the next batch's column is another object, encoded anew
    reads[1](batch)
    assert len(calls) == 2
    # A key no event of the batch has: one null stands for every row, without hashing any.
    nulls = real(known(np.full(5, None, dtype=object), frozenset((type(None),))))
    assert list(encoding(nulls)[1]) == [0] * 5 and list(nulls) == [None] * 5


@pytest.mark.parametrize("seed", range(6))
def test_a_text_index_finds_literals_alike_by_scanning_and_by_its_table_of_pairs(seed):
    """The first literals looked for in a column's values are found by scanning them joined; later
    ones through the table of character pairs (sharing._TABLE_AFTER). Both say what `in` says of
    each value, among texts with line breaks, capitals, non-ASCII letters and nulls."""
    import random

    import numpy as np

    from spl_lite.engine.sharing import _TABLE_AFTER, TextIndex

    rng = random.Random(seed)
    alphabet = "abcAB.\\ -\né:"
    values = [None if rng.random() < 0.05 else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
              for _ in range(300)]
    literals = [rng.choice([v for v in values if v])[2:2 + rng.randint(1, 5)] for _ in range(3 * _TABLE_AFTER)]
    literals += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(_TABLE_AFTER)]
    literals = [text for text in literals if "\n" not in text]
    for ignore_case in (False, True):
        index = TextIndex(np.array(values, dtype=object), None)
        for text in literals:
            text = text.lower() if ignore_case else text  # as the callers give it
            hits, unsure = index.containing(text, ignore_case)
            searched = ["" if v is None else (v.lower() if v.isascii() else "") if ignore_case else v for v in values]
            assert hits.tolist() == [text in each for each in searched], text
            assert unsure.tolist() == [ignore_case and v is not None and not v.isascii() for v in values]


def test_a_memo_over_distinct_values_judges_its_worth_by_the_rows_they_stand_for():
    import numpy as np

    from spl_lite.core.batch import Batch, distinct_values
    from spl_lite.engine.expressions import _Mapped

    # 600 values of 6,000 rows: most rows repeat a value, so the memo is worth keeping.
    values = np.array([f"v{i}" for i in range(600)], dtype=object)
    column = distinct_values(values, frozenset((str,)), 6000)
    mapped = _Mapped(lambda batch: batch.columns["x"], str.upper)
    assert list(mapped(Batch({"x": column}, np.arange(600)))) == [v.upper() for v in values]
    assert mapped.memo is not None
    alone = _Mapped(lambda batch: batch.columns["x"], str.upper)
    alone(Batch({"x": values}, np.arange(600)))
    assert alone.memo is None  # as many new values as rows


def test_a_call_over_an_encoded_column_of_lists_runs_once_per_distinct_list():
    """`mvindex(split(p, "\\"), -1)` in two searches: split's result is shared (one column of lists,
    encoded as its text input was), so mvindex cannot join split's memo; it runs over the distinct
    lists instead of every row, and each search gives what it gives alone, errors included."""
    import numpy as np

    from spl_lite.core.batch import Batch, coded, encoding
    from spl_lite.engine.expressions import _Mapped

    searches = [
        SSA + '| eval p = lower(map_get(input_event, "p")), n = mvindex(split(p, "\\\\"), -1) | select n' + SINK,
        SSA + '| eval q = lower(map_get(input_event, "p")) | eval m = mvindex(split(q, "\\\\"), 1) | select m' + SINK,
    ]
    plans = [plan_text(text) for text in searches]
    paths = ["C:\\Windows\\cmd.exe", "c:\\windows\\CMD.exe", None, "x", 7, "C:\\a\\b.exe"] * 4

    def outputs(shared):
        got, runs = _run_together(plans, [{"p": p} for p in paths], shared)
        return got, [run.record_errors.count for run in runs]

    together = outputs(SharedWork())
    assert together == outputs(None)
    assert [r["n"] for r in together[0][0][:6]] == ["cmd.exe", "cmd.exe", None, "x", None, "b.exe"]
    assert [r["m"] for r in together[0][1][:6]] == ["windows", "windows", None, None, None, "a"]

    calls = []
    lists = np.empty(3, dtype=object)
    lists[:] = [["a", "b"], ["c"], None]
    column = coded(lists, np.array([0, 1, 0, 0, 2, 1, 0, 1]), frozenset((list, type(None))))
    last = _Mapped(lambda batch: batch.columns["x"], lambda v: calls.append(v) or (None if v is None else v[-1]))
    result = last(Batch({"x": column}, np.arange(8)))
    assert list(result) == ["b", "c", "b", "b", None, "c", "b", "c"] and len(calls) == 3
    assert encoding(result) is not None  # still encoded for what reads it next


@pytest.mark.parametrize("datamodels", [
    [["Endpoint_Processes"], ["Endpoint_Registry", "Endpoint_Processes"], [], ["Authentication"]],
    # what is no list is read as no data model at all ([]); a map among the items: row by row
    [["Endpoint_Processes"], None, "Endpoint_Processes", ["Endpoint_Processes", {"a": 1}], 5],
])
def test_a_text_among_lists_several_searches_test_is_what_each_gives_alone(datamodels, monkeypatch):
    """`"X" IN (_datamodels)` in several searches: every distinct list of the batch's column tested
    once per text, where every value is a list of hashable items, else row by row."""
    from spl_lite.engine import sharing

    found = []
    distinct_lists = sharing._distinct_lists
    monkeypatch.setattr(sharing, "_distinct_lists", lambda column: found.append(distinct_lists(column)) or found[-1])
    searches = [SSA + f'| where "{name}" IN (_datamodels) | eval n = map_get(input_event, "n") | select n' + SINK
                for name in ("Endpoint_Processes", "Authentication", "Endpoint_Processes")]
    plans = [plan_text(text) for text in searches]
    events = [{"n": i, "_datamodels": datamodels[i % len(datamodels)]} for i in range(40)]

    together, alone = _run_together(plans, events, SharedWork())[0], _run_together(plans, events, None)[0]
    assert together == alone
    assert len(found) == 1 and (found[0] is not None) == all(isinstance(d, list) for d in datamodels)
    holds = [isinstance(d, list) and "Endpoint_Processes" in d for d in datamodels]
    assert [r["n"] for r in together[0]] == [i for i in range(40) if holds[i % len(datamodels)]]


def test_a_field_a_batch_lacks_is_one_encoded_null_and_what_reads_it_runs_once():
    """`share LIKE "\\%\\c$"` and `actor_session.uid` in a G4 search over documents without them:
    the missing field is a dictionary-encoded column of one null, one object for every batch of a
    length, so a condition over it is evaluated for that one value, once for all searches, and a
    path into it is null without a look at each row."""
    import numpy as np

    from spl_lite.core.batch import NULL_KINDS, Batch, encoding, kinds_of

    column = Batch({"x": np.arange(5)}, np.arange(5)).column("share")
    assert kinds_of(column) == NULL_KINDS and encoding(column)[0].tolist() == [None]
    assert column.tolist() == [None] * 5
    # the same object for every search's batch (sharing.py keys its work by the column's identity)
    assert Batch({"y": np.arange(5)}, np.arange(5)).column("access_mask") is column
    text = ('| from source | eval s = actor.session | eval u = s.uid | where share LIKE "\\\\%\\\\c$" OR u = "x" '
            '| select u' + SINK)
    events = [{"process": {"file": {"name": "a.exe"}}}, {"share": "\\\\h\\c$", "actor": {"session": {"uid": "x"}}}]
    together = _run_together([plan_text(text)] * 2, events, SharedWork())[0]
    assert together[0] == together[1] == _run_together([plan_text(text)], events, None)[0][0] == [{"u": "x"}]


def test_several_searches_read_whole_events_in_larger_batches(tmp_path):
    """Each search pays a fixed cost per batch: a shared pass of whole events takes larger batches,
    which the reader honours unless --batch-size says otherwise."""
    from spl_lite.io.jsonl import BATCH_SIZE, EventReader
    from spl_lite.plan import physical

    whole = plan_text('| from source | eval n = serialize_json(process) | select n' + SINK)
    other = plan_text(SSA + '| eval y = map_get(input_event, "n") | select y' + SINK)
    alone, together = physical.choose([whole]).reading, physical.choose([whole, other]).reading
    assert alone.keys is None is together.keys
    assert alone.whole_batch_size is None and together.whole_batch_size > BATCH_SIZE
    assert f"{together.whole_batch_size} a batch" in physical.choose([whole, other]).explain()
    events = tmp_path / "events.jsonl"
    events.write_text('{"n": 1}\n' * 7)
    sizes = [len(b) for b in EventReader([str(events)], None, whole_batch_size=3).batches()]
    assert sizes == [3, 3, 1]
    assert [len(b) for b in EventReader([str(events)], 2, whole_batch_size=3).batches()] == [2, 2, 2, 1]


def test_several_searches_read_projected_events_in_larger_batches(tmp_path):
    from spl_lite.io.jsonl import PROJECTED_BATCH_SIZE, EventReader
    from spl_lite.plan import physical

    first = plan_text(SSA + '| eval y = map_get(input_event, "n") | select y' + SINK)
    second = plan_text(SSA + '| eval z = map_get(input_event, "m") | select z' + SINK)
    alone, together = physical.choose([first]).reading, physical.choose([first, second]).reading
    assert alone.keys == {"n"} and together.keys == {"n", "m"}
    assert alone.projected_batch_size is None and together.projected_batch_size > PROJECTED_BATCH_SIZE
    assert f"(projected), {together.projected_batch_size} a batch" in physical.choose([first, second]).explain()
    events = tmp_path / "events.jsonl"
    events.write_text(('{"n": 1, "m": "%s"}\n' % ("a" * 300)) * 10_000)  # 3 MB: read in several blocks

    def batch_sizes(batch_size, projected_batch_size):
        reader = EventReader([str(events)], batch_size, decoder=together.decoder("auto"),
                             projected_batch_size=projected_batch_size)
        return [len(batch) for batch in reader.batches()]

    assert batch_sizes(None, None) == [10_000]  # fewer lines than the default batch
    chosen = batch_sizes(None, 1000)  # blocks are gathered into batches of at least 1000 events
    assert sum(chosen) == 10_000 and len(chosen) > 5 and min(chosen[:-1]) >= 1000
    assert batch_sizes(500, 1000) == batch_sizes(500, None)  # --batch-size wins
