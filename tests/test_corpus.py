"""The conformance suite: every published search text parses and plans, or fails with a diagnostic,
and every one that plans runs over sample events of its dialect without an internal error."""
from __future__ import annotations

import collections

import orjson
import pytest

from conftest import CORPUS, EXAMPLE, compile_cached, needs_corpus
from spl_lite.core.errors import SplError
from spl_lite.io.ocsf import from_enriched

# lint_runnable texts that cannot plan, each for a reason in the text itself (see README, Conformance).
KNOWN_BROKEN = {
    "ssa___detect_phishing_content": "E0401",  # apply_model needs Splunk's ML service
    "ssa___applying_stolen_credentials_via_mimikatz_modules": "E0101",  # `OR )`
    "ssa___windows_wmiprvse_spawn_mshta": "E0101",  # missing operator
    "ssa___anomalous_usage_of_archive_tools": "E0101",  # unclosed `(` in two G3 texts
    "ssa___attempted_credential_dump_from_registry_via_reg_exe": "E0101",  # missing comma
    "ssa___executable_file_written_in_administrative_smb_share": "E0101",  # `{, ...}`
}

pytestmark = needs_corpus


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return [orjson.loads(line) for line in CORPUS.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def samples() -> dict[str, list[dict]]:
    enriched = [orjson.loads(line) for line in EXAMPLE.read_bytes().splitlines()]
    ocsf = [from_enriched(e) for e in enriched]
    return {"G0": enriched, "G1": enriched, "G2": enriched, "G3": ocsf, "G4": ocsf}


def test_every_text_plans_or_fails_with_a_positioned_diagnostic(corpus, samples):
    outcomes = collections.Counter()
    for entry in corpus:
        text = entry["search"]
        try:
            search = compile_cached(text)
        except SplError as error:
            assert error.span is not None, (entry["slug"], error.message)
            assert error.render(text).startswith(f"error[{error.code}]")
            if entry["lint_runnable"]:
                assert KNOWN_BROKEN.get(entry["slug"]) == error.code, (entry["slug"], error.message)
            outcomes["diagnostic"] += 1
            continue
        list(search.run(samples[entry["generation"]]))  # any exception here is an internal error
        outcomes["ran"] += 1
    assert outcomes["ran"] + outcomes["diagnostic"] == len(corpus) == 2400
    assert outcomes["ran"] >= 1648
