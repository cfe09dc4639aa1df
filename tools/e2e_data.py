"""End to end over the raw Windows logs of shared/data: every source, the reference detection and the corpus.

    python tools/e2e_data.py [--raw ../shared/data/raw] [--corpus ../shared/corpus/searches.jsonl]
                             [--latest] [--jobs N] [--markdown]

Per source folder of raw/ (all its files, in name order, as `spl-lite run --input raw/SOURCE/*`
reads them with the default `--input-format auto`): lines read, raw records normalised, lines
skipped by reason, the records of searches/rare_parent_child_process_relationship.spl, and over
every corpus text that plans (`--latest`: each detection's latest text only) how many texts
(and distinct detections) emit at least one record and how many records they emit in all. G0-G2
texts read the SSA enriched events, G3-G4 texts the OCSF documents of the same records.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python tools/e2e_data.py` from a plain checkout

from spl_lite.driver.api import Search  # noqa: E402
from spl_lite.core.errors import SplError  # noqa: E402
from spl_lite.io.formats import InputConverter  # noqa: E402
from spl_lite.io.jsonl import EventReader  # noqa: E402
from spl_lite.io.sources import SOURCES  # noqa: E402
from spl_lite.engine.executor import Execution  # noqa: E402

SHARED = ROOT.parent / "shared"
REFERENCE = ROOT / "searches" / "rare_parent_child_process_relationship.spl"
OCSF_GENERATIONS = {"G3", "G4"}


def read_source(folder: Path) -> dict:
    """Run the reference detection over one source exactly as the CLI does, and keep both event shapes."""
    paths = sorted(str(p) for p in folder.iterdir() if p.is_file())
    reference = Search.compile(REFERENCE.read_text(encoding="utf-8"))
    out: list = []
    execution = Execution(reference.plan, lambda sink, batch: out.append(batch.length), "auto")
    shapes: dict[str, list[dict]] = {"ssa": [], "ocsf": []}
    reader = EventReader(paths)
    converter = InputConverter("auto")  # the corpus runs' copy; the counts reported are the run's own
    for events in reader.batches():
        converted = converter.convert(events)
        for shape, kept in shapes.items():
            kept.extend(converted.shape(shape))
        execution.push(events)
    execution.finish()
    return {
        "source": folder.name,
        "files": len(paths),
        "read": reader.counters.events,
        "bad_lines": reader.counters.bad_lines,
        "normalised": execution.inputs.normalised,
        "skipped": dict(execution.inputs.skipped),
        "reference": sum(out),
        "shapes": shapes,
    }


_texts: list[tuple[dict, Search]] = []
_events: dict[str, list[dict]] = {}


def _run_text(index: int) -> int:
    entry, search = _texts[index]
    events = _events["ocsf" if entry["generation"] in OCSF_GENERATIONS else "ssa"]
    # The events are already in the shape the generation reads: no recognition needed.
    return sum(1 for _ in search.run(events, input_format="ssa"))


def compile_corpus(path: Path, latest: bool) -> tuple[list[tuple[dict, Search]], int]:
    planned, total = [], 0
    for line in path.read_bytes().splitlines():
        entry = orjson.loads(line)
        if latest and not entry.get("is_latest"):
            continue
        total += 1
        try:
            planned.append((entry, Search.compile(entry["search"])))
        except SplError:
            continue
    return planned, total


def run_corpus(events: dict[str, list[dict]], jobs: int) -> list[int]:
    _events.clear()
    _events.update(events)
    if jobs <= 1:
        return [_run_text(i) for i in range(len(_texts))]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return pool.map(_run_text, range(len(_texts)), chunksize=16)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, default=SHARED / "data" / "raw")
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus" / "searches.jsonl")
    parser.add_argument("--latest", action="store_true", help="only each detection's latest text")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for the corpus runs")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the README)")
    args = parser.parse_args(argv)
    for needed in (args.raw, args.corpus):
        if not needed.exists():
            print(f"not found: {needed} (the shared/ folder sits beside the repo)", file=sys.stderr)
            return 2
    assert {spec.shape for spec in SOURCES.values()} <= {"ssa", "ba", "ocsf"}

    started = time.monotonic()
    _texts[:], total = compile_corpus(args.corpus, args.latest)
    rows, unexplained = [], 0
    for folder in sorted(p for p in args.raw.iterdir() if p.is_dir()):
        found = read_source(folder)
        counts = run_corpus(found.pop("shapes"), args.jobs)
        fired = [i for i, n in enumerate(counts) if n]
        found["texts_fired"] = len(fired)
        found["ocsf_fired"] = sum(_texts[i][0]["generation"] in OCSF_GENERATIONS for i in fired)
        found["detections_fired"] = len({_texts[i][0]["id"] for i in fired})
        found["corpus_records"] = sum(counts)
        # Every line of raw/ is a Sysmon 1 or 4688 (README): any skip or bad line is unexplained.
        unexplained += sum(found["skipped"].values()) + found["bad_lines"]
        rows.append(found)
        print(f"{found['source']}: done ({time.monotonic() - started:.0f} s)", file=sys.stderr)

    print(_table(rows, args.markdown))
    print(
        f"\n{len(_texts)} of {total} corpus texts plan ({len({e['id'] for e, _ in _texts})} detections) and ran "
        f"over every source; {unexplained} unexplained skips; {time.monotonic() - started:.0f} s"
    )
    return 1 if unexplained else 0


def _table(rows: list[dict], markdown: bool) -> str:
    header = ["source", "files", "events read", "normalised", "skipped", "reference detection",
              "corpus texts firing (G0-G2 + G3-G4)", "detections firing", "corpus records"]
    lines = []
    for row in rows:
        skipped = ", ".join(f"{n:,} {reason}" for reason, n in sorted(row["skipped"].items())) or "0"
        if row["bad_lines"]:
            skipped += f", {row['bad_lines']:,} bad lines"
        lines.append([row["source"], f"{row['files']:,}", f"{row['read']:,}", f"{row['normalised']:,}", skipped,
                      f"{row['reference']:,}",
                      f"{row['texts_fired']:,} ({row['texts_fired'] - row['ocsf_fired']:,} + {row['ocsf_fired']:,})",
                      f"{row['detections_fired']:,}",
                      f"{row['corpus_records']:,}"])
    totals = ["all", *(f"{sum(int(r[i].replace(',', '')) for r in lines):,}" for i in (1, 2, 3)),
              f"{sum(sum(r['skipped'].values()) + r['bad_lines'] for r in rows):,}",
              f"{sum(r['reference'] for r in rows):,}", "", "", f"{sum(r['corpus_records'] for r in rows):,}"]
    lines.append(totals)
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        out += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(header)]
    return "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        for cells in [header, *lines]
    )


if __name__ == "__main__":
    sys.exit(main())
