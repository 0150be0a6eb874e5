"""Data flows one way, and so do imports: ingest ← detect ← dashboard."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FORBIDDEN = {"ingest": {"detect", "dashboard"}, "detect": {"dashboard"}, "dashboard": set()}


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
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (REPO / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


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
