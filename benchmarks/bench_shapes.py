"""The reference detection on every input shape, each against its own decoding floor, in one run.

    python benchmarks/bench_shapes.py                                  # every shape, 3 rounds
    python benchmarks/bench_shapes.py --events 300000 --shapes flat,stream --rounds 5
    python benchmarks/bench_shapes.py --shapes xml,nxlog --raw-lines 100000

Shapes (searches/rare_parent_child_process_relationship.spl over each):
  flat    SSA enriched events from benchmarks/generate_events.py (--events, default 1M)
  stream  the same events as SSA stream records: {"id": n, "host": "h", "source": "s", "input_event": <event>}
  xml     raw Splunk XmlWinEventLog records (`_raw` holds the event XML)   } the files of
  nxlog   raw NXLog JSON (splunk attack data)                              } ../shared/data/raw
  evtx    EVTX converted to JSON                                           } repeated to
  otrf    OTRF security datasets (NXLog/Mordor, current and legacy)        } --raw-lines lines
  sentinel  msticpy Sentinel SecurityEvent and eqllib Sysmon               } (default 200k)
  wineventlog  classic Splunk WinEventLog text in `_raw` (Security 4688)   }
  ocsf    every process creation of ../shared/data/raw as the OCSF document spl-lite makes of it,
          repeated to --raw-lines lines
The raw shapes and ocsf are skipped when ../shared/data/raw is absent.

Each round runs, as separate processes and alternating so that machine noise hits all alike, for
every shape: the floor, a loop of `orjson.loads` over each line (for xml also
`xml.etree.ElementTree.fromstring` of each `_raw`, the least a stdlib reader of the XML does), and
`spl-lite run` of the reference detection with `--workers 1` and `--workers 2`. It prints medians of
wall time and their ratio to the shape's floor, the same ratio for CPU time (user + system, which
other work on the machine moves less), and checks that both worker counts give the same output (and
that stream records give the same detections as the flat events they wrap).
"""
from __future__ import annotations

import argparse
import gzip
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_reference import ROOT, SEARCH, SHARED_RAW, FLOOR, count_lines, run_measured  # noqa: E402

XML_FLOOR = """
import sys, orjson
from xml.etree.ElementTree import fromstring
loads = orjson.loads
n = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        raw = loads(line).get("_raw")
        if raw.__class__ is str:
            fromstring(raw)
        n += 1
print(n)
"""

# Raw shapes: directories of ../shared/data/raw whose files are repeated.
RAW_SHAPES = {
    "xml": ("raw XmlWinEventLog (`_raw` XML)", ["splunk-attack-data-xmlwineventlog"]),
    "nxlog": ("raw NXLog JSON (splunk attack data)", ["splunk-attack-data-nxlog"]),
    "evtx": ("EVTX converted to JSON", ["evtx-attack-samples"]),
    "otrf": ("OTRF security datasets", ["otrf-security-datasets", "otrf-security-datasets-legacy"]),
    "sentinel": ("Sentinel SecurityEvent / eqllib Sysmon", ["msticpy-sentinel-securityevent", "eqllib-sysmon"]),
    "wineventlog": ("classic WinEventLog text (`_raw`)", ["splunk-wineventlog-4688"]),
}
SHAPES = ("flat", "stream", *RAW_SHAPES, "ocsf")
LABELS = {"flat": "flat SSA enriched events", "stream": "SSA stream records {id, host, source, input_event}",
          **{name: label for name, (label, _) in RAW_SHAPES.items()}, "ocsf": "OCSF process documents"}


def write_stream_records(flat: Path, out: Path) -> None:
    """Each flat event wrapped as a stream record, byte for byte inside `input_event`."""
    with open(flat, "rb") as source, open(out, "wb") as sink:
        for n, line in enumerate(source):
            sink.write(b'{"id": %d, "host": "h", "source": "s", "input_event": %s}\n' % (n, line.rstrip(b"\r\n")))


def write_ocsf(lines: int, out: Path) -> bool:
    """Every process creation of the raw corpus as an OCSF document, repeated to `lines` lines."""
    import orjson

    from spl_lite.io.formats import read_process_creation
    from spl_lite.io.ocsf import from_process_creation

    raw = Path(out.parent) / "all-raw.jsonl"
    if not write_repeated([path.name for path in sorted(SHARED_RAW.iterdir()) if path.is_dir()], 0, raw):
        return False
    documents = []
    with open(raw, "rb") as source:
        for line in source:
            found, _ = read_process_creation(orjson.loads(line))
            if found is not None:
                documents.append(orjson.dumps(from_process_creation(found)) + b"\n")
    with open(out, "wb") as sink:
        for n in range(lines):
            sink.write(documents[n % len(documents)])
    return True


