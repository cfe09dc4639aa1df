"""`spl-lite commands` and `spl-lite functions [NAME]`: generated from the registries, and the
facts declared there (examples, argument lists) are true."""
from __future__ import annotations

import orjson
import pytest

from spl_lite import Search
from spl_lite.cli import main
from spl_lite.plan.commands import COMMANDS
from spl_lite.core.errors import SplError
from spl_lite.functions import FUNCTIONS
from spl_lite.driver.introspection import describe_commands, describe_functions, function_entry
from spl_lite.functions.aggregations import AGGREGATIONS


def evaluate(expression: str):
    search = Search.compile(f"| from source | eval result = {expression} | select result | into sink")
    (record,) = search.run([{"n": 0}])
    return record["result"]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_has_a_description_and_an_example_that_gives_its_result(name):
    spec = FUNCTIONS[name]
    assert spec.description, f"{name}: add a docstring to its implementation"
    assert spec.example and spec.example.startswith(f"{name}("), f"{name}: add example= to its @function"
    value = evaluate(spec.example)
    if spec.result is None:  # time(): the clock's value
        assert name == "time" and type(value) is int
    else:
        assert orjson.dumps(value).decode() == spec.result


def test_every_aggregation_is_described():
    from spl_lite.functions.aggregations import DESCRIPTIONS

    for name, canonical in AGGREGATIONS.items():
        assert DESCRIPTIONS[canonical], name
        assert function_entry(name)["family"].startswith("aggregation")


GENERIC = [name for name, c in COMMANDS.items() if c.syntax.__name__ == "GenericCommand" and name != "apply_model"]


@pytest.mark.parametrize("name", GENERIC)
def test_declared_arguments_are_the_ones_the_planner_accepts(name):
    """An unknown argument's diagnostic lists what the command takes: the declaration must match."""
    with pytest.raises(SplError) as raised:
        Search.compile(f"| from source | {name} zzqqxx=1 | into sink")
    accepted = {part.strip("`") for part in raised.value.hint.removeprefix("it takes ").split(", ")}
    declared = {a.name for a in COMMANDS[name].arguments if not a.name.startswith("(")}
    assert declared == accepted


def test_every_command_is_described():
    for name, command in COMMANDS.items():
        assert command.summary and command.usage and command.outputs, name


def test_commands_lists_every_command_with_arguments_defaults_and_outputs(capsys):
    assert main(["commands"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == describe_commands().strip()
    for name in COMMANDS:
        assert f"\n{name} - " in "\n" + out
    assert 'value (default: "input"): the numeric field to judge' in out
    assert "output fields: the input fields, plus `output`: the lift" in out
    assert "first_time_<field>_<field>" in out
    assert "window_start, window_end and window_trigger" in out
    assert "sources (from): read_ssa_enriched_events()" in out


def test_functions_lists_every_function_and_aggregation(capsys):
    assert main(["functions"]) == 0
    out = capsys.readouterr().out
    for name in list(FUNCTIONS) + list(AGGREGATIONS):
        assert any(line.startswith(f"{name}(") for line in out.splitlines()), name


def test_functions_name_shows_signature_null_rule_and_example(capsys):
    assert main(["functions", "SUBSTR"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "substr(str, start, length?)"
    assert "family: string" in out and "nulls: null if any argument is null" in out
    assert 'example: substr("powershell.exe", 1, 10)  =>  "powershell"' in out

    assert main(["functions", "coalesce"]) == 0
    assert "takes null arguments" in capsys.readouterr().out
    assert main(["functions", "match"]) == 0
    assert "same as: match_regex" in capsys.readouterr().out


def test_unknown_function_is_an_error_with_a_suggestion(capsys):
    assert main(["functions", "lowr"]) == 1
    assert "no function `lowr`; did you mean `lower`?" in capsys.readouterr().err
    text, found = describe_functions("nothing_like_it")
    assert not found and "did you mean" not in text
