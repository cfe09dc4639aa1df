"""Conformance report: how many corpus searches parse, plan and run, per dialect generation.

    python tools/conformance.py [--corpus ../shared/corpus/searches.jsonl] [--events examples/process_creation.jsonl]
                                [--failures] [--markdown]

Each text that plans is run over sample events of its dialect: the SSA enriched events for
G0-G2, the same events as OCSF documents (spl_lite.io.ocsf) for G3 and G4. A run "fails" only on an
internal error; a diagnostic is the intended outcome for a broken text. Failures are grouped by
their first diagnostic.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
import traceback
from pathlib import Path

import orjson

from spl_lite.driver.api import Search
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


def flink_column(corpus: Path, events: dict[str, list[dict]], parity: bool, every: int = 1) -> str:
    """Per generation: texts planned, lowered to Flink (`compile --to flink` over the sample events),
    diagnosed (E0405), and with `parity` every `every`-th text that lowers run on PyFlink's mini-cluster
    (some ten seconds a text) and compared with the Python engine's bytes (run / same / with records),
    with the most common reasons a text does not lower and the texts that differ."""
    import tempfile

    from spl_lite.backends.flink import compile_for_file, run_script
    from spl_lite.io.jsonl import encode_record

    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    reasons: collections.Counter = collections.Counter()
    differ: list[str] = []
    with tempfile.TemporaryDirectory() as directory:
        files = {}
        for generation, sample in events.items():
            files[generation] = Path(directory) / f"{generation}.jsonl"
            files[generation].write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in sample))
        for line in corpus.read_bytes().splitlines():
            entry = orjson.loads(line)
            generation, row = entry["generation"], counts[entry["generation"]]
            try:
                search = Search.compile(entry["search"])
            except SplError:
                continue
            row["planned"] += 1
            try:
                script = compile_for_file(search.plan, str(files[generation]))
            except SplError as error:
                row["diagnosed"] += 1
                reasons[error.message.split(" does not lower")[0][:70]] += 1
                continue
            row["lowered"] += 1
            if parity and row["lowered"] % every == 0:
                row["run"] += 1
                try:
                    flink = b"".join(encode_record(r) for r in run_script(script, str(files[generation])))
                except Exception as error:  # a job that fails is what this column exists to find
                    flink = f"{type(error).__name__}: {str(error)[:200]}".encode()
                python = b"".join(encode_record(r) for r in search.run(events[generation]))
                row["same"] += flink == python
                row["with records"] += flink == python and python != b""
                if flink != python:
                    differ.append(f"  {generation} {entry['slug']}: {flink[:200]!r}")
    measured = ("run", "same", "with records") if parity else ()
    header = ["generation", "planned", "Flink lowered", "diagnosed", *measured]
    rows = [[g, *(str(counts[g][k]) for k in ("planned", "lowered", "diagnosed", *measured))] for g in sorted(counts)]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in [header, *rows]]
    lines += ["", "first reasons a planned text does not lower to Flink:"]
    lines += [f"  {count:5d}  {reason}" for reason, count in reasons.most_common(12)]
    if differ:
        lines += ["", "texts whose bytes differ on Flink:", *differ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--events", type=Path, default=DEFAULT_EVENTS)
    parser.add_argument("--failures", action="store_true", help="list every failing text with its diagnostic")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the README)")
    parser.add_argument("--flink", choices=("lowered", "parity"), default=None,
                        help="also print the Flink column: what lowers, or also run it on the mini-cluster")
    parser.add_argument("--flink-every", type=int, default=1, metavar="N",
                        help="with --flink parity, run every N-th text that lowers (each is a job of seconds)")
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
    if args.flink:
        print("\n" + flink_column(args.corpus, events, args.flink == "parity", args.flink_every))
    return 1 if internal else 0


def _table(table, markdown: bool) -> str:
    header = ["generation", "lint_runnable", "texts", "parse", "plan", "run", "detect on sample"]
    rows = []
    for (generation, runnable), row in sorted(table.items()):
        rows.append([generation, str(runnable).lower(), *(str(row[k]) for k in ("texts", "parse", "plan", "run", "detected"))])
    totals = [sum(int(r[i]) for r in rows) for i in range(2, 7)]
    rows.append(["all", "", *map(str, totals)])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in [header, *rows])


if __name__ == "__main__":
    sys.exit(main())
