"""Every third-party error the package catches is translated into our error tree.

Like httpx's test of ``map_httpcore_exceptions``: a handler that catches a Playwright,
aiohttp, pymongo/motor, bson or sqlite3 exception must raise one of ours ``from`` it (or hand
one of ours on, e.g. to a future). Swallowing is allowed only through
``contextlib.suppress`` in clean-up code, which this test does not see.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import scraper.errors as errors

PACKAGE = Path(__file__).resolve().parent.parent / "scraper"
THIRD_PARTY = ("playwright", "aiohttp", "pymongo", "motor", "bson", "sqlite3")
OURS = set(errors.__all__)


def third_party_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in THIRD_PARTY:
            names.update(alias.asname or alias.name for alias in node.names)
        if isinstance(node, ast.Import):
            names.update(alias.asname or alias.name for alias in node.names
                         if alias.name.split(".")[0] in THIRD_PARTY)
    return names


def caught(handler: ast.ExceptHandler) -> list[str]:
    if handler.type is None:
        return []
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return [ast.unparse(t) for t in types]


def translates(handler: ast.ExceptHandler) -> bool:
    for node in ast.walk(ast.Module(body=handler.body, type_ignores=[])):
        if isinstance(node, ast.Raise) and node.exc is not None:
            return True
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func).split(".")[-1]
            if name in OURS:
                return True
    return False


def handlers() -> list[tuple[str, int, list[str], ast.ExceptHandler]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = ast.parse(source)
        ours = third_party_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler):
                names = [n for n in caught(node) if n.split(".")[0] in ours]
                if names and "# handled:" not in lines[node.lineno - 1]:
                    found.append((path.relative_to(PACKAGE).as_posix(), node.lineno, names, node))
    return found


def test_the_scan_finds_handlers() -> None:
    modules = {name for name, *_ in handlers()}
    assert {"browser/playwright_map.py", "store/mongo.py", "store/sqlite.py",
            "net/client.py"} <= modules


@pytest.mark.parametrize(("module", "line", "names", "handler"), handlers(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_third_party_error_is_mapped(
    module: str, line: int, names: list[str], handler: ast.ExceptHandler
) -> None:
    assert translates(handler), f"{module}:{line} catches {names} without raising ours"
