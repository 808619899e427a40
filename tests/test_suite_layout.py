"""The suite's own layout: a test module shares code through helper modules (``helpers.py``,
``factories.py``, ``clock.py`` ...), never by importing another test module, whose tests
would then be collected twice and whose fixtures would leak into the importer."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def is_test_module(name: str) -> bool:
    return name.rsplit(".", 1)[-1].startswith("test_")


def test_no_test_module_imports_another() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.startswith("tests.") and is_test_module(name):
                    found.append(f"{path.relative_to(TESTS.parent)}:{node.lineno} imports {name}")
    assert not found, "move what is shared into a helpers module:\n" + "\n".join(found)
