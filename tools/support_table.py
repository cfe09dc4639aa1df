"""Prints the README's support table from the registries, so it cannot drift from the code.

    python tools/support_table.py            # print the Markdown
    python tools/support_table.py --write    # replace the table inside README.md
"""
from __future__ import annotations

import sys
from pathlib import Path

from spl_lite.plan.commands import COMMANDS
from spl_lite.functions import FUNCTIONS
from spl_lite.io.sinks import SINKS
from spl_lite.io.sources import SOURCES
from spl_lite.functions.aggregations import AGGREGATIONS


def _duckdb() -> tuple[dict[str, str], dict[str, str | None]]:
    from spl_lite.backends import duckdb

    return duckdb.COMMAND_SUPPORT, duckdb.function_lowering()


def _flink() -> tuple[dict[str, str], dict[str, str | None]]:
    from spl_lite.backends import flink

    return flink.COMMAND_SUPPORT, flink.function_lowering()


# One column per other engine: (its name, () -> (command -> how or why not, function -> None when it
# lowers, else why not)). A new backend adds its entry here.
ENGINES = [("DuckDB", _duckdb), ("Flink", _flink)]

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- support-table:start -->", "<!-- support-table:end -->"


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0].replace("|", "\\|")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table() -> str:
    engines = [(name, *support()) for name, support in ENGINES]
    heads = "".join(f" {name} |" for name, _, _ in engines)
    lines = ["**Commands**", "", f"| command | status | what it does |{heads}", "|---|---|---|" + "---|" * len(engines)]
    for name in sorted(COMMANDS):
        command = COMMANDS[name]
        status = "unsupported: plan-time diagnostic" if command.summary.startswith("(unsupported)") else "supported"
        cells = "".join(f" {_cell(commands.get(name, 'no'))} |" for _, commands, _ in engines)
        lines.append(f"| `{name}` | {status} | {command.summary.removeprefix('(unsupported) ')} |{cells}")
    lines += ["", "**Functions**", "", f"| function | family | status | notes |{heads}", "|---|---|---|---|" + "---|" * len(engines)]
    for name in sorted(FUNCTIONS):
        spec = FUNCTIONS[name]
        cells = "".join(f" {'yes' if functions[name] is None else _cell('no: ' + functions[name])} |"
                        for _, _, functions in engines)
        lines.append(f"| `{spec.signature()}` | {spec.family} | supported | {_first_line(spec.impl.__doc__)} |{cells}")
    lines.append("| `for_each(iterator(list, \"name\"), expr)` | multivalue | supported | `expr` per element with `name` bound |"
                 + " no |" * len(engines))
    names = [f"`{a}`" + (f" (= `{c}`)" if c != a else "") for a, c in sorted(AGGREGATIONS.items())]
    lines += ["", "**Aggregations** (in `stats`): " + ", ".join(names), ""]
    lines += ["**Sources** (`from`)", "", "| source | reads |", "|---|---|"]
    lines += [f"| `{s.name}` | {s.summary} |" for s in SOURCES.values()]
    lines += ["", "**Sinks** (`into`)", "", "| sink | writes |", "|---|---|"]
    lines += [f"| `{s.name}` | {s.summary} |" for s in SINKS.values()]
    return "\n".join(lines)


def readme_with_table(readme: str) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    if "--write" in sys.argv:
        README.write_text(readme_with_table(README.read_text()))
    else:
        print(table())
