"""Flink local (PyFlink mini-cluster) events/s against the Python engine, in the same run.

    python benchmarks/bench_flink.py [--events 100000] [--runs 3]

Generates the events (benchmarks/generate_events.py), then times, alternating, median of --runs:
- the Python engine on each search (the yardstick);
- the reference detection lowered to Flink at parallelism 1 (its order-sensitive commands need it);
- the reference without its Python functions (up to the `where` after conditional_anomaly: the
  running counts, no log or adaptive_threshold), at parallelism 1;
- its stateless head (from .. where .. select: no order-sensitive command) at parallelism 1 and 2.
The three Flink figures split the reference's time by subtraction: reading and numbering the
events, the running counts, the Python functions.
Each Flink figure is one job on a mini-cluster already started (the JVM start, ~10 s, once, is not
counted); the job's own start-up is. Every Flink run's records are checked against the Python engine's.
Needs the `flink` extra and Java 17.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "searches" / "rare_parent_child_process_relationship.spl"


def _head(text: str) -> str:
    """The reference up to its `select`, written out: the stateless part of the search."""
    lines = text.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("| select"))
    return "\n".join(lines[: end + 1]) + "\n| into write_ssa_detected_events();\n"


def _without_python(text: str) -> str:
    """The reference up to the `where` after conditional_anomaly: no Python function runs."""
    lines = text.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("| eval input"))
    return "\n".join(lines[:end]) + "\n| into write_ssa_detected_events();\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from spl_lite import Search
    from spl_lite.backends.flink import compile_for_file, run_script
    from spl_lite.io.jsonl import encode_record
    from spl_lite.plan.program import plan_text

    with tempfile.TemporaryDirectory() as directory:
        events = Path(directory) / "events.jsonl"
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate_events.py"), "--events",
                        str(args.events), "--output", str(events)], check=True)
        reference = REFERENCE.read_text(encoding="utf-8")
        searches = {"reference": reference, "no Python": _without_python(reference),
                    "stateless head": _head(reference)}

        def python(text):
            return b"".join(encode_record(r) for r in Search.compile(text).run_files([str(events)]))

        def flink(text, parallelism, path=events):
            script = compile_for_file(plan_text(text), str(path))
            return b"".join(encode_record(r) for r in run_script(script, str(path), parallelism))

        expected = {name: python(text) for name, text in searches.items()}
        few = Path(directory) / "few.jsonl"
        with open(events, "rb") as stream:
            few.write_bytes(b"".join(line for line, _ in zip(stream, range(100))))
        flink(searches["stateless head"], 1, few)  # starts the mini-cluster's JVM: not counted
        ways = [("python engine", "reference", None), ("flink p1", "reference", 1),
                ("python engine", "no Python", None), ("flink p1", "no Python", 1),
                ("python engine", "stateless head", None), ("flink p1", "stateless head", 1),
                ("flink p2", "stateless head", 2)]
        times: dict[tuple, list[float]] = {(way, name): [] for way, name, _ in ways}
        same: dict[tuple, bool] = {}
        for _ in range(args.runs):
            for way, name, parallelism in ways:
                started = time.perf_counter()
                got = python(searches[name]) if parallelism is None else flink(searches[name], parallelism)
                times[(way, name)].append(time.perf_counter() - started)
                same[(way, name)] = same.get((way, name), True) and got == expected[name]
    print(f"{args.events:,} events, median of {args.runs} runs")
    for way, name, _ in ways:
        median = statistics.median(times[(way, name)])
        yardstick = statistics.median(times[("python engine", name)])
        print(f"{name:15} {way:14} {median:7.2f} s  {args.events / median:>10,.0f} events/s  "
              f"x{yardstick / median:5.2f} of the Python engine  same records: {same[(way, name)]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
