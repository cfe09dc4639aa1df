"""The detection library in one pass: many corpus searches over one input, against the JSON floor.

    python benchmarks/bench_library.py                       # 300k generated events, 3 rounds
    python benchmarks/bench_library.py --events 30000 --rounds 5
    python benchmarks/bench_library.py --input events.jsonl --sets ssa --workers 2

The searches are every `.spl` of ../shared/corpus/ssa that plans (136 of 146), found here at each
run; `ssa` is those of them that read `read_ssa_enriched_events` (59). Each round runs, as separate
processes and alternating so that machine noise hits all alike: the floor (a plain loop of
`orjson.loads` over every line, as benchmarks/bench_reference.py), then `spl-lite run` of each set
of searches over the same file into an output directory, with each `--workers` count (default: 1,
then 2, the default of `spl-lite run` for a file this size on two cores). It prints medians of wall
time, the ratio to the floor, CPU time, peak RSS and the records written (which must be the same in
every round; their bytes may differ, as some detections write the time() of the run). With workers,
the peak RSS is that of the largest process (the main one or a worker), not of all together;
`--tree-memory` runs each variant once more, summing the PSS of the process and its workers from
/proc every 50 ms (Linux), and prints that peak too.

The plans are cached in the scratch directory (spl_lite/driver/plan_cache.py), so the first round
parses and plans every search and the later ones read the plans back, as repeated runs of a library
do; `--no-plan-cache` plans them in every round.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "ssa"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
from bench_reference import FLOOR, count_lines, run_measured_with_cpu  # noqa: E402

SETS = {
    "all": "every corpus SSA detection that plans",
    "ssa": "those of them that read read_ssa_enriched_events",
}


def planned_searches(corpus: Path = CORPUS) -> dict[str, list[Path]]:
    """The corpus's `.spl` files that plan, by set (SETS); empty when the corpus is absent."""
    from spl_lite.core.errors import SplError
    from spl_lite.driver.api import Search
    from spl_lite.plan.commands.source import Source

    found: dict[str, list[Path]] = {name: [] for name in SETS}
    for path in sorted(corpus.glob("*.spl")):
        try:
            plan = Search.compile(path.read_text()).plan
        except SplError:
            continue
        found["all"].append(path)
        if any(isinstance(node, Source) and node.name == "read_ssa_enriched_events" for node in plan.nodes):
            found["ssa"].append(path)
    return found


def records_written(directory: Path) -> int:
    return sum(path.read_bytes().count(b"\n") for path in directory.iterdir())


def peak_tree_pss(argv: list[str]) -> float:
    """The peak, sampled every 50 ms, of the summed PSS (MiB) of a command's process and its children."""
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        pids, total = [process.pid], 0
        try:
            pids += map(int, Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split())
        except OSError:
            pass
        for pid in pids:
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:  # ended between the listing and the read
                continue
            total += next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0)
        peak = max(peak, total)
        time.sleep(0.05)
    return peak / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000, help="events to generate (default 300k)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--input", type=Path, help="benchmark this JSONL file instead of generating one")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=["all", "ssa"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="run each set with each of these --workers counts (default: 1 2)")
    parser.add_argument("--tree-memory", action="store_true",
                        help="also measure the peak PSS of each run's processes together (Linux /proc)")
    parser.add_argument("--no-plan-cache", action="store_true", help="parse and plan the searches in every round")
    args = parser.parse_args(argv)

    if not CORPUS.is_dir():
        print(f"skipped: the corpus of SSA detections is not at {CORPUS}", file=sys.stderr)
        return 0
    searches = planned_searches()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        os.environ["SPL_LITE_CACHE_DIR"] = "" if args.no_plan_cache else str(scratch / "plans")
        path = args.input
        if path is None:
            path = scratch / "events.jsonl"
            started = time.perf_counter()
            subprocess.run([sys.executable, str(HERE / "generate_events.py"), "--events", str(args.events),
                            "--seed", str(args.seed), "--output", str(path)], check=True)
            print(f"generated {args.events:,} events ({path.stat().st_size / 2**20:,.0f} MiB) "
                  f"in {time.perf_counter() - started:.1f} s")
        events = count_lines(path)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "spl_lite")], check=True)
        floor_name = "orjson.loads loop (floor)"
        variants = {floor_name: ([sys.executable, "-c", FLOOR, str(path)], None)}
        for name in args.sets:
            for workers in args.workers:
                out = scratch / f"out_{name}_{workers}"
                out.mkdir()
                command = [sys.executable, "-m", "spl_lite.cli", "run", *map(str, searches[name]), "--input", str(path),
                           "--output-dir", str(out), "--no-progress", "--workers", str(workers)]
                label = "1 worker" if workers == 1 else f"{workers} workers"
                variants[f"{len(searches[name])} searches ({name}), {label}"] = (command, out)

        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
        written: dict[str, int] = {}
        for round_no in range(args.rounds):
            for name, (command, out) in variants.items():
                wall, rss, _, cpu = run_measured_with_cpu(command)
                results[name].append((wall, rss, cpu))
                print(f"  round {round_no + 1}: {name}: {wall:.2f} s, {cpu:.2f} s CPU, {rss:.0f} MiB", file=sys.stderr)
                if out is not None:
                    records = records_written(out)
                    if written.setdefault(name, records) != records:
                        print(f"MISMATCH: {name}: round {round_no + 1} wrote {records:,} records, round 1 "
                              f"{written[name]:,}", file=sys.stderr)
                        return 1

        tree_pss = {name: peak_tree_pss(command) for name, (command, out) in variants.items()
                    if out is not None and args.tree_memory}
        for name in args.sets:
            counts = {variant: count for variant, count in written.items() if f"({name})" in variant}
            if len(set(counts.values())) > 1:
                print(f"MISMATCH: the worker counts wrote different records: {counts}", file=sys.stderr)
                return 1

        floor = statistics.median(w for w, _, _ in results[floor_name])
        floor_cpu = statistics.median(c for _, _, c in results[floor_name])
        print(f"\n{events:,} events, {path.stat().st_size / events:.0f} bytes/line, median of {args.rounds} rounds; "
              f"plans {'made in every round' if args.no_plan_cache else 'made in round 1, read back after'}; "
              f"CPU: the process's user + system time, less swayed by other work on the machine than wall time")
        print(f"{'variant':40} {'wall s':>8} {'events/s':>12} {'x floor':>8} {'CPU s':>7} {'x floor CPU':>12} "
              f"{'peak RSS MiB':>13} {'records':>9}")
        for name, runs in results.items():
            wall = statistics.median(w for w, _, _ in runs)
            rss = statistics.median(r for _, r, _ in runs)
            cpu = statistics.median(c for _, _, c in runs)
            records = f"{written[name]:9,}" if name in written else ""
            print(f"{name:40} {wall:8.2f} {events / wall:12,.0f} {wall / floor:8.2f} {cpu:7.2f} {cpu / floor_cpu:12.2f} "
                  f"{rss:13.0f} {records}")
        for name, pss in tree_pss.items():
            print(f"{name}: the main process and its workers together peaked at {pss:,.0f} MiB PSS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
