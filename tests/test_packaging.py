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
# Where each part of the one import name lives in the repository.
FOLDERS = {
    "otelite": "otelite",
    "otelite.proto": "proto",
    "otelite.collector": "collector",
    "otelite.api": "api",
    "otelite.store": "store",
}


def test_pyproject_maps_each_part_of_otelite_to_its_folder():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == FOLDERS
    # Every package under those folders is listed (a missing one would not be shipped).
    found = {
        ".".join([name, *path.parent.relative_to(ROOT / folder).parts])
        for name, folder in FOLDERS.items()
        for path in (ROOT / folder).rglob("__init__.py")
    }
    assert sorted(setuptools["packages"]) == sorted(found)


def test_the_wheel_has_every_module_and_static_file(tmp_path: Path):
    # Build from a clean copy: setuptools reuses a build/ directory, whose leftovers
    # from an earlier build would hide a package the configuration misses.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__", "*.db*")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("otelite-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "/".join([*name.split("."), path.relative_to(ROOT / folder).as_posix()])
        for name, folder in FOLDERS.items()
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and (path.suffix == ".py" or "static" in path.parts)
    }
    assert expected - shipped == set()
    # One import name: nothing at the top of site-packages but otelite and its metadata.
    assert {name.split("/")[0] for name in shipped} == {"otelite", "otelite-0.1.0.dist-info"}
