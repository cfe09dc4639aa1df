"""Parity of `--engine duckdb` with the expected output of every tests/cases case, and corpus coverage.

    python tools/duckdb_parity.py [-v] [--corpus ../shared/corpus/searches.jsonl]

For each case: `lowered` (the plan lowers and DuckDB's records equal expected.jsonl byte for byte),
`differs` (lowers, other bytes: a bug), `diagnosed` (E0405 at compile time, with the reason). For
the corpus: how many texts plan, and how many of those lower to DuckDB; the reasons, counted.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spl_lite.backends.duckdb import compile_plan  # noqa: E402
from spl_lite.core.errors import NOT_LOWERED, SplError  # noqa: E402
from spl_lite.io.jsonl import encode_record  # noqa: E402
from spl_lite.plan.program import plan_text  # noqa: E402


def case_text(case: Path) -> str:
    lines = (case / "search.spl").read_text(encoding="utf-8").splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def run_case(case: Path) -> tuple[str, str]:
    """(outcome, detail): outcome is lowered, differs or diagnosed."""
    try:
        lowered = compile_plan(plan_text(case_text(case)))
    except SplError as error:
        if error.code != NOT_LOWERED:
            raise
        return "diagnosed", error.message
    got = b"".join(encode_record(r) for r in lowered.run([str(case / "events.jsonl")]))
    expected = (case / "expected.jsonl").read_bytes()
    if (case / "xfail.txt").exists():
        return ("lowered" if got == expected else "xfail"), ""
    return ("lowered" if got == expected else "differs"), "" if got == expected else got.decode()[:400]


def corpus(path: Path, data: Path | None = None, limit: int = 0):
    """(planned, lowered, reasons, compared, equal, failures): with `data`, up to `limit` lowering texts
    that read SSA events also run on both engines over that file and their records are compared."""
    from spl_lite import Search

    planned = lowered = compared = equal = 0
    failures: list[str] = []
    reasons: collections.Counter = collections.Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        text = json.loads(line).get("search")
        if not isinstance(text, str):
            continue
        try:
            plan = plan_text(text)
        except (SplError, RecursionError):
            continue
        planned += 1
        try:
            query = compile_plan(plan)
            lowered += 1
        except SplError as error:
            reasons[error.message.split(":")[0]] += 1
            continue
        sources = {n.name for n in plan.nodes if n.command == "from"}
        if data is None or compared >= limit or sources != {"read_ssa_enriched_events"} or "time(" in text:
            continue
        compared += 1
        try:
            got = b"".join(encode_record(r) for r in query.run([str(data)]))
        except Exception as error:  # a run-time SQL error is a lowering bug
            failures.append(f"{type(error).__name__}: {str(error)[:200]}  <- {text[:120]}")
            continue
        want = b"".join(encode_record(r) for r in Search.compile(text).run_files([str(data)]))
        if got == want:
            equal += 1
        else:
            failures.append(f"differs: {text[:160]}")
    return planned, lowered, reasons, compared, equal, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "searches.jsonl")
    parser.add_argument("--data", type=Path, default=ROOT / "examples" / "process_creation.jsonl",
                        help="events the corpus texts run over on both engines")
    parser.add_argument("--run", type=int, default=0, metavar="N",
                        help="run up to N lowering corpus texts (SSA source) on both engines and compare")
    args = parser.parse_args(argv)
    outcomes: collections.Counter = collections.Counter()
    for case in sorted(p for p in (ROOT / "tests" / "cases").iterdir() if p.is_dir()):
        outcome, detail = run_case(case)
        outcomes[outcome] += 1
        if args.verbose or outcome == "differs":
            print(f"{outcome:9} {case.name}  {detail}")
    total = sum(outcomes.values())
    print(f"tests/cases: {total} cases, {outcomes['lowered']} lower with parity, {outcomes['differs']} differ, "
          f"{outcomes['diagnosed']} diagnosed (E0405)")
    if args.corpus.exists():
        planned, lowered, reasons, compared, equal, failures = corpus(args.corpus, args.data, args.run)
        print(f"corpus: {planned} texts plan, {lowered} lower to DuckDB")
        if compared:
            print(f"corpus on both engines over {args.data.name}: {compared} run, {equal} equal")
            for failure in failures[:20]:
                print("  " + failure)
        for reason, count in reasons.most_common(15):
            print(f"  {count:5}  {reason}")
    else:
        print(f"corpus: {args.corpus} absent, skipped")
    return 1 if outcomes["differs"] or (args.corpus.exists() and args.run and failures) else 0


if __name__ == "__main__":
    sys.exit(main())
