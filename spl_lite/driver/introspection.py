"""`spl-lite commands` and `spl-lite functions [NAME]`: the registries described for a search author.

Everything shown here is declared where the thing is implemented: a command's `summary`, `usage`,
`arguments` and `outputs` on its class (spl_lite/commands/*), a function's signature, null rule,
docstring and example in its `@function(...)` registration, an aggregation's `doc` in
functions/aggregations.py. tools/docs_reference.py renders the same facts as Markdown.
"""
from __future__ import annotations

import textwrap
from typing import Any

from ..functions import FUNCTIONS
from ..functions.aggregations import AGGREGATIONS, DESCRIPTIONS
from ..io.sinks import SINKS
from ..io.sources import SOURCES
from ..plan.commands import COMMANDS

_WIDTH = 100


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, _WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def describe_commands() -> str:
    blocks = []
    for name, command in COMMANDS.items():
        lines = [f"{name} - {command.summary}"]
        if command.usage:
            lines.append(_wrap(f"usage: {command.usage}", "  "))
        for argument in command.arguments:
            lines.append(_wrap(f"{argument.name} (default: {argument.default}): {argument.meaning}", "    "))
        if command.outputs:
            lines.append(_wrap(f"output fields: {command.outputs}", "  "))
        blocks.append("\n".join(lines))
    sources = ", ".join(f"{n}()" if n != "source" else n for n in SOURCES)
    sinks = ", ".join(f"{n}()" if n != "sink" else n for n in SINKS)
    blocks.append(f"sources (from): {sources}\nsinks (into): {sinks}")
    return "\n\n".join(blocks)


def aggregation_names() -> list[str]:
    return list(AGGREGATIONS)


def function_entry(name: str) -> dict[str, Any] | None:
    """The facts about one scalar function or stats aggregation, or None if there is no such one."""
    key = name.lower()
    spec = FUNCTIONS.get(key)
    if spec is not None:
        aliases = [other for other, o in FUNCTIONS.items() if o.impl is spec.impl and other != key]
        return {
            "name": key,
            "signature": spec.signature(),
            "family": spec.family,
            "nulls": spec.null_rule,
            "description": spec.description,
            "example": spec.example,
            "result": spec.result,
            "aliases": aliases,
        }
    aggregation = AGGREGATIONS.get(key)
    if aggregation is not None:
        aliases = [other for other, canonical in AGGREGATIONS.items() if canonical == aggregation and other != key]
        return {
            "name": key,
            "signature": f"{key}(field)" if key != "count" else "count([field])",
            "family": "aggregation (in stats only)",
            "nulls": "null values are skipped",
            "description": DESCRIPTIONS[aggregation],
            "example": f"stats {key}(process_name) AS n BY host, span(timestamp, 10m)",
            "result": None,
            "aliases": aliases,
        }
    return None


def describe_functions(name: str | None = None) -> tuple[str, bool]:
    """(text, found): a one-line-each table of every function, or the full entry for `name`."""
    if name is None:
        rows = [function_entry(n) for n in sorted(FUNCTIONS)] + [function_entry(n) for n in AGGREGATIONS]
        width = max(len(r["signature"]) for r in rows)
        lines = [f"{'signature'.ljust(width)}  {'family'.ljust(12)}  description"]
        for row in rows:
            family = "aggregation" if row["family"].startswith("aggregation") else row["family"]
            summary = row["description"].split(". ")[0].rstrip(".")
            line = f"{row['signature'].ljust(width)}  {family.ljust(12)}  {summary}"
            lines.append(line if len(line) <= _WIDTH + 20 else line[: _WIDTH + 17] + "...")
        lines.append("\n`spl-lite functions NAME` shows one with its null rule and an example.")
        return "\n".join(lines), True
    entry = function_entry(name)
    if entry is None:
        from ..core.errors import did_you_mean

        known = list(FUNCTIONS) + list(AGGREGATIONS)
        hint = did_you_mean(name.lower(), known)
        return f"spl-lite: no function `{name}`" + (f"; {hint}" if hint else ""), False
    lines = [
        entry["signature"],
        f"  family: {entry['family']}",
        _wrap(f"nulls: {entry['nulls']}", "  "),
        _wrap(f"description: {entry['description']}", "  "),
    ]
    if entry["example"]:
        example = entry["example"] + (f"  =>  {entry['result']}" if entry["result"] is not None else "")
        lines.append(f"  example: {example}")
    if entry["aliases"]:
        lines.append(f"  same as: {', '.join(entry['aliases'])}")
    return "\n".join(lines), True
