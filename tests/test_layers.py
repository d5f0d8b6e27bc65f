"""The package's layers: each subpackage imports only from the layers below it (and itself), and no module
imports, even for type checking only, a module that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

# lowest first; a package may import from its own layer's other packages only where listed as lower
LAYERS: list[set[str]] = [
    {"common", "__init__"},
    {"model", "authoring"},
    {"go", "shimgen"},
    {"statefiles", "link"},
    {"devloop", "external", "release", "terminal"},
    {"api"},
    {"web", "diagnose"},
    {"wiring"},
    {"cli"},
    {"__main__"},  # runs the command line
]
PACKAGE = REPO / "orchestrator"


def _module_name(file: Path) -> str:
    parts = file.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(file: Path) -> set[str]:
    """Every orchestrator module `file` imports, wherever the import is (functions, TYPE_CHECKING blocks)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("orchestrator"):
            for alias in node.names:  # `from orchestrator.api import auth` imports a module
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if _exists(candidate) else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("orchestrator"))
    return found


def _exists(module: str) -> bool:
    path = REPO.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    return {_module_name(f): _imports(f) for f in PACKAGE.rglob("*.py")}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def test_every_subpackage_has_a_layer() -> None:
    packages = {_package(m) for m in _graph()}
    assert packages <= set().union(*LAYERS), f"give these a layer in LAYERS: {sorted(packages - set().union(*LAYERS))}"


def _upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                  if _package(target) != _package(module) and _layer(_package(target)) >= _layer(_package(module)))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_packages_import_only_from_lower_layers() -> None:
    assert _upward(_graph()) == []


def test_common_imports_nothing_above_it() -> None:
    wrong = [line for line in _upward(_graph()) if line.startswith("orchestrator.common.")]
    assert wrong == []


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert _cycles(_graph()) == []


def test_the_checks_see_a_cycle_and_a_layer_broken() -> None:
    """The rules above fail on what they forbid: an upward import and a cycle planted in the real graph."""
    graph = _graph()
    graph["orchestrator.common.files"] = graph["orchestrator.common.files"] | {"orchestrator.link.setup"}
    assert "orchestrator.common.files imports orchestrator.link.setup" in _upward(graph)
    graph["orchestrator.api.handlers"] = graph["orchestrator.api.handlers"] | {"orchestrator.web.server"}
    assert ["orchestrator.api.handlers", "orchestrator.web.server", "orchestrator.api.handlers"] in _cycles(graph)
