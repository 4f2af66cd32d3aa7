"""Lower floors never import upper ones (docs/architecture.md): checked on every import statement, lazy ones too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# what each package may not import: the floors above it
FORBIDDEN = {
    "features": {"training", "explain", "serving", "monitor", "workflow", "churn", "demo"},
    "training": {"explain", "serving", "monitor", "workflow", "churn", "demo"},
    "explain": {"serving", "monitor", "workflow", "churn", "demo"},
    "monitor": {"serving", "workflow", "churn", "demo"},
    "serving": {"workflow", "churn", "demo"},
    "demo": {"training", "explain", "serving", "monitor", "workflow", "churn"},
    "settings": {"features", "explain", "serving", "monitor", "workflow", "churn"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_nothing_from_the_floors_above_it(package):
    offenders = {
        f"{path.relative_to(ROOT)} imports {', '.join(sorted(_imported_packages(path) & FORBIDDEN[package]))}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if _imported_packages(path) & FORBIDDEN[package]
    }
    assert offenders == set()
