"""Parse-and-plan time against the size of the search text (issue 14 item 7: linear, not worse).

    python benchmarks/bench_parse_scaling.py            # 2k/8k assignments, 3k/12k OR terms

For each shape it compiles a text of n and of 4n terms, the best of --rounds each, and prints the
ratio of the two times: about 4 for linear work, 16 for quadratic.
"""
from __future__ import annotations

import argparse
import time

from spl_lite import Search


def assignments(n: int) -> str:
    """One `eval` of n assignments (issue 14: 10k took 3.5 s, 30k 15.7 s)."""
    body = ", ".join(f'f{i} = lower("x{i}")' for i in range(n))
    return f"| from read_ssa_enriched_events() | eval {body} | into write_ssa_detected_events();"


def or_terms(n: int) -> str:
    """A `where` of n OR terms (issue 14: 100k took 31-43 s)."""
    body = " OR ".join(f'p = "n{i}.exe" AND q > {i}' for i in range(n))
    return ('| from read_ssa_enriched_events() | eval p = map_get(input_event, "process_name"), q = 1 '
            f"| where {body} | into write_ssa_detected_events();")


def compile_seconds(text: str, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        Search.compile(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    compile_seconds(assignments(100), 1)  # the parser is built and cached before timing
    print(f"{'shape':<12} {'n':>7} {'s':>7} {'4n':>7} {'s':>7} {'ratio':>6}")
    for make, small in ((assignments, 2_000), (or_terms, 3_000)):
        short, long = compile_seconds(make(small), args.rounds), compile_seconds(make(4 * small), args.rounds)
        print(f"{make.__name__:<12} {small:>7,} {short:>7.2f} {4 * small:>7,} {long:>7.2f} {long / short:>6.1f}")


if __name__ == "__main__":
    main()
