"""The test suite's own layout: shared helpers live in helper modules (factories.py,
csvdata.py, the *_api.py modules, conftest.py...), so no test module imports another."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _is_test_module(dotted: str) -> bool:
    return dotted.rsplit(".", 1)[-1].startswith("test_")


def imported_test_modules(source: str) -> list[str]:
    """The `test_*` modules a module's source imports, in any spelling: `import
    tests.test_x`, `from tests.test_x import y`, `from tests import test_x`, `from .test_x
    import y`, `from . import test_x`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if _is_test_module(module):
                found.append(module)
            elif module in ("tests", ""):
                found += [alias.name for alias in node.names if _is_test_module(alias.name)]
    return found


def test_no_test_module_imports_another() -> None:
    # The check itself sees every spelling
    spellings = (
        "import tests.test_a\nfrom tests.test_b import x\nfrom tests import test_c, factories\n"
        "from .test_d import y\nfrom . import test_e\ndef f():\n    from tests.test_f import z\n"
    )
    assert imported_test_modules(spellings) == [
        "tests.test_a",
        "tests.test_b",
        "test_c",
        "test_d",
        "test_e",
        "tests.test_f",
    ]
    assert imported_test_modules("from tests.factories import Api\nimport tests.csvdata\n") == []
    # No test module imports another: shared helpers and fixtures live elsewhere
    offenders = {
        path.name: imported
        for path in sorted(TESTS.glob("test_*.py"))
        if (imported := imported_test_modules(path.read_text()))
    }
    assert offenders == {}
