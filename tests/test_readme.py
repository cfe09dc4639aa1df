"""The README's generated support table matches the registries."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _support_table_module():
    spec = importlib.util.spec_from_file_location("support_table", ROOT / "tools" / "support_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_support_table_is_current():
    readme = (ROOT / "README.md").read_text()
    assert _support_table_module().readme_with_table(readme) == readme, (
        "README support table is stale: run `python tools/support_table.py --write`"
    )


def test_every_function_and_command_is_listed():
    from spl_lite.plan.commands import COMMANDS
    from spl_lite.functions import FUNCTIONS

    readme = (ROOT / "README.md").read_text()
    for name in list(COMMANDS) + list(FUNCTIONS):
        assert f"`{name}" in readme, name
