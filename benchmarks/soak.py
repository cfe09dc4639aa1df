"""Soak test: N generated events through many searches in one `spl-lite run`, with state checkpoints.

    python benchmarks/soak.py [--events 10000000] [--seed 7] [--searches latest|stateful|all|FILE.spl ...]
                              [--checkpoint-every 1000000] [--interval 10] [--workdir DIR] [--keep] [--keep-output]

Events come from generate_events.generate(n, seed) and are piped into `spl-lite run ... --input -
--state DIR --checkpoint-every N --final --output /dev/null` as they are generated (nothing of that
size is written to disk; --keep-output writes the detections to WORKDIR/out). Every --interval seconds one line: elapsed time, events fed, rate, resident memory
(VmRSS) and its peak so far (VmHWM) of the spl-lite process, state file size and output size. The
run fails (exit 1) if spl-lite exits non-zero.

`--entry-bytes N` instead measures the memory each kind of state keeps per entry (tracemalloc,
after N generated events through one search each) and prints a table.

Searches (default `latest`): the latest text of every corpus detection that plans (131 texts: G1
ones read the SSA events, G3/G4 ones the same events converted to OCSF); `stateful`: every corpus
text with stats, first_time_event, conditional_anomaly, adaptive_threshold or union (82); `all`:
every text that plans (1,648; slow: every event goes through each); or the given .spl files. Texts
calling time() have it replaced by a constant so that runs are comparable.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "searches.jsonl"
sys.path.insert(0, str(HERE))
from generate_events import generate  # noqa: E402

STATEFUL_WORDS = ("stats", "first_time_event", "conditional_anomaly", "adaptive_threshold", "union")


def corpus_searches(kind: str, directory: Path) -> list[Path]:
    from spl_lite.driver.api import Search
    from spl_lite.core.errors import SplError

    paths, seen = [], set()
    for n, line in enumerate(CORPUS.read_bytes().splitlines(), 1):
        entry = orjson.loads(line)
        text = entry["search"].replace("time()", "1700000000000")
        if text in seen or (kind == "latest" and not entry["is_latest"]):
            continue
        if kind == "stateful" and not any(word in text for word in STATEFUL_WORDS):
            continue
        seen.add(text)
        try:
            Search.compile(text)
        except SplError:
            continue
        path = directory / f"{n:04d}_{entry['slug'][:60]}.spl"
        path.write_text(text)
        paths.append(path)
    return paths


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in kB, or (0, 0) once it is gone."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    except OSError:
        return 0, 0
    return int(fields.get("VmRSS", "0 kB").split()[0]), int(fields.get("VmHWM", "0 kB").split()[0])


def size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--searches", nargs="+", default=["latest"])
    parser.add_argument("--checkpoint-every", type=int, default=1_000_000)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between report lines")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--keep-output", action="store_true",
                        help="write the detections to WORKDIR/out/<search>.jsonl (default: /dev/null; "
                        "adaptive_threshold searches emit many records, tens of GB over 10M events)")
    parser.add_argument("--entry-bytes", type=int, metavar="N",
                        help="measure the state's bytes per entry over N events instead of soaking")
    args = parser.parse_args(argv)
    if args.entry_bytes:
        return state_entry_bytes(args.entry_bytes, args.seed)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="spl-lite-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "searches").mkdir(exist_ok=True)
    if args.searches[0] in ("latest", "stateful", "all"):
        if not CORPUS.exists():
            print(f"corpus not found at {CORPUS}", file=sys.stderr)
            return 2
        searches = corpus_searches(args.searches[0], workdir / "searches")
    else:
        searches = [Path(p) for p in args.searches]
    state, out = workdir / "state", workdir / "out"
    command = [sys.executable, "-m", "spl_lite.cli", "run", *map(str, searches), "--input", "-",
               "--state", str(state), "--reset-state", "--checkpoint-every", str(args.checkpoint_every),
               *(["--output-dir", str(out)] if args.keep_output else ["--output", os.devnull]), "--final"]
    print(f"soak: {args.events:,} events (seed {args.seed}) through {len(searches)} searches, "
          f"checkpoint every {args.checkpoint_every:,}; work directory {workdir}", flush=True)
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    fed = [0]

    def feed() -> None:
        try:
            batch: list[bytes] = []
            for line in generate(args.events, args.seed):
                batch.append(line)
                if len(batch) == 4096:
                    process.stdin.write(b"".join(batch))
                    fed[0] += len(batch)
                    batch.clear()
            process.stdin.write(b"".join(batch))
            fed[0] += len(batch)
        except BrokenPipeError:
            pass
        finally:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass

    errors: list[bytes] = []
    threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True).start()
    feeder = threading.Thread(target=feed, daemon=True)
    started = time.monotonic()
    feeder.start()
    print(f"{'seconds':>8} {'events fed':>12} {'events/s':>9} {'RSS MiB':>8} {'peak MiB':>8} {'state MiB':>9} {'out MiB':>8}")
    peak = 0
    next_report = started + args.interval

    def report() -> None:
        rss, _ = memory_kb(process.pid)
        elapsed = time.monotonic() - started
        print(f"{elapsed:8.0f} {fed[0]:12,} {fed[0] / elapsed:9,.0f} {rss / 1024:8.1f} {peak / 1024:8.1f} "
              f"{size(state / 'state.json') / 2**20:9.2f} {size(out) / 2**20:8.2f}", flush=True)

    while process.poll() is None:
        time.sleep(0.2)
        peak = max(peak, memory_kb(process.pid)[1])
        if time.monotonic() >= next_report:
            report()
            next_report += args.interval
    feeder.join()
    elapsed = time.monotonic() - started
    stderr = errors[0].decode(errors="replace") if errors else ""
    print(f"soak: exit {process.returncode} after {elapsed:.0f} s, {args.events / elapsed:,.0f} events/s, "
          f"peak RSS {peak / 1024:.1f} MiB, state {size(state / 'state.json') / 2**20:.2f} MiB, "
          f"output {size(out) / 2**20:.2f} MiB", flush=True)
    if stderr.strip():
        print(stderr.strip(), file=sys.stderr)
    if not args.keep and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if process.returncode == 0 else 1


_STATE_HEAD = ('| from read_ssa_enriched_events() | eval timestamp=parse_long(ucast(map_get(input_event, "_time"), '
               '"string", null)), device=ucast(map_get(input_event, "dest_device_id"), "string", null), '
               'user=ucast(map_get(input_event, "dest_user_id"), "string", null), '
               'cmd=ucast(map_get(input_event, "process"), "string", null), '
               'parent=ucast(map_get(input_event, "parent_process_name"), "string", null), '
               'name=ucast(map_get(input_event, "process_name"), "string", null), '
               'input=ucast(map_get(input_event, "process_id"), "double", null) ')
# (kind of state, the command keeping it, how many entries its state_dict holds)
_STATE_KINDS = [
    ("first_time_event (device, command line)", '| first_time_event input_columns=["device", "cmd"]',
     lambda d: len(d["seen"])),
    ("conditional_anomaly (parent, process)", '| conditional_anomaly conditional="parent" target="name"',
     lambda d: len(d["pair"]) + len(d["conditional"]) + len(d["target"])),
    ("adaptive_threshold quantile, 7-day window", '| adaptive_threshold algorithm="quantile" entity="user" window=604800000L',
     lambda d: sum(len(model[1]) if isinstance(model[1], list) else 1 for model in d["models"])),
    ("stats count() by device, 1h windows", "| stats count() AS n BY device, span(timestamp, 1h)",
     lambda d: sum(len(groups) for _, groups in d["windows"]["windows"])),
]


def state_entry_bytes(events: int, seed: int) -> int:
    """Bytes of memory per state entry of each stateful command, measured with tracemalloc."""
    import gc
    import tracemalloc

    sys.path.insert(0, str(ROOT))
    from spl_lite import Search
    from spl_lite.engine.executor import Execution

    lines = list(generate(events, seed))
    print(f"state memory per entry after {events:,} generated events (tracemalloc, Python objects included)")
    print(f"{'state':44} {'entries':>9} {'MiB':>8} {'bytes/entry':>12}")
    for name, command, entries_of in _STATE_KINDS:
        execution = Execution(Search.compile(_STATE_HEAD + command).plan, lambda sink, batch: None)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for start in range(0, len(lines), 16384):  # decoded here: the state keeps the events' values alive
            execution.push([orjson.loads(line) for line in lines[start:start + 16384]])
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        (state,) = [data for _, data in execution.state_dict()["operators"] if data]
        entries = entries_of(state)
        print(f"{name:44} {entries:9,} {kept / 2**20:8.1f} {kept / max(entries, 1):12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
