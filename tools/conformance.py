"""Conformance report: how many corpus searches parse, plan and run, per dialect generation.

    python tools/conformance.py [--corpus ../shared/corpus/searches.jsonl] [--events examples/process_creation.jsonl]
                                [--failures] [--markdown] [--engine duckdb|flink [--lower-only]]

Each text that plans is run over sample events of its dialect: the SSA enriched events for
G0-G2, the same events as OCSF documents (spl_lite.io.ocsf) for G3 and G4. A run "fails" only on an
internal error; a diagnostic is the intended outcome for a broken text. Failures are grouped by
their first diagnostic.

With `--engine NAME`, every text that plans is also lowered to that engine and, when it lowers, run on
it over the same sample events (written as JSON lines) and compared record for record with the
default engine: a second table gives per generation planned / lowered / parity / diagnosed (E0405).
`--lower-only` only lowers them, `--every N` runs every N-th (Flink runs each text as a job on its
mini-cluster: seconds a text, about an hour for all of G1).
"""
from __future__ import annotations

import argparse
import collections
import functools
import re
import sys
import time
import traceback
from pathlib import Path

import orjson

from spl_lite.driver.api import Search
from spl_lite.io.jsonl import encode_record
from spl_lite.core.errors import SplError
from spl_lite.io.ocsf import from_enriched
from spl_lite.syntax.parse import parse

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "searches.jsonl"
DEFAULT_EVENTS = ROOT / "examples" / "process_creation.jsonl"


def sample_events(path: Path) -> dict[str, list[dict]]:
    enriched = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    ocsf = [from_enriched(e) for e in enriched]
    return {"G0": enriched, "G1": enriched, "G2": enriched, "G3": ocsf, "G4": ocsf}


def evaluate(entry: dict, events: dict[str, list[dict]]) -> tuple[str, str, int]:
    """(stage reached, first diagnostic or error, records out). Stages: parse, plan, run, ok."""
    text = entry["search"]
    try:
        parse(text)
    except SplError as error:
        return "parse", f"{error.code} {error.message}", 0
    try:
        search = Search.compile(text)
    except SplError as error:
        return "plan", f"{error.code} {error.message}", 0
    try:
        records = sum(1 for _ in search.run(events[entry["generation"]]))
    except Exception as error:  # an internal error is exactly what this report exists to find
        return "run", f"{type(error).__name__}: {error} @ {traceback.extract_tb(error.__traceback__)[-1].name}", 0
    return "ok", "", records


def duckdb_outcome(text: str, events_file: Path, expected: bytes | None) -> tuple[str, str]:
    """("diagnosed", reason), ("lowered", "") when `expected` is None, or ("parity", "") / ("differs",
    what): `text` lowered to DuckDB and run there."""
    from spl_lite.backends.duckdb import compile_text

    try:
        lowered = compile_text(text)
    except SplError as error:
        return "diagnosed", f"{error.code} {error.message}"
    if expected is None:
        return "lowered", ""
    return _compared(lambda: lowered.run([str(events_file)]), expected)


def flink_outcome(text: str, events_file: Path, expected: bytes | None) -> tuple[str, str]:
    """The same for Flink, lowering only: ("diagnosed", reason) or ("lowered", ""); the texts to run are
    gathered and run many to a job by `FlinkBatches`."""
    from spl_lite.backends.flink import compile_for_file

    try:
        compile_for_file(Search.compile(text).plan, str(events_file))
    except SplError as error:
        return "diagnosed", f"{error.code} {error.message}"
    return "lowered", ""


