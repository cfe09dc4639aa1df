"""A regular expression that backtracks for ever cannot stall a stream (issue 14, item 6): each match
has a time limit (core/regex.py, MATCH_SECONDS), an expired match gives null (no extraction for
rex) and a counted warning naming the pattern, and SIGTERM is honoured within about a second."""
from __future__ import annotations

import os
import resource
import signal
import threading
import time

import orjson

from conftest import cli, cli_in_process

BOMB = "(a|aa)+$"  # exponential on "aaaa...a!"


def _events(count: int, distinct: bool = True) -> bytes:
    lines = []
    for i in range(count):
        text = "a" * 40 + (f"!{i}" if distinct else "!")
        lines.append({"_time": str(1600000000000 + i), "process": text, "process_name": "aaaa"})
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def _children_cpu() -> float:
    """CPU seconds used so far by this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _search(tmp_path, body: str):
    path = tmp_path / "bomb.spl"
    path.write_text(
        "| from read_ssa_enriched_events()\n"
        '| eval cmd = ucast(map_get(input_event, "process"), "string", null), '
        'name = ucast(map_get(input_event, "process_name"), "string", null)\n'
        f"{body}\n| into write_ssa_detected_events();\n"
    )
    return path


def test_a_regex_bomb_over_two_records_finishes_in_seconds_with_a_warning(tmp_path):
    search = _search(
        tmp_path,
        f"| eval hit = match_regex(cmd, /{BOMB}/), short = match_regex(name, /{BOMB}/), "
        f'cleaned = replace(cmd, /{BOMB}/, "x")\n| rex field=cmd "(?<tail>(a|aa)+$)"',
    )
    before = _children_cpu()
    result = cli("run", search, "--input", "-", stdin=_events(2))
    assert _children_cpu() - before < 20  # work done: a loaded machine stretches wall time, not this
    assert result.returncode == 0, result.err
    records = [orjson.loads(line) for line in result.out.splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["hit"] is None and record["cleaned"] is None and record["tail"] is None
        assert record["short"] is True  # the same pattern on a value it can decide
    assert "6 values could not be computed" in result.err
    assert "regex /(a|aa)+$/ gave up after 0.5 s" in result.err


def test_sigterm_is_honoured_within_a_second_during_a_batch_of_bombs(tmp_path):
    search = _search(tmp_path, f"| where match_regex(cmd, /{BOMB}/)")
    events = tmp_path / "bombs.jsonl"
    events.write_bytes(_events(200))  # one batch; 100 s of matching without the stop
    before = signal.getsignal(signal.SIGTERM)
    sent = []

    def terminate_once_matching():
        deadline = time.monotonic() + 60
        while signal.getsignal(signal.SIGTERM) is before and time.monotonic() < deadline:
            time.sleep(0.01)  # until the run's SignalGuard is in place
        time.sleep(1.2)  # inside the batch, a few values given up on
        sent.append(time.process_time())
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_once_matching, daemon=True)
    killer.start()
    result = cli_in_process("run", search, "--input", events)
    waited = time.process_time() - sent[0]  # the work done after the stop (CPU: load does not stretch it)
    killer.join()
    assert result.returncode == 143, result.err
    assert waited < 1.5, waited  # the match under way (0.5 s), the rest of the batch (0.2 s), the exit
    assert "was cut short because the run was stopped" in result.err
    assert "gave up after 0.5 s" in result.err
