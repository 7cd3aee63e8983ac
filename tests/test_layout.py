"""The layout stays as docs/decisions/0024-package-layout.md describes it.

import-linter (``lint-imports``) keeps the layers and forbids cycles; these check what it
cannot: the package front doors, module sizes, and that tests share code only through
``tests/support``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["ledger", "api", "projections"]
MAX_MODULE_LINES = 400
"""The aim is ~350; past 400 a module is doing two jobs and should be split."""


def _modules(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (ROOT / top).rglob("*.py"))


def _packages() -> list[Path]:
    return [p for p in _modules(*PACKAGES) if p.name == "__init__.py"]


@pytest.mark.parametrize("init", _packages(), ids=lambda p: str(p.parent.relative_to(ROOT)))
def test_every_package_says_its_job_and_exports_its_names(init: Path) -> None:
    tree = ast.parse(init.read_text())
    assert ast.get_docstring(tree), f"{init} has no docstring saying the package's job"
    names = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    assert "__all__" in names, f"{init} does not declare __all__"


def test_no_module_is_over_the_size_limit() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules(*PACKAGES)
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}


def test_test_modules_share_code_only_through_tests_support() -> None:
    offenders = []
    for path in _modules("tests"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                last = node.module.rsplit(".", 1)[-1]
                if node.module.startswith("tests.") and last.startswith("test_"):
                    offenders.append(f"{path.relative_to(ROOT)} imports {node.module}")
    assert offenders == []