class FlinkBatches:
    """Texts lowered to Flink, run `size` to a job (one INSERT each in one statement set: the mini-cluster
    and its Python workers start once a job, not once a text). A job that fails is halved, and its halves
    run, until the failure is pinned on its text."""

    def __init__(self, size: int):
        self.size = size
        self.pending: list[tuple[object, Path, bytes, object]] = []

    def add(self, text: str, events_file: Path, expected: bytes, report) -> None:
        """Queue `text`; `report(outcome, detail)` is called once it has run."""
        from spl_lite.backends.flink import compile_for_file

        script = compile_for_file(Search.compile(text).plan, str(events_file))
        self.pending.append((script, events_file, expected, report))
        if len(self.pending) >= self.size:
            self.run()

    def run(self) -> None:
        from spl_lite.backends.flink import run_scripts

        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            results = run_scripts([(script, str(path)) for script, path, _, _ in batch])
        except Exception as error:  # one text's error fails the job: halve it until the text is found
            if len(batch) == 1:
                batch[0][3]("differs", f"{type(error).__name__}: {_last_cause(error)}")
                return
            for half in (batch[: len(batch) // 2], batch[len(batch) // 2:]):
                self.pending = half
                self.run()
            return
        for (_, _, expected, report), records in zip(batch, results):
            report(*_compared(lambda: records, expected))


def _last_cause(error: Exception) -> str:
    """The innermost cause of a Flink job's failure (its Java stack names them `Caused by:`)."""
    causes = [line for line in str(error).splitlines() if line.startswith("Caused by:")]
    return (causes[-1] if causes else str(error).splitlines()[0] if str(error) else "")[:200]


def _compared(records, expected: bytes) -> tuple[str, str]:
    try:
        got = b"".join(encode_record(r) for r in records())
    except Exception as error:  # an error at run time is a lowering bug
        return "differs", f"{type(error).__name__}: {str(error)[:120]}"
    return ("parity", "") if got == expected else ("differs", "other records")


_NOW = re.compile(r"\btime\(\s*\)")
FIXED_NOW = "1700000000000"


# Engines a text can be lowered to: name -> (text, its sample events as a file, the default engine's
# bytes over them, or None to lower only) -> outcome.
ENGINES = {"duckdb": duckdb_outcome, "flink": flink_outcome}


def engine_table(corpus: Path, events: dict[str, list[dict]], engine: str, tmp: Path, run: bool = True,
                 every: int = 1, batch: int = 40, generations: set[str] | None = None):
    """Per generation: planned, lowered, run, parity (and how many of those wrote records), diagnosed,
    differs; and the texts that differ. Without `run` texts are only lowered; with `every` N, only every
    N-th planned text of a generation is also run. Flink runs `batch` texts to a job."""
    files = {}
    for generation, sample in events.items():
        files[generation] = tmp / f"{generation}.jsonl"
        files[generation].write_bytes(b"".join(encode_record(e) for e in sample))
    table: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    reasons: collections.Counter = collections.Counter()
    differing = []
    flink = FlinkBatches(batch) if engine == "flink" else None

    def report(generation, slug, expected, outcome, detail):
        row = table[generation]
        row["lowered"] += outcome != "diagnosed"
        row["run"] += outcome in ("parity", "differs")
        row["with records"] += outcome == "parity" and expected != b""
        if outcome != "lowered":
            row[outcome] += 1
        if outcome == "diagnosed":
            reasons[detail.split(":")[0]] += 1
        elif outcome == "differs":
            differing.append((generation, slug, detail))

    for line in corpus.read_bytes().splitlines():
        entry = orjson.loads(line)
        text, generation = entry["search"], entry["generation"]
        if generations and generation not in generations:
            continue
        # time() is the processing time, which two engines read at different moments: both read one instant.
        text = _NOW.sub(FIXED_NOW, text)
        try:
            search = Search.compile(text)
        except (SplError, RecursionError):
            continue
        table[generation]["planned"] += 1
        sampled = run and table[generation]["planned"] % every == 0
        try:
            expected = b"".join(encode_record(r) for r in search.run(events[generation])) if sampled else None
        except Exception:
            continue  # an internal error of the default engine: the first table reports it
        outcome, detail = ENGINES[engine](text, files[generation], expected)
        done = functools.partial(report, generation, entry["slug"], expected)
        if flink is not None and outcome == "lowered" and expected is not None:
            flink.add(text, files[generation], expected, done)
        else:
            done(outcome, detail)
    if flink is not None:
        flink.run()
    return table, reasons, differing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--events", type=Path, default=DEFAULT_EVENTS)
    parser.add_argument("--failures", action="store_true", help="list every failing text with its diagnostic")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the README)")
    parser.add_argument("--engine", choices=sorted(ENGINES), help="also lower every planned text to this engine "
                        "and compare its records with the default engine's")
    parser.add_argument("--lower-only", action="store_true",
                        help="with --engine: only lower the texts, without running them (Flink runs take seconds each)")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="with --engine: run only every N-th planned text of a generation (the others are lowered)")
    parser.add_argument("--batch", type=int, default=40, metavar="N",
                        help="with --engine flink: texts run in one Flink job (default 40)")
    parser.add_argument("--generations", metavar="G1,G2", help="with --engine: only the texts of these generations")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2

    events = sample_events(args.events)
    started = time.monotonic()
    table: dict[tuple[str, bool], collections.Counter] = collections.defaultdict(collections.Counter)
    reasons: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failures = []
    for line in args.corpus.read_bytes().splitlines():
        entry = orjson.loads(line)
        stage, message, records = evaluate(entry, events)
        row = table[(entry["generation"], entry["lint_runnable"])]
        row["texts"] += 1
        row["parse"] += stage not in ("parse",)
        row["plan"] += stage in ("run", "ok")
        row["run"] += stage == "ok"
        row["detected"] += records > 0
        if stage != "ok":
            reasons[stage][message.split(" @ ")[0][:90]] += 1
            failures.append((entry["generation"], entry["slug"], entry["commit"][:9], stage, message))

    print(_table(table, args.markdown))
    internal = sum(reasons["run"].values())
    print(f"\n{internal} internal errors; {time.monotonic() - started:.1f} s")
    for stage in ("parse", "plan", "run"):
        if reasons[stage]:
            print(f"\nfirst diagnostics of texts that stop at {stage}:")
            for message, count in reasons[stage].most_common(15):
                print(f"  {count:5d}  {message}")
    if args.failures:
        print("\nfailures:")
        for failure in failures:
            print("  " + "  ".join(failure))
    differing = []
    if args.engine:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            engine_rows, engine_reasons, differing = engine_table(args.corpus, events, args.engine, Path(tmp),
                                                                        not args.lower_only, args.every, args.batch,
                                                                  set(filter(None, (args.generations or '').split(','))))
        columns = ("planned", "lowered", "diagnosed") if args.lower_only else \
            ("planned", "lowered", "run", "parity", "with records", "diagnosed", "differs")
        header = ["generation", *(f"lowered to {args.engine}" if c == "lowered" else c for c in columns)]
        rows = [[g, *(str(r[k]) for k in columns)]
                for g, r in sorted(engine_rows.items())]
        print(f"\n{args.engine} (time() read as the instant {FIXED_NOW} by both engines):")
        print(_render(header, rows, args.markdown))
        for message, count in engine_reasons.most_common(15):
            print(f"  {count:5d}  {message}")
        for generation, slug, detail in differing:
            print(f"  differs: {generation} {slug}: {detail}")
    return 1 if internal or differing else 0


def _table(table, markdown: bool) -> str:
    header = ["generation", "lint_runnable", "texts", "parse", "plan", "run", "detect on sample"]
    rows = []
    for (generation, runnable), row in sorted(table.items()):
        rows.append([generation, str(runnable).lower(), *(str(row[k]) for k in ("texts", "parse", "plan", "run", "detected"))])
    totals = [sum(int(r[i]) for r in rows) for i in range(2, 7)]
    rows.append(["all", "", *map(str, totals)])
    return _render(header, rows, markdown)


def _render(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in [header, *rows])


if __name__ == "__main__":
    sys.exit(main())
