"""Data flows one way, and so do imports: ingest ← detect ← dashboard. The simulated fleet
(`sandbox`) stands beside them: it may use ingest's low-level helpers, never detect or
dashboard, and the product imports it only where a surface runs the demo or the bench."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "ingest": {"detect", "dashboard", "sandbox"},
    "detect": {"dashboard", "sandbox"},
    "dashboard": {"sandbox"},
    "sandbox": {"detect", "dashboard"},
}
# The surfaces that run the simulated fleet: `tokensentry demo` and `tokensentry bench`.
MAY_IMPORT_SANDBOX = ("dashboard/demo/", "dashboard/bench/")
LONGEST_SANDBOX_MODULE = 400


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_downstream_only(package):
    offenders = {}
    for path in (REPO / package).rglob("*.py"):
        name = path.relative_to(REPO).as_posix()
        forbidden = FORBIDDEN[package]
        if name.startswith(MAY_IMPORT_SANDBOX):
            forbidden = forbidden - {"sandbox"}
        offenders[name] = sorted(imported_packages(path) & forbidden)
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_the_demo_and_the_bench_import_the_simulated_fleet():
    users = {
        path.relative_to(REPO).as_posix()
        for package in ("ingest", "detect", "dashboard")
        for path in (REPO / package).rglob("*.py")
        if "sandbox" in imported_packages(path)
    }
    assert users and all(name.startswith(MAY_IMPORT_SANDBOX) for name in users), users


def test_no_simulated_fleet_module_is_over_400_lines():
    long = {
        path.relative_to(REPO).as_posix(): lines
        for path in (REPO / "sandbox").rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > LONGEST_SANDBOX_MODULE
    }
    assert long == {}


def test_the_check_itself_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from detect.registry import all_detectors\nimport dashboard.queries\n")
    assert imported_packages(bad) & FORBIDDEN["ingest"] == {"detect", "dashboard"}


def test_only_the_command_line_imports_the_command_line():
    """The CLI is the composition root: the web app, demo, digest and bench take `Settings`
    from dashboard.settings and never import dashboard.cli (no import cycle through it)."""
    offenders = []
    for path in (REPO / "dashboard").rglob("*.py"):
        if "cli" in path.relative_to(REPO / "dashboard").parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                absolute = module.startswith("dashboard.cli") and node.level == 0
                relative = node.level > 0 and (module == "cli" or module.startswith("cli."))
                if absolute or relative:
                    offenders.append(str(path.relative_to(REPO)))
            elif isinstance(node, ast.Import) and any(
                a.name.startswith("dashboard.cli") for a in node.names
            ):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


MAX_LINES = 400
# Rewritten on another branch (import speed, issue 17); drop it from here when that lands.
LONG_FOR_NOW: set[str] = set()


def product_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the four packages (the simulated fleet
    in sandbox/ is held to the same rules as the product)."""
    modules = {}
    for package in FORBIDDEN:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def module_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The product modules `name` imports: `import a.b`, `from a import b` (b a module or a name
    in a), and relative forms. Imports inside functions count too: deferring an import hides a
    cycle from the interpreter, not from the design (both modules still need each other), so a
    function-local import that closes a cycle fails like a module-level one. Imports under
    `if TYPE_CHECKING:` do not count: they never run and serve annotations only."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()

    def owner(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    def visit(nodes) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.update(filter(None, (owner(alias.name) for alias in node.names)))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    stem = package[: len(package) - (node.level - 1)]
                    base = ".".join(stem + ([node.module] if node.module else []))
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    found.add(target if target in known else owner(base))
            visit(ast.iter_child_nodes(node))

    visit(ast.parse(path.read_text(), filename=str(path)).body)
    return found - {None, name}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return cycles


def test_product_modules_import_no_cycle():
    """A cycle means two modules are one idea split in two, or share a helper that belongs in a
    module below both: move the helper down rather than deferring the import."""
    modules = product_modules()
    graph = {name: module_imports(name, path, set(modules)) for name, path in modules.items()}
    assert import_cycles(graph) == []


def test_the_cycle_check_finds_a_deferred_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import helper\n")
    (pkg / "b.py").write_text("def helper():\n    from .a import x\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import y\n"
    )
    known = {"pkg", "pkg.a", "pkg.b", "pkg.c"}
    graph = {m: module_imports(m, pkg / f"{m.split('.')[-1]}.py", known) for m in known - {"pkg"}}
    assert graph["pkg.c"] == set()
    assert import_cycles(graph) == [["pkg.a", "pkg.b"]]


def test_no_product_module_is_over_400_lines():
    """A module over 400 lines holds more than one idea: split it by idea, not by line count."""
    long = {
        str(path.relative_to(REPO)): lines
        for path in product_modules().values()
        if path.relative_to(REPO).as_posix() not in LONG_FOR_NOW
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
