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

pytestmark = [needs_corpus, pytest.mark.corpus]  # CI's corpus step (pyproject addopts, .ci/run)


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return [orjson.loads(line) for line in CORPUS.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def samples() -> dict[str, list[dict]]:
    # Every second event of the example (545 of its 1,089, every kind of line it has): running
    # 1,648 texts is half this test's time.
    enriched = [orjson.loads(line) for line in EXAMPLE.read_bytes().splitlines()[::2]]
    ocsf = [from_enriched(e) for e in enriched]
    return {"G0": enriched, "G1": enriched, "G2": enriched, "G3": ocsf, "G4": ocsf}


def check(entries: list[dict], samples: dict[str, list[dict]]) -> tuple[collections.Counter, list[tuple[str, str]]]:
    """Compiles each entry's text and runs it over its generation's samples: the outcomes, and the
    problems found (slug, what), instead of stopping at the first."""
    outcomes, problems = collections.Counter(), []
    for entry in entries:
        text, slug = entry["search"], entry["slug"]
        try:
            search = compile_cached(text)
        except SplError as error:
            if error.span is None:
                problems.append((slug, f"diagnostic without a position: {error.message}"))
            elif not error.render(text).startswith(f"error[{error.code}]"):
                problems.append((slug, f"badly rendered diagnostic: {error.render(text)[:200]}"))
            elif entry["lint_runnable"] and KNOWN_BROKEN.get(slug) != error.code:
                problems.append((slug, f"a runnable text fails to plan: {error.code} {error.message}"))
            outcomes["diagnostic"] += 1
            continue
        except Exception as error:  # an internal error while compiling
            problems.append((slug, f"compiling raised {type(error).__name__}: {error}"))
            continue
        try:
            list(search.run(samples[entry["generation"]]))
        except Exception as error:  # any exception here is an internal error
            problems.append((slug, f"running raised {type(error).__name__}: {error}"))
            continue
        outcomes["ran"] += 1
    return outcomes, problems


PARTS = 4  # the texts in four parts, which pytest-xdist can run on both cores


@pytest.mark.parametrize("part", range(PARTS))
def test_every_text_plans_or_fails_with_a_positioned_diagnostic(corpus, samples, part):
    """Every runnable text that is not known to be broken plans and runs (so with the problems
    empty, all 1,648 that planned before still do); every other one fails with a positioned,
    rendered diagnostic."""
    entries = corpus[part::PARTS]
    outcomes, problems = check(entries, samples)
    assert problems == []
    assert outcomes["ran"] + outcomes["diagnostic"] == len(entries) and len(corpus) == 2400
    runnable = [e for e in entries if e["lint_runnable"] and e["slug"] not in KNOWN_BROKEN]
    assert outcomes["ran"] >= len(runnable)
