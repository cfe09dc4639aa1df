"""The shipped detection library: its test cases pass and its searches are in the canonical layout
(the reference detection, published verbatim, is listed in searches/.fmt-verbatim and left as it is)."""
from __future__ import annotations

from conftest import ROOT, cli_in_process


def test_spl_lite_test_searches_passes():
    result = cli_in_process("test", ROOT / "searches")
    assert result.returncode == 0, result.out[-3000:]
    passed, failed = result.out.strip().splitlines()[-1].split(", ")[:2]
    assert failed == "0 failed" and int(passed.split()[0]) >= 13  # a case per detection and the reference


def test_spl_lite_fmt_check_searches_passes_and_leaves_the_reference_verbatim():
    result = cli_in_process("fmt", "--check", ROOT / "searches")
    assert result.returncode == 0, result.out + result.err
    reformatted = cli_in_process("fmt", "--check", ROOT / "searches" / "rare_parent_child_process_relationship.spl")
    assert reformatted.returncode == 1  # not canonical, and kept so: it runs verbatim as published