def write_repeated(directories: list[str], lines: int, out: Path) -> bool:
    """The lines of every file in these directories, repeated to `lines` lines (0: each once); False if none."""
    found: list[bytes] = []
    for directory in directories:
        for path in sorted((SHARED_RAW / directory).rglob("*.jsonl*")):
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rb") as f:
                found += [line if line.endswith(b"\n") else line + b"\n" for line in f if line.strip()]
    if not found:
        return False
    with open(out, "wb") as sink:
        written = 0
        lines = lines or len(found)
        while written < lines:
            part = found[: lines - written]
            sink.writelines(part)
            written += len(part)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events for flat and stream (default 1M)")
    parser.add_argument("--raw-lines", type=int, default=200_000, help="lines of each raw shape (default 200k)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, of {', '.join(SHAPES)}")
    args = parser.parse_args(argv)
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = set(shapes) - set(SHAPES)
    if unknown:
        parser.error(f"unknown shapes: {', '.join(sorted(unknown))}")

    with tempfile.TemporaryDirectory() as scratch:
        files: dict[str, Path] = {}
        if {"flat", "stream"} & set(shapes):
            flat = Path(scratch) / "flat.jsonl"
            started = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate_events.py"), "--events",
                            str(args.events), "--seed", str(args.seed), "--output", str(flat)], check=True)
            print(f"generated {args.events:,} events in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            if "flat" in shapes:
                files["flat"] = flat
            if "stream" in shapes:
                files["stream"] = Path(scratch) / "stream.jsonl"
                write_stream_records(flat, files["stream"])
        for name in shapes:
            if name in RAW_SHAPES:
                path = Path(scratch) / f"{name}.jsonl"
                if SHARED_RAW.exists() and write_repeated(RAW_SHAPES[name][1], args.raw_lines, path):
                    files[name] = path
                else:
                    print(f"skipped {name}: no files under {SHARED_RAW}", file=sys.stderr)
            elif name == "ocsf":
                path = Path(scratch) / "ocsf.jsonl"
                if SHARED_RAW.exists() and write_ocsf(args.raw_lines, path):
                    files[name] = path
                else:
                    print(f"skipped ocsf: no files under {SHARED_RAW}", file=sys.stderr)
        # As an install does: compile the package once rather than on each start.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "spl_lite")], check=True)

        variants: dict[tuple[str, str], list[str]] = {}
        for name, path in files.items():
            variants[name, "floor"] = [sys.executable, "-c", XML_FLOOR if name == "xml" else FLOOR, str(path)]
            for workers in (1, 2):
                variants[name, f"w{workers}"] = [sys.executable, "-m", "spl_lite.cli", "run", str(SEARCH), "--input",
                                                 str(path), "--no-progress", "--workers", str(workers)]
        walls: dict[tuple[str, str], list[float]] = {key: [] for key in variants}
        cpus: dict[tuple[str, str], list[float]] = {key: [] for key in variants}
        outputs: dict[tuple[str, str], bytes] = {}
        for round_no in range(args.rounds):
            for key, command in variants.items():
                before = _children_cpu()
                wall, _, stdout = run_measured(command)
                walls[key].append(wall)
                cpus[key].append(_children_cpu() - before)
                outputs.setdefault(key, stdout)
                print(f"  round {round_no + 1}: {key[0]} {key[1]}: {wall:.2f} s", file=sys.stderr)

        status = 0
        print(f"\nmedians of {args.rounds} rounds; x = ratio to the shape's floor in the same run; cpu x = the same"
              " for user + system CPU seconds (steadier than wall time when other work shares the cores)")
        print(f"{'input':52} {'lines':>9} {'floor s':>8} {'1 worker':>9} {'x':>6} {'2 workers':>10} {'x':>6} "
              f"{'cpu x 1':>8} {'cpu x 2':>8} {'out':>5}")
        for name, path in files.items():
            floor = statistics.median(walls[name, "floor"])
            one = statistics.median(walls[name, "w1"])
            two = statistics.median(walls[name, "w2"])
            floor_cpu = statistics.median(cpus[name, "floor"])
            one_cpu = statistics.median(cpus[name, "w1"]) / floor_cpu
            two_cpu = statistics.median(cpus[name, "w2"]) / floor_cpu
            out = outputs[name, "w1"].count(b"\n")
            print(f"{LABELS[name]:52} {count_lines(path):9,} {floor:8.2f} {one:9.2f} {one / floor:6.2f} "
                  f"{two:10.2f} {two / floor:6.2f} {one_cpu:8.2f} {two_cpu:8.2f} {out:5}")
            if outputs[name, "w2"] != outputs[name, "w1"]:
                print(f"MISMATCH: {name}: --workers 2 output differs from --workers 1", file=sys.stderr)
                status = 1
        if "flat" in files and "stream" in files and outputs["flat", "w1"] != outputs["stream", "w1"]:
            print("MISMATCH: stream records give other detections than the flat events they wrap", file=sys.stderr)
            status = 1
        return status


def _children_cpu() -> float:
    """User + system CPU seconds of the children reaped so far (with their own reaped children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
