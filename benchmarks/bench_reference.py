"""Throughput of the reference detection against the JSON-decoding floor, measured in one run.

    python benchmarks/bench_reference.py                    # 1M generated events, 3 rounds
    python benchmarks/bench_reference.py --events 200000 --rounds 5
    python benchmarks/bench_reference.py --input events.jsonl
    python benchmarks/bench_reference.py --workers 2 3       # worker counts to time besides 1

Each round runs, as separate processes and alternating so that machine noise hits both alike:
(a) the floor: a plain loop of `orjson.loads` over every line of the file; (b) `spl-lite run` of
searches/rare_parent_child_process_relationship.spl over the same file, with one worker, with one
worker and `--whole-events` (projected reading off: what it gains), and with the `--workers` counts
asked for (all of whose outputs must be identical); (c) when duckdb is installed
(the `bench` extra), the same detection as DuckDB SQL (benchmarks/duckdb_reference.py) with 1 and 2
threads, whose detections are checked against spl-lite's, and `spl-lite run --engine duckdb` (the
search lowered by spl-lite) with `--threads` 1 and 2, whose output must be the Python engine's. It prints medians of wall time, events/s,
the ratio to the floor, and peak RSS (from wait4 of each child, which on Linux is the largest of the
child and the processes it reaped: for `--workers N`, of the main process and its workers). Then it
runs once over all of ../shared/data/raw when that is present.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEARCH = ROOT / "searches" / "rare_parent_child_process_relationship.spl"
SHARED_RAW = ROOT.parent / "shared" / "data" / "raw"

FLOOR = """
import sys, orjson
loads = orjson.loads
n = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        loads(line)
        n += 1
