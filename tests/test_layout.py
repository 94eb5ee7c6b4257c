"""The package layout: what packaging and the one-way rule need to stay true."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scraper"


def test_every_subpackage_is_packaged() -> None:
    """pyproject lists packages explicitly: a new subpackage left out would install
    without its modules and fail only on a user's machine."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found - listed == set()
    assert listed - found == {"scraper.selectors_data"}


def test_every_module_lives_in_a_package() -> None:
    stray = [p for p in PACKAGE.rglob("*.py") if not (p.parent / "__init__.py").exists()]
    assert stray == []


def test_no_module_shadows_the_standard_selectors() -> None:
    assert not list(PACKAGE.rglob("selectors.py"))
    assert not (ROOT / "selectors" / "__init__.py").exists()


def test_the_repository_selectors_are_found_from_the_package() -> None:
    from scraper.site.profile import default_selectors_dir, list_sites

    assert default_selectors_dir() == ROOT / "selectors"
    assert "youku-replica" in list_sites(None)
