"""The reference detection written as DuckDB SQL: a baseline for the throughput benchmark.

    python benchmarks/duckdb_reference.py --input events.jsonl --threads 2

computes what `spl-lite run searches/rare_parent_child_process_relationship.spl` computes
(spec 8.2, 8.3 and 10) with window functions over the rows of the JSONL file in file order, and
prints the number of detections and the wall time. `detect(path, threads)` returns the
detections as `(timestamp, parent_process_name, process_name, input, mean, variance)` tuples in
file order. Needs the `bench` extra (`pip install -e '.[bench]'`).

How the streaming operators become set-based SQL:

* arrival order is the file order: `read_ndjson(...) WITH ORDINALITY` numbers the lines as the
  reader meets them (blank lines are skipped, a line that is not a JSON object becomes a row of
  nulls and so drops out, like spl-lite's skipped bad lines).
* `conditional_anomaly` (update-first counts): N, n_c, n_t and n_ct are running counts
  `count(*) OVER (PARTITION BY ... ORDER BY ord ROWS UNBOUNDED PRECEDING)`, the current row
  included. N and n_c are taken over every counted row; n_t and n_ct only after the
  child-name filter, which removes whole partitions of those two and so changes no count.
* `adaptive_threshold` (gaussian, one global model, window W): the history of row i is the set
  of earlier kept rows j with ts_j > wm_i - W, where wm_i is the running max timestamp. As wm
  never decreases, row j leaves the history for good at e_j = the first row whose wm reaches
  ts_j + W (an ASOF join against the rows where wm steps up), so row j belongs to the history of
  exactly the rows i with j < i < e_j. Count, sum and sum of squares of the history are then a
  prefix sum of "adds" (rows before i) minus a prefix sum of "removes" (e_j <= i): this is the
  general rule, out-of-order timestamps included, with no restriction on the input.
  The sums are DECIMAL(38, 24), exact under the subtraction, so long histories do not lose the
  small history of a late row to cancellation. A constant history (variance exactly 0, where
  the label follows the IEEE rules) is recognised exactly from integer moments of the value's
  rank: n * sum(r^2) == sum(r)^2 only when every r is the same.
* the label Φ(z) < t or Φ(z) > 1 - t, with Φ(z) = erfc(-z/√2)/2 as spl-lite computes it, is
  turned into two cut-offs on z, found once in Python by bisection over doubles, since DuckDB has
  no erfc: `label = z <= Z_LOW or z >= Z_HIGH`.

Where the result may differ from spl-lite (none seen on the test data): the mean and variance
of a non-constant history are computed in double from the exact sums rather than correctly
rounded, so a z within a few ulps of a cut-off could fall the other way; lift is computed in
double from 64-bit counts (exact while n_ct * N and n_c * n_t stay below 2**53, i.e. up to
about 9e7 events); `lower()` is DuckDB's (Unicode case mapping may differ from Python's
`str.lower` on rare characters); a JSON object with a duplicate key may resolve differently.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb

WINDOW_MS = 604_800_000
THRESHOLD = 0.001

# The child names of the search's `where`, in the search's order (one list, in generate_events).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_events import LOLBAS as CHILDREN  # noqa: E402

# The tail rule as cut-offs on z, exactly as spl-lite's SQL lowering decides it at plan time.
from spl_lite.backends.lowering import z_cutoffs  # noqa: E402



def _string(column: str) -> str:
    """`ucast(map_get(input_event, column), "string", null)`: a JSON string passes, anything else is null.

    The reader hands a JSON-typed column over as minified JSON text, so a string is exactly a
    value that starts with a quote (cheaper than json_type())."""
    return f"CASE WHEN starts_with(CAST({column} AS VARCHAR), '\"') THEN {column} ->> '$' END"


def detection_sql(window_ms: int = WINDOW_MS, threshold: float = THRESHOLD, all_rows: bool = False) -> str:
    """The whole search as one query over `read_ndjson($path)`; rows come out in file order.

    With all_rows, every record that reaches adaptive_threshold with a timestamp comes out, with
    its label, instead of the detections only (for checking the label against spl-lite's)."""
    z_low, z_high = z_cutoffs(threshold)
    children = ", ".join(f"'{name}'" for name in CHILDREN)
    return f"""
WITH src AS (
    SELECT ordinality AS ord,
           {_string('_time')} AS time_text,
           lower({_string('parent_process_name')}) AS parent_process,
           lower({_string('process_name')}) AS process_name
    FROM read_ndjson($path,
                     columns = {{'_time': 'JSON', 'parent_process_name': 'JSON', 'process_name': 'JSON'}},
                     ignore_errors = true) WITH ORDINALITY
),
counted AS (   -- where parent_process_name != null; conditional_anomaly counts non-null pairs only
    SELECT ord,
           -- parse_long: optional sign and ASCII digits, within 64 bits
           CASE WHEN regexp_full_match(time_text, '[+-]?[0-9]+') THEN TRY_CAST(time_text AS BIGINT) END AS ts,
           string_split(parent_process, '\\')[-1] AS parent,
           process_name
    FROM src
    WHERE parent_process IS NOT NULL AND process_name IS NOT NULL
),
running AS (
    SELECT *,
           count(*) OVER (ORDER BY ord ROWS UNBOUNDED PRECEDING) AS n_all,
           count(*) OVER (PARTITION BY parent ORDER BY ord ROWS UNBOUNDED PRECEDING) AS n_c
    FROM counted
),
listed AS (
    SELECT *,
           count(*) OVER (PARTITION BY process_name ORDER BY ord ROWS UNBOUNDED PRECEDING) AS n_t,
           count(*) OVER (PARTITION BY parent, process_name ORDER BY ord ROWS UNBOUNDED PRECEDING) AS n_ct
    FROM running
    WHERE process_name IN ({children})
),
kept AS (      -- adaptive_threshold skips (no state change, no label) a record without timestamp
    SELECT ord, ts, parent, process_name,
           -log10(CAST(n_ct * n_all AS DOUBLE) / CAST(n_c * n_t AS DOUBLE)) AS x,
           max(ts) OVER (ORDER BY ord ROWS UNBOUNDED PRECEDING) AS wm
    FROM listed
    WHERE ts IS NOT NULL
),
steps AS (     -- the first row at which the watermark reaches each of its values
    SELECT wm AS step_wm, min(ord) AS step_ord FROM kept GROUP BY wm
),
expiry AS (    -- e: the first row whose watermark reaches ts + W (null: never)
    SELECT k.*, s.step_ord AS e
    FROM kept k ASOF LEFT JOIN steps s ON k.ts + {window_ms} <= s.step_wm
),
moments AS (   -- what a row brings to the histories it belongs to (nothing if it never joins)
    SELECT ord, ts, parent, process_name, x, e,
           (e IS NULL OR e > ord) AS joins,
           CAST(x AS DECIMAL(38, 24)) AS sx,
           CAST(x * x AS DECIMAL(38, 24)) AS sq,
           CAST(dense_rank() OVER (ORDER BY x) AS HUGEINT) AS r
    FROM expiry
),
removed AS (   -- rows leaving the history at row e, summed per e
    SELECT e AS ord, count(*) AS rn, sum(sx) AS rsx, sum(sq) AS rsq, sum(r) AS rr, sum(r * r) AS rr2
    FROM moments
    WHERE joins AND e IS NOT NULL
    GROUP BY e
),
history AS (
    SELECT m.ord, m.ts, m.parent, m.process_name, m.x, m.r,
           coalesce(sum(CASE WHEN joins THEN 1 ELSE 0 END) OVER before, 0)
             - coalesce(sum(rn) OVER upto, 0) AS n,
           coalesce(sum(CASE WHEN joins THEN sx ELSE 0 END) OVER before, 0)
             - coalesce(sum(rsx) OVER upto, 0) AS s,
           coalesce(sum(CASE WHEN joins THEN sq ELSE 0 END) OVER before, 0)
             - coalesce(sum(rsq) OVER upto, 0) AS q,
           coalesce(sum(CASE WHEN joins THEN r ELSE 0 END) OVER before, 0)
             - coalesce(sum(rr) OVER upto, 0) AS sr,
           coalesce(sum(CASE WHEN joins THEN r * r ELSE 0 END) OVER before, 0)
             - coalesce(sum(rr2) OVER upto, 0) AS sr2
    FROM moments m LEFT JOIN removed USING (ord)
    WINDOW before AS (ORDER BY m.ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
           upto AS (ORDER BY m.ord ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
stats AS (
    SELECT ord, ts, parent, process_name, x, r, n, sr,
           n > 0 AND CAST(n AS HUGEINT) * sr2 = sr * sr AS constant,
           CASE WHEN n > 0 THEN CAST(s AS DOUBLE) / n END AS mean,
           CASE WHEN n > 0 THEN greatest(CAST(q AS DOUBLE) / n - (CAST(s AS DOUBLE) / n) * (CAST(s AS DOUBLE) / n), 0.0)
           END AS variance
    FROM history
),
labelled AS (
    SELECT ord, ts, parent, process_name, x, mean,
           CASE WHEN constant THEN 0.0 ELSE variance END AS variance,
           CASE
               WHEN n = 0 THEN false    -- empty history: mean and variance null, no label
               -- variance 0: z = ±inf unless x == mean (NaN, no label); the sign test is exact on ranks
               WHEN constant THEN r * n <> sr
               WHEN variance = 0 THEN x <> mean
               ELSE (x - mean) / sqrt(variance) <= {z_low!r} OR (x - mean) / sqrt(variance) >= {z_high!r}
           END AS label,
           CASE WHEN constant THEN r * n > sr ELSE x > mean END AS above
    FROM stats
)
SELECT ts, parent, process_name, x, mean, variance{", label" if all_rows else ""}
FROM labelled
{"" if all_rows else "WHERE label AND above"}
ORDER BY ord
"""


def detect(path: str, threads: int = 1, *, all_rows: bool = False) -> list[tuple]:
    """The detections of the reference search on a JSONL file, in file order:
    (timestamp, parent_process_name, process_name, input, mean, variance) tuples.

    With all_rows: every record scored by adaptive_threshold (timestamp not null), with `label`
    as a seventh element."""
    con = duckdb.connect(config={"threads": threads})
    try:
        # The reader's row estimate is tiny, which makes DuckDB >= 1.3 run the ASOF join as a
        # nested loop (quadratic); force the sort-merge ASOF join (older versions always use it).
        if con.execute("SELECT count(*) FROM duckdb_settings() WHERE name = 'asof_loop_join_threshold'").fetchone()[0]:
            con.execute("SET asof_loop_join_threshold = 0")
        return con.execute(detection_sql(all_rows=all_rows), {"path": str(path)}).fetchall()
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, required=True, help="JSONL file of SSA enriched events")
    parser.add_argument("--threads", type=int, default=1, help="DuckDB worker threads (default 1)")
    parser.add_argument("--print", dest="show", action="store_true",
                        help="also print each detection as a JSON array [timestamp, parent_process_name, "
                             "process_name] on stdout (the count then goes to stderr)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = detect(str(args.input), args.threads)
    wall = time.perf_counter() - started
    if args.show:
        for ts, parent, child, *_ in rows:
            print(json.dumps([ts, parent, child]))
    print(f"{len(rows)} detections in {wall:.2f} s ({args.threads} thread{'s' if args.threads != 1 else ''})",
          file=sys.stderr if args.show else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