print(n)
"""


def run_measured(argv: list[str]) -> tuple[float, float, bytes]:
    """(wall seconds, peak RSS MiB, stdout) of one child (run_measured_with_cpu)."""
    wall, rss, stdout, _ = run_measured_with_cpu(argv)
    return wall, rss, stdout


def run_measured_with_cpu(argv: list[str]) -> tuple[float, float, bytes, float]:
    """(wall seconds, peak RSS MiB, stdout, CPU seconds) of one child, reaped with wait4 for its
    rusage (whose peak RSS and CPU cover the processes the child reaped too)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=[
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"{' '.join(argv[:5])} failed:\n{err.read().decode()[-2000:]}")
        return wall, usage.ru_maxrss / 1024, out.read(), usage.ru_utime + usage.ru_stime


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to generate (default 1M)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--input", type=Path, help="benchmark this JSONL file instead of generating one")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--workers", type=int, nargs="*", default=[2], help="also time `spl-lite run --workers N` (default: 2)")
    parser.add_argument("--memory", action="store_true",
                        help="also compare peak RSS over --events and 5x as many events over 5x the days (the same rate)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        path = args.input
        if path is None:
            path = Path(scratch) / "events.jsonl"
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, str(ROOT / "benchmarks" / "generate_events.py"), "--events", str(args.events),
                 "--seed", str(args.seed), "--output", str(path)],
                check=True,
            )
            print(f"generated {args.events:,} events ({path.stat().st_size / 2**20:,.0f} MiB) "
                  f"in {time.perf_counter() - started:.1f} s")
        events = count_lines(path)
        # An installed package has its bytecode compiled at install time; a source checkout run with
        # PYTHONDONTWRITEBYTECODE (as here) would compile every module on each start instead.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "spl_lite")], check=True)
        variants = {"orjson.loads loop (floor)": [sys.executable, "-c", FLOOR, str(path)]}
        spl = [sys.executable, "-m", "spl_lite.cli", "run", str(SEARCH), "--input", str(path), "--no-progress"]
        # The default picks workers by itself (one per core for large files); name what it compares.
        variants["spl-lite run --workers 1"] = spl + ["--workers", "1"]
        # The same with projected reading turned off: what decoding only the keys the search reads gains.
        variants["  ... --whole-events"] = spl + ["--workers", "1", "--whole-events"]
        for workers in args.workers:
            variants[f"spl-lite run --workers {workers}"] = spl + ["--workers", str(workers)]
        if importlib.util.find_spec("duckdb") is not None:
            sql = [sys.executable, str(ROOT / "benchmarks" / "duckdb_reference.py"), "--input", str(path), "--print"]
            for threads in (1, 2):
                variants[f"duckdb SQL, {threads} thread{'s' if threads > 1 else ''}"] = sql + ["--threads", str(threads)]
            # The search itself lowered by spl-lite (--engine duckdb): its output must be spl-lite's, byte for byte.
            for threads in (1, 2):
                variants[f"spl-lite run --engine duckdb --threads {threads}"] = spl + ["--engine", "duckdb", "--threads",
                                                                                       str(threads)]

        results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        outputs: dict[str, bytes] = {}
        for round_no in range(args.rounds):
            for name, command in variants.items():
                wall, rss, stdout = run_measured(command)
                results[name].append((wall, rss))
                outputs.setdefault(name, stdout)
                print(f"  round {round_no + 1}: {name}: {wall:.2f} s, {rss:.0f} MiB", file=sys.stderr)

        floor = statistics.median(w for w, _ in results["orjson.loads loop (floor)"])
        print(f"\n{events:,} events, {path.stat().st_size / events:.0f} bytes/line, median of {args.rounds} rounds")
        print(f"{'variant':34} {'wall s':>8} {'events/s':>12} {'x floor':>8} {'peak RSS MiB':>13}")
        for name, runs in results.items():
            wall = statistics.median(w for w, _ in runs)
            rss = statistics.median(r for _, r in runs)
            print(f"{name:34} {wall:8.2f} {events / wall:12,.0f} {wall / floor:8.2f} {rss:13.0f}")
        detections = outputs["spl-lite run --workers 1"].count(b"\n")
        print(f"\nreference detection: {detections:,} records out")
        for name, stdout in outputs.items():
            if name.startswith(("spl-lite run", "  ...")) and stdout != outputs["spl-lite run --workers 1"]:
                print(f"MISMATCH: {name} output differs from one worker", file=sys.stderr)
                return 1
        found = {(r["timestamp"], r["parent_process_name"], r["process_name"])
                 for r in map(json.loads, outputs["spl-lite run --workers 1"].splitlines())}
        for name, stdout in outputs.items():
            if name.startswith("duckdb SQL"):
                same = {tuple(row) for row in map(json.loads, stdout.splitlines())} == found
                print(f"{name}: detections match: {'yes' if same else 'no'}")
                if not same:
                    return 1
        if args.memory:
            memory_growth(args.events, args.seed, Path(scratch))
    if SHARED_RAW.exists():
        real_data_once(sorted(str(p) for p in SHARED_RAW.rglob("*.jsonl.gz")))
    return 0


def memory_growth(events: int, seed: int, scratch: Path) -> None:
    """Peak RSS for `events` events over 14 days and 5x the events over 70 days: at one rate, the
    state holds the same window contents, so memory should not grow with the number of events."""
    print(f"\npeak RSS (MiB) at the same event rate: {events:,} events / 14 days vs {5 * events:,} / 70 days")
    for factor in (1, 5):
        path = scratch / f"memory_{factor}.jsonl"
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "generate_events.py"), "--events", str(events * factor),
             "--seed", str(seed), "--days", str(14 * factor), "--output", str(path)],
            check=True,
        )
        for workers in (1, 2):
            command = [sys.executable, "-m", "spl_lite.cli", "run", str(SEARCH), "--input", str(path),
                       "--no-progress", "--workers", str(workers)]
            wall, rss, stdout = run_measured(command)
            detections = stdout.count(b"\n")
            print(f"  {events * factor:>11,} events, --workers {workers}: {rss:6.0f} MiB, {wall:6.2f} s, "
                  f"{detections} detections")
        path.unlink()


def real_data_once(paths: list[str]) -> None:
    """One run over every raw file of ../shared/data: real, mixed formats, normalised on the way."""
    command = [sys.executable, "-m", "spl_lite.cli", "run", str(SEARCH), "--input", *paths, "--progress"]
    wall, rss, stdout = run_measured(command)
    detections = stdout.count(b"\n")
    print(f"\n../shared/data/raw, all {len(paths)} files in one run: {wall:.2f} s, "
          f"{detections} detections, {rss:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
