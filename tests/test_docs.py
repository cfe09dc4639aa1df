"""The manual in docs/: every ```spl block parses and plans; where an expectation follows it, it runs
over examples/process_creation.jsonl and gives exactly that. The generated reference is current.

An expectation is written right after the ```spl block (only blank lines between):

    <!-- expect: 3 records -->          the number of records written
    <!-- expect: records -->            followed by a ```json block: the records, one JSON object a line
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from spl_lite import Search
from spl_lite.core.errors import SplError
from spl_lite.driver.testing import same_value

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EVENTS = ROOT / "examples" / "process_creation.jsonl"
_FENCE = re.compile(r"^```(\w*)\s*$")
_EXPECT = re.compile(r"^<!-- expect: (?:(\d+) records?|(records)) -->\s*$")


@dataclass
class Example:
    path: Path
    line: int
    search: str
    count: int | None = None
    records: list | None = None

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.line}"


def _blocks(lines: list[str]):
    """(language, first line number, text, index after the closing fence) of each fenced block."""
    i = 0
    while i < len(lines):
        opened = _FENCE.match(lines[i])
        if not opened:
            i += 1
            continue
        start = i
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            i += 1
        yield opened.group(1), start + 1, "\n".join(lines[start + 1 : i]), i + 1
        i += 1


def _next_content(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def examples_of(path: Path) -> list[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    blocks = list(_blocks(lines))
    for index, (language, line, text, after) in enumerate(blocks):
        if language != "spl":
            continue
        example = Example(path, line, text)
        j = _next_content(lines, after)
        expect = _EXPECT.match(lines[j]) if j < len(lines) else None
        if expect and expect.group(1):
            example.count = int(expect.group(1))
        elif expect:
            k = _next_content(lines, j + 1)
            following = [b for b in blocks[index + 1 :] if b[1] == k + 1]
            assert following and following[0][0] == "json", f"{example.name}: `expect: records` needs a ```json block"
            example.records = [orjson.loads(row) for row in following[0][2].splitlines() if row.strip()]
        elif j < len(lines) and lines[j].startswith("```json"):
            raise AssertionError(f"{example.name}: a ```json block after a search needs `<!-- expect: records -->`")
        found.append(example)
    return found


DOC_FILES = sorted(DOCS.glob("*.md"))
EXAMPLES = [e for path in DOC_FILES for e in examples_of(path)]


def test_the_manual_has_its_pages_and_examples():
    names = {p.name for p in DOC_FILES}
    assert {"README.md", "language.md", "commands.md", "functions.md", "tutorial.md", "testing.md"} <= names
    assert len(EXAMPLES) >= 30
    assert sum(e.count is not None or e.records is not None for e in EXAMPLES) >= 20


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_example(example: Example):
    try:
        search = Search.compile(example.search)
    except SplError as error:
        pytest.fail(f"{example.name}: the example does not compile:\n{error.render(example.search)}")
    if example.count is None and example.records is None:
        return
    got = list(search.run_files([str(EVENTS)]))
    if example.count is not None:
        assert len(got) == example.count, f"{example.name}: {len(got)} records, the text says {example.count}"
    if example.records is not None:
        shown = "\n".join(orjson.dumps(r).decode() for r in got[:20])
        assert len(got) == len(example.records) and all(
            same_value(a, b) for a, b in zip(got, example.records)
        ), f"{example.name}: the search now gives\n{shown}"


def _tool():
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "tools" / "docs_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_reference_is_current():
    assert _tool().stale() == [], "run `python tools/docs_reference.py --write`"


def test_every_command_has_a_generated_block_in_commands_md():
    from spl_lite.plan.commands import COMMANDS

    documented = _tool().documented_commands((DOCS / "commands.md").read_text(encoding="utf-8"))
    assert documented == set(COMMANDS)


def test_links_between_pages_point_at_files_that_exist():
    for path in DOC_FILES + [ROOT / "README.md"]:
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_readme_links_the_manual():
    assert "](docs/README.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_fmt_example_in_testing_md_is_what_fmt_prints():
    from spl_lite.syntax.format import format_text

    before, after = examples_of(DOCS / "testing.md")[:2]
    assert format_text(before.search) == after.search + "\n"
