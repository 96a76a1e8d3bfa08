"""The dependency rule of DESIGN.md: `worker` never imports `alerts`; only entry points reach both."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"), [("worker", ("alerts", "tocsin")), ("alerts", ("tocsin",))]
)
def test_package_does_not_import_forbidden_layers(package: str, forbidden: tuple[str, ...]) -> None:
    """No module of `package` imports the layers above it (even lazily, inside a function)."""
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] in forbidden:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
