"""models/ has no import circle; the kind registry imports no other models module, so every
domain module can name its kinds through it, and only models/push/policy.py reaches the
send-time staleness checks (which import the domain modules)."""

from __future__ import annotations

import ast
from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent / "models"


def _module_name(path: Path) -> str:
    parts = path.relative_to(MODELS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each module's imports of other models modules. ``models`` itself, which imports
    every table module for Alembic, is left out: nothing inside models/ imports it."""
    paths = {
        _module_name(path): path
        for path in MODELS.rglob("*.py")
        if "migrations" not in path.relative_to(MODELS).parts
    }
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        if name == "models":
            continue
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                candidates = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            found.update(c for c in candidates if c in paths and c not in (name, "models"))
        graph[name] = found
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle, or [] when there is none."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> list[str]:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported)):
                return found
        path.pop()
        state[module] = 2
        return []

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return []


def test_models_has_no_import_circle() -> None:
    graph = _imports()
    assert "models.push.outbox" in graph
    assert _cycle(graph) == []


def test_the_registry_imports_no_other_models_module() -> None:
    assert _imports()["models.push.registry"] == set()


def test_only_the_policy_imports_the_stale_checks() -> None:
    importers = {
        name for name, imported in _imports().items() if "models.push.stale_checks" in imported
    }
    assert importers == {"models.push.policy"}


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
