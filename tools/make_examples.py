"""Build examples/process_creation.jsonl and examples/NOTICE from MIT-licensed raw sources of shared/data/raw."""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
# Lets `python tools/make_examples.py` run from a plain checkout, without installing the package.
sys.path.insert(0, str(REPO))

from spl_lite.io.windows import normalise  # noqa: E402

MIT_PERMISSION = """\
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

# In output order. Both are MIT with no doubt about it: OTRF/Security-Datasets is left out because its
# README says GPL-3.0 while its LICENSE says MIT (an open upstream question), DRL and GPL sources always.
# The Endgame runs come first: the Atomic Red Team harness makes `powershell.exe -> cmd.exe` the common
# pair before the tests' rarer children appear. Six weeks later the MSTIC lab host's hour of Monitoring
# Agent background precedes its scripted attack (`svchost.exe -> cmd.exe`, `cmd.exe -> cmd.exe`), scored
# against `cmd.exe` counts that the first block made common. The blocks follow each other in time, so the
# whole file is in event-time order and no operator sees late data.
SOURCES = [
    {
        "dir": "eqllib-sysmon",
        "files": ["sysmon-atomic-red-team.jsonl.gz", "sysmon-rta.jsonl.gz"],
        "what": "Sysmon EID 1 of Atomic Red Team and Endgame RTA runs (hosts ART-DESKTOP, RTA-DESKTOP), Dec 2018",
        "repository": "https://github.com/endgameinc/eqllib",
        "paths": ["data/sysmon-atomic-red-team.json.gz", "data/sysmon-rta.json.gz"],
        "commit": "b477d2bb440bf5f2cad5a9fe274b2aa7f6cacebe",
        "licence": "MIT",
        "copyright": "Copyright (c) 2018 Endgame, Inc.",
    },
    {
        "dir": "msticpy-sentinel-securityevent",
        "files": ["processes_on_host.jsonl.gz"],
        "what": "Security 4688 of lab host MSTICAlertsWin1 exported from Microsoft Sentinel, Jan 2019",
        "repository": "https://github.com/microsoft/msticpy",
        "paths": ["docs/notebooks/data/processes_on_host.csv"],
        "commit": "a2cc90f5e1e4a460539d8416d9a3f022df3ddb0a",
        "licence": "MIT",
        "copyright": "Copyright (c) Microsoft Corporation. All rights reserved.",
    },
]

MAX_BYTES = 1_000_000


def source_events(raw: Path, source: dict) -> list[dict]:
    """One source's enriched events, sorted by `_time` (stable, so equal times keep file and line order)."""
    events = []
    for name in source["files"]:
        with gzip.open(raw / source["dir"] / name, "rb") as fh:
            for line in fh:
                event = normalise(orjson.loads(line))
                if event is not None:
                    events.append(event)
    events.sort(key=lambda e: int(e["_time"]))
    return events


def notice() -> str:
    parts = [
        "examples/process_creation.jsonl holds Windows process-creation events converted by\n"
        "spl_lite.io.windows.normalise from the following third-party data, each under its own licence.\n"
    ]
    for source in SOURCES:
        paths = "\n".join(f"  {p}" for p in source["paths"])
        parts.append(
            f"\n{'=' * 78}\n{source['what']}\n"
            f"Origin: {source['repository']} at commit {source['commit']}\n{paths}\n"
            f"Licence: {source['licence']}\n\n{source['copyright']}\n\n{MIT_PERMISSION}"
        )
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, default=REPO.parent / "shared" / "data" / "raw",
                        help="folder of the raw corpus (default: shared/data/raw beside the repo)")
    parser.add_argument("--out", type=Path, default=REPO / "examples", help="folder to write into")
    args = parser.parse_args(argv)

    lines = [orjson.dumps(e) + b"\n" for source in SOURCES for e in source_events(args.raw, source)]
    data = b"".join(lines)
    if len(data) >= MAX_BYTES:
        parser.error(f"sample is {len(data)} bytes; it must stay under {MAX_BYTES}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "process_creation.jsonl").write_bytes(data)
    (args.out / "NOTICE").write_text(notice(), encoding="utf-8")
    print(f"wrote {len(lines)} events, {len(data)} bytes, to {args.out / 'process_creation.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
