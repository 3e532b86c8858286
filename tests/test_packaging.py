"""The wheel a user installs (`pip install .`) carries every module and the page's files.

Editable installs (the test setup) see the source tree, so only a real wheel shows a
subpackage missing from the build configuration.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("otelite", "proto", "collector", "api", "store")


def test_pyproject_ships_exactly_these_packages():
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    assert sorted(include) == sorted([*PACKAGES, *(f"{p}.*" for p in PACKAGES)])


def test_the_wheel_has_every_module_and_static_file(tmp_path: Path):
    # Build from a clean copy: setuptools reuses a build/ directory, whose leftovers
    # from an earlier build would hide a package the configuration misses.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__", "*.db*"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("otelite-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and (path.suffix == ".py" or "static" in path.parts)
    }
    assert expected - shipped == set()
    assert not any(name.startswith(("tests/", "bench/", "fuzz/", "docs/")) for name in shipped)
