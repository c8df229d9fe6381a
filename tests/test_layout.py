"""The house rules of docs/architecture.md, checked from the import graph of the source.

Each rule keeps a room easy to find and to change: the model at the bottom importing no
shell, the conversation free of web and WeChat code, the scheduler using only WeChat's
client and the base services, and no import circle inside ``models/`` (a circle is how a
push kind used to need edits in seven places).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "models", "scheduler")
# What scheduler/ may take from bot/: WeChat's client and the base services.
SCHEDULER_MAY_USE = ("bot.wechat", "bot.config", "bot.services", "bot.redis_conn")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(package: str) -> Iterator[Path]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def imports_of(path: Path, known: frozenset[str] = frozenset()) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (function-level too).

    ``from package import module`` is an import of ``module`` when it is one of ``known``
    (not of the package's ``__init__``), otherwise of ``package``.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    return found


def graph(package: str) -> dict[str, set[str]]:
    """Module → the modules of the same package it imports."""
    modules = {module_name(path): path for path in source_files(package)}
    known = frozenset(modules)
    return {
        name: {target for target in imports_of(path, known) if target in known and target != name}
        for name, path in modules.items()
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the modules along it, or None."""
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return [*trail[trail.index(node) :], node]
        if node in done:
            return None
        for target in sorted(edges.get(node, ())):
            cycle = visit(target, [*trail, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(edges):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_models_has_no_import_circle() -> None:
    cycle = find_cycle(graph("models"))
    assert cycle is None, " → ".join(cycle or [])


def test_the_cycle_finder_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("models", ("bot", "handlers", "scheduler", "flask", "wechatpy", "requests")),
        ("handlers", ("bot", "scheduler", "flask", "wechatpy", "requests")),
        ("scheduler", ("handlers", "flask")),
    ],
)
def test_a_layer_imports_nothing_above_it(package: str, forbidden: tuple[str, ...]) -> None:
    offending = [
        f"{module_name(path)} imports {target}"
        for path in source_files(package)
        for target in imports_of(path)
        if target.split(".")[0] in forbidden
    ]
    assert offending == []


def test_scheduler_uses_only_wechat_and_the_base_services_from_bot() -> None:
    offending = [
        f"{module_name(path)} imports {target}"
        for path in source_files("scheduler")
        for target in imports_of(path)
        if target.split(".")[0] == "bot"
        and target != "bot"
        and not target.startswith(tuple(f"{allowed}" for allowed in SCHEDULER_MAY_USE))
    ]
    assert offending == []


def test_the_console_builds_no_sql() -> None:
    """bot/console/ parses, checks the role and renders: every query and change it needs
    is a function of models/, so it takes nothing from SQLAlchemy but the Session type."""
    assert len(list(source_files("bot/console"))) >= 5
    offending = [
        f"{module_name(path)} imports {node.module}.{alias.name}"
        for path in source_files("bot/console")
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
        for alias in node.names
        if (node.module, alias.name) != ("sqlalchemy.orm", "Session")
    ]
    assert offending == []
    assert "sqlalchemy" not in {
        target.split(".")[0]
        for path in source_files("bot/console")
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Import)
        for target in (alias.name for alias in node.names)
    }
