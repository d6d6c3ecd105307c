"""The mock portals as a program: which world ``python -m mock_portals`` serves, and modules that import
each other only one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mock_portals
from mock_portals.__main__ import DEMO_SCENARIO, chosen_scenario, main
from mock_portals.world import Scenario

PACKAGE = Path(mock_portals.__file__).parent


def test_without_a_scenario_the_demo_world_is_served():
    served = chosen_scenario(None)
    assert served == Scenario.load(DEMO_SCENARIO)
    assert served.name == "demo" and served.lines and served.tickets


def test_an_empty_world_is_served_only_when_asked_for():
    assert chosen_scenario(None, empty=True) == Scenario()


def test_a_named_scenario_is_served(tmp_path):
    scenario = tmp_path / "one.yaml"
    scenario.write_text("name: one\nlines: [{number: '61234567', holder_name: Ana, holder_ci: '1234567'}]\n")
    assert [line.number for line in chosen_scenario(scenario).lines] == ["61234567"]


def test_a_scenario_and_an_empty_world_cannot_both_be_asked_for(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--empty", "--scenario", str(tmp_path / "one.yaml")])
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_missing_scenario_file_is_a_clear_error(tmp_path, capsys):
    assert main(["--scenario", str(tmp_path / "missing.yaml")]) == 2
    assert "scenario file not found" in capsys.readouterr().err


def imports_between_modules() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at the top or inside a function."""
    graph = {}
    for source in PACKAGE.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mock_portals."):
                imported.add(node.module.removeprefix("mock_portals."))
            elif isinstance(node, ast.Import):
                imported |= {alias.name.removeprefix("mock_portals.") for alias in node.names
                             if alias.name.startswith("mock_portals.")}
        graph[source.stem] = imported
    return graph


def test_no_module_imports_itself_through_others():
    graph = imports_between_modules()

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for module in graph.get(todo.pop(), ()):
                if module not in seen:
                    seen.add(module)
                    todo.append(module)
        return seen

    assert [module for module in graph if module in reachable(module)] == []


def test_the_macro_short_names_import_nothing():
    tree = ast.parse((PACKAGE / "macro_names.py").read_text(encoding="utf-8"))
    assert not [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
