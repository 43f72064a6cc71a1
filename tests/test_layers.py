"""runtime/ is layered: each group of modules imports only its own group and the groups below it,
and no module imports itself back through others (inside a group either).

Every import counts, whatever its place (module level, inside a function, under ``TYPE_CHECKING``):
a lower layer that needs something of a higher one declares it as a ``Protocol`` the higher one
satisfies. The order is the one README.md's "Layout" section explains.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

RUNTIME = Path(__file__).resolve().parent.parent / "runtime"

# Lowest first. A module's group is its package under runtime/; the top-level modules are named one
# by one: the shared vocabulary every layer may use, and the package itself, the API apps import.
LAYERS = ("shared", "values", "store", "database", "tokens", "functions", "auth", "server", "testing", "api")
SHARED = {"runtime.knobs", "runtime.clock", "runtime.function_clock", "runtime.time_limit"}


def module_names() -> dict[str, Path]:
    """Every module under runtime/, by dotted name (a package by its own name)."""
    names = {}
    for path in sorted(RUNTIME.rglob("*.py")):
        parts = path.relative_to(RUNTIME.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def group(module: str) -> str:
    """The layer ``module`` belongs to."""
    if module == "runtime":
        return "api"
    if module in SHARED:
        return "shared"
    name = module.split(".")[1]
    assert name in LAYERS, f"{module} belongs to no declared layer: add it to one"
    return name


def imported_modules(module: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The runtime modules ``module`` imports, anywhere in its body."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            # ``from runtime import knobs`` imports the module runtime.knobs, not the package's API.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                yield target


def group_edges() -> dict[tuple[str, str], list[str]]:
    """(importing group, imported group) → the module imports that make that edge."""
    modules = module_names()
    edges: dict[tuple[str, str], list[str]] = {}
    for module, path in modules.items():
        for target in imported_modules(module, path, modules):
            if group(module) != group(target):
                edges.setdefault((group(module), group(target)), []).append(f"{module} -> {target}")
    return edges


def test_every_module_belongs_to_a_layer() -> None:
    for module in module_names():
        assert group(module) in LAYERS


def test_no_layer_imports_a_higher_one() -> None:
    upward = [
        line
        for (importer, imported), lines in sorted(group_edges().items())
        if LAYERS.index(importer) < LAYERS.index(imported)
        for line in lines
    ]
    assert not upward, "\n".join(upward)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles of ``graph`` (importer → imported), each as the path that closes it."""
    # Depth-first search; a node met again while still on the path closes a cycle.
    found: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for successor in sorted(graph.get(node, ())):
            if state.get(successor) == "open":
                found.append([*path[path.index(successor) :], successor])
            elif successor not in state:
                visit(successor, [*path, successor])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_groups_import_each_other_without_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for importer, imported in group_edges():
        graph.setdefault(importer, set()).add(imported)
    found = cycles(graph)
    assert not found, "\n".join(" -> ".join(cycle) for cycle in found)


def test_modules_import_each_other_without_cycles() -> None:
    """Inside a group too, two modules never need each other: the lower one declares a ``Protocol``."""
    modules = module_names()
    graph = {module: set(imported_modules(module, path, modules)) for module, path in modules.items()}
    found = cycles(graph)
    assert not found, "\n".join(" -> ".join(cycle) for cycle in found)
